package openai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	openaisdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"go.opentelemetry.io/otel/propagation"
)

// endpoint is the chat completions request as openai-go sends it for the
// provider's options: its URL, resolved against the base URL, and its
// headers (authentication, organization and project, content type, the
// SDK's own). The SDK builds it once, in New (see learnEndpoint); every
// call sends it, its headers shared until a call adds one (copyOnSet).
// Building it per call — the SDK's request configuration, its default and
// platform header maps, the URL resolved anew, the request cloned for a
// retry loop that never retries — was half of the provider's CPU on the
// caller's goroutine, and its deepest frame set the size of every call's
// stack. TestCompletionMatchesSDK compares what reaches the
// upstream (URL, headers, body) with what the SDK sends on its own.
type endpoint struct {
	url    string
	header http.Header
}

// doer makes one HTTP request: the provider's own round trip, or the
// caller's *http.Client.
type doer interface {
	Do(*http.Request) (*http.Response, error)
}

type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// errLearnt ends the SDK's request in learnEndpoint once it is built.
var errLearnt = errors.New("openai: request learnt")

// learnEndpoint has the SDK, configured by opts, build one chat completions
// request, and keeps what it would send.
func learnEndpoint(opts []option.RequestOption) (endpoint, error) {
	var built *http.Request
	learn := doerFunc(func(r *http.Request) (*http.Response, error) {
		built = r
		return nil, errLearnt
	})
	client := openaisdk.Client{Options: opts}
	err := client.Post(context.Background(), chatPath, []byte("{}"), nil, option.WithHTTPClient(learn))
	if built == nil {
		return endpoint{}, fmt.Errorf("openai: building a request: %w", err)
	}
	return endpoint{url: built.URL.String(), header: built.Header.Clone()}, nil
}

// post sends body to the chat completions endpoint, with the trace context
// when there is a propagator, and returns the answer: a 2xx one open, its
// body read through the size limit; an error status as *openai.Error,
// built by the SDK (see apiError), with the response for its headers; any
// other failure as the SDK would return it (the context's error once the
// context has ended, else the round trip's). Its frame is on the stack
// while the upstream is waited for, so the request is built in
// newRequest and the answer read in answer.
func (p *Provider) post(ctx context.Context, body []byte) (*http.Response, error) {
	var (
		resp *http.Response
		err  error
	)
	if p.conns != nil {
		resp, err = p.conns.post(ctx, body, p.propagator)
	} else {
		resp, err = p.do(ctx, body)
	}
	return p.answer(ctx, body, resp, err)
}

// do makes the request that posts body with the doer.
func (p *Provider) do(ctx context.Context, body []byte) (*http.Response, error) {
	req, err := p.newRequest(ctx, body)
	if err != nil {
		return nil, err
	}
	return p.doer.Do(req)
}

// newRequest is the request that posts body: the endpoint's URL and
// headers, and the trace context.
func (p *Provider) newRequest(ctx context.Context, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = p.endpoint.header
	if !p.sharedHeader {
		req.Header = req.Header.Clone()
	}
	if p.propagator != nil {
		p.propagator.Inject(ctx, &copyOnSet{req: req, copied: !p.sharedHeader})
	}
	return req, nil
}

// copyOnSet is the propagation carrier of a request whose headers are the
// endpoint's own, shared by every call: the first header a propagator sets
// gives the request a copy of its own. Without a trace context or baggage
// to send, nothing is set, and a call makes no copy (a map and its values,
// about 0.8 KB, for each call in flight).
type copyOnSet struct {
	req    *http.Request
	copied bool // the request's headers are its own already
}

func (c *copyOnSet) Get(key string) string { return c.req.Header.Get(key) }

func (c *copyOnSet) Keys() []string { return propagation.HeaderCarrier(c.req.Header).Keys() }

func (c *copyOnSet) Set(key, value string) {
	if !c.copied {
		c.req.Header = c.req.Header.Clone()
		c.copied = true
	}
	c.req.Header.Set(key, value)
}

// answer is post's result for the round trip's resp and err.
func (p *Provider) answer(ctx context.Context, body []byte, resp *http.Response, err error) (*http.Response, error) {
	if ctx.Err() != nil {
		if resp != nil {
			_ = resp.Body.Close()
		}
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	if resp, err = limitBody(resp, p.maxResponse); err != nil {
		return nil, err
	}
	if resp.StatusCode >= http.StatusBadRequest {
		return resp, p.apiError(ctx, body, resp)
	}
	return resp, nil
}

// apiError is the SDK's reading of an error status: resp, already
// received, is handed to the SDK's request pipeline as its round trip's
// answer, so that *openai.Error comes out exactly as when the SDK makes
// the call (the body read whole, through the size limit, and its "error"
// object decoded). Only failed calls pay for the pipeline.
func (p *Provider) apiError(ctx context.Context, body []byte, resp *http.Response) error {
	answered := doerFunc(func(*http.Request) (*http.Response, error) { return resp, nil })
	err := p.errors.Post(ctx, chatPath, body, nil, option.WithHTTPClient(answered))
	if err == nil {
		// The SDK reads every status of 400 and above as an error.
		return fmt.Errorf("openai: upstream answered with status %d", resp.StatusCode)
	}
	return err
}

// stayAt is a copy of client that follows no redirect away from origin.
func stayAt(origin *url.URL, client *http.Client) *http.Client {
	c := *client
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = sameOrigin{origin: origin, next: next}
	return &c
}

// errOtherOrigin refuses a redirect away from the base URL's origin.
var errOtherOrigin = errors.New("openai: the request URL's origin is not the base URL's")

// sameOrigin is a caller's transport that carries only requests to the
// base URL's origin (scheme, host, effective port), as the SDK's own
// pipeline did: a caller's *http.Client follows redirects, and one to
// another origin would take the prompt, and the credentials, elsewhere.
type sameOrigin struct {
	origin *url.URL
	next   http.RoundTripper
}

func (s sameOrigin) RoundTrip(req *http.Request) (*http.Response, error) {
	if u := req.URL; !strings.EqualFold(u.Scheme, s.origin.Scheme) ||
		!strings.EqualFold(u.Hostname(), s.origin.Hostname()) || effectivePort(u) != effectivePort(s.origin) {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, errOtherOrigin
	}
	return s.next.RoundTrip(req)
}

// effectivePort is u's port, or its scheme's default.
func effectivePort(u *url.URL) string {
	if port := u.Port(); port != "" {
		return port
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}
