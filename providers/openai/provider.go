package openai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	openaisdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"go.opentelemetry.io/otel/propagation"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// Provider is the OpenAI ProviderService. It is safe for concurrent use.
type Provider struct {
	providerv1.UnimplementedProviderServiceServer

	// endpoint is the chat completions request as the SDK builds it:
	// conns send it, its head encoded once, or else doer sends copies of
	// it (with the endpoint's header map itself when sharedHeader);
	// errors reads an error status into *openai.Error (see post).
	endpoint     endpoint
	sharedHeader bool
	doer         doer
	errors       openaisdk.Client
	propagator   propagation.TextMapPropagator
	maxResponse  int64
	model        string
	mode         OutputMode
	tokenLimit   TokenLimit
	timeout      time.Duration
	maxTokens    uint32
	now          func() time.Time
	targets      *targets
	// conns are the provider's own connections to a cleartext upstream,
	// and transport its own net/http transport to any other, each closed
	// by Close; both are nil when the caller supplied the HTTP client.
	conns     *conns
	transport *http.Transport
}

var _ providerv1.ProviderServiceServer = (*Provider)(nil)

// New returns a Provider for opts. It does not contact the upstream. Its
// length is option checks followed by the client's construction, each a
// few lines, in the order Options lists them.
func New(opts Options) (*Provider, error) {
	base := opts.BaseURL
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("openai: base URL %q is not an http(s) URL", base)
	}
	switch opts.Mode {
	case ModeJSONSchema, ModeJSONObject, ModePrompt, ModeTools:
	default:
		return nil, fmt.Errorf("openai: unknown output mode %d", opts.Mode)
	}
	switch opts.TokenLimit {
	case TokenLimitMaxCompletionTokens, TokenLimitMaxTokens, TokenLimitBoth:
	default:
		return nil, fmt.Errorf("openai: unknown token limit field %d", opts.TokenLimit)
	}
	if opts.Timeout < 0 {
		return nil, errors.New("openai: negative timeout")
	}
	if opts.MaxResponseBytes <= 0 {
		return nil, fmt.Errorf("openai: the response size limit must be positive, got %d", opts.MaxResponseBytes)
	}
	if opts.Model == "" {
		return nil, errors.New("openai: no model")
	}
	p := &Provider{
		model:       opts.Model,
		mode:        opts.Mode,
		tokenLimit:  opts.TokenLimit,
		timeout:     opts.Timeout,
		maxTokens:   opts.MaxOutputTokens,
		now:         opts.Now,
		targets:     newTargets(opts.Mode),
		propagator:  opts.Propagator,
		maxResponse: opts.MaxResponseBytes,
	}
	if p.now == nil {
		p.now = time.Now
	}
	// The SDK is configured by explicit options only: openai.NewClient
	// would also read OPENAI_* variables behind the caller's back.
	// guardgen's client interceptors retry; the SDK retrying too would
	// multiply attempts and hide them from the retry budget.
	sdkOpts := []option.RequestOption{option.WithBaseURL(base), option.WithMaxRetries(0)}
	p.errors = openaisdk.Client{Options: sdkOpts}
	if opts.APIKey != "" {
		sdkOpts = append(sdkOpts, option.WithAPIKey(opts.APIKey))
	}
	if opts.Organization != "" {
		sdkOpts = append(sdkOpts, option.WithOrganization(opts.Organization))
	}
	if opts.Project != "" {
		sdkOpts = append(sdkOpts, option.WithProject(opts.Project))
	}
	if p.endpoint, err = learnEndpoint(sdkOpts); err != nil {
		return nil, err
	}
	if err := p.connect(u, opts); err != nil {
		return nil, err
	}
	return p, nil
}

// connect chooses how the provider reaches the upstream at u: the
// caller's HTTP client when Options has one, else the provider's own
// connections for a cleartext upstream (see conns), else a transport of
// its own.
func (p *Provider) connect(u *url.URL, opts Options) error {
	maxIdle := opts.MaxIdleConns
	if maxIdle <= 0 {
		maxIdle = DefaultMaxIdleConns
	}
	if opts.HTTPClient != nil {
		p.doer = stayAt(u, opts.HTTPClient)
		return nil
	}
	conns, err := newConns(p.endpoint, maxIdle)
	if err != nil {
		return err
	}
	if conns != nil {
		p.conns = conns
		return nil
	}
	p.useTransport(u, opts, maxIdle)
	return nil
}

// useTransport has the provider make its requests with its own clone of
// net/http's transport: for an upstream its own connections do not serve.
func (p *Provider) useTransport(u *url.URL, opts Options, maxIdle int) {
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		p.transport = t.Clone()
		// Go keeps 2 idle connections per host by default: under
		// concurrent load almost every call would dial anew (measured
		// in bench/: dialing was 12 % of CPU). The one upstream host
		// gets them all.
		p.transport.MaxIdleConns = maxIdle
		p.transport.MaxIdleConnsPerHost = maxIdle
		// Each HTTP/1 connection keeps its read and write buffers for
		// as long as it lives, 4 KiB each by default: with thousands
		// of calls in flight that is tens of MiB (at 10,000 held calls
		// the two were 57 MB of a 222 MB live heap) for answers and
		// requests usually smaller than half of it. A longer answer
		// takes more reads, not more memory; a request longer than
		// the write buffer, headers included, goes out in two writes,
		// the second straight from the body.
		p.transport.ReadBufferSize = readBufferSize
		p.transport.WriteBufferSize = writeBufferSize
		if opts.TLS != nil {
			// Setting TLSClientConfig keeps HTTP/2: the clone
			// keeps ForceAttemptHTTP2.
			p.transport.TLSClientConfig = opts.TLS.Clone()
		}
		// The transport is called directly, not through an http.Client:
		// nothing here needs the client's cookies, timeout or redirects
		// (a redirect is an unreadable answer), and the client copied
		// every request's headers for them and added its frames to every
		// call's stack.
		p.doer = &roundTripper{p.transport}
		// net/http's transport only reads a request's headers, so
		// calls can share the endpoint's (see copyOnSet); a caller's
		// http.Client may not (a cookie jar adds to them).
		p.sharedHeader = true
	} else {
		// http.DefaultTransport was replaced by one of another type.
		p.doer = stayAt(u, &http.Client{})
	}
}

// Close releases the idle connections of the provider's own HTTP transport
// or connections; a caller-supplied client is left alone.
func (p *Provider) Close() error {
	if p.conns != nil {
		p.conns.close()
	}
	if p.transport != nil {
		p.transport.CloseIdleConnections()
	}
	return nil
}

// roundTripper makes each request with one round trip of its transport.
// Its errors are *url.Error, as http.Client's are: the fault mapping reads
// any failure to reach the upstream (a refused certificate among them)
// as one.
type roundTripper struct{ t http.RoundTripper }

func (r *roundTripper) Do(req *http.Request) (*http.Response, error) {
	resp, err := r.t.RoundTrip(req)
	if err != nil {
		return nil, roundTripError(req, err)
	}
	return resp, nil
}

// roundTripError is err as http.Client returns it.
func roundTripError(req *http.Request, err error) error {
	op := "Get" // net/http's reading of an empty method
	if m := req.Method; m != "" {
		op = m[:1] + strings.ToLower(m[1:])
	}
	return &url.Error{Op: op, URL: req.URL.Redacted(), Err: err}
}

// readBufferSize and writeBufferSize are the sizes of each upstream
// connection's buffers.
const (
	readBufferSize  = 2 << 10
	writeBufferSize = 2 << 10
)

// chatPath is the chat completions endpoint, relative to the base URL.
const chatPath = "chat/completions"

// errUpstreamTimeout is the cause of a context ended by Options.Timeout.
var errUpstreamTimeout = errors.New("openai: upstream timeout")

// callContext is ctx under Options.Timeout, with errUpstreamTimeout as the
// cause when that ends it. When ctx's own deadline comes first the timeout
// could never fire, and ctx serves as it is: a context, a timer and an
// entry in the parent's children fewer on every call.
func (p *Provider) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); p.timeout <= 0 || ok && dl.Before(time.Now().Add(p.timeout)) {
		return ctx, func() {}
	}
	return context.WithTimeoutCause(ctx, p.timeout, errUpstreamTimeout)
}

// Complete sends one chat completion request (never more, SDK retries
// being off, but for one case: when the upstream rejects the strict schema
// itself, the request is sent once more without strict mode, and the
// answer's Constraint says so) and maps the answer, or the failure, per
// the provider contract.
func (p *Provider) Complete(ctx context.Context, req *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
	out, err := p.request(req, true)
	if err != nil {
		return nil, err
	}
	completion, err := p.send(ctx, out.body)
	if err != nil && out.constraint.GetStrict() && isSchemaRejection(err) {
		return p.completeLoose(ctx, req, out.target)
	}
	if err != nil {
		return nil, err
	}
	return p.response(completion, out)
}

// completeLoose is Complete once the upstream rejected the strict schema
// of rejected: the request sent again without strict mode, its answer's
// Constraint saying so. A call of its own, out of the frame under every
// call's wait.
func (p *Provider) completeLoose(ctx context.Context, req *providerv1.CompleteRequest, rejected *target) (*providerv1.CompleteResponse, error) {
	rejected.reject()
	out, err := p.request(req, false)
	if err != nil {
		return nil, err
	}
	out.constraint.StrictRejected = true
	completion, err := p.send(ctx, out.body)
	if err != nil {
		return nil, err
	}
	return p.response(completion, out)
}

// errNotJSON is the SDK's verdict on a 2xx answer that is not JSON; the
// answer is unreadable.
var errNotJSON = errors.New("openai: upstream answered with a body that is not JSON")

// send makes one upstream request under the provider's timeout and
// decodes its 2xx answer; an error status is *openai.Error (see post).
func (p *Provider) send(ctx context.Context, body []byte) (*completion, error) {
	callCtx, cancel := p.callContext(ctx)
	defer cancel()
	httpResp, err := p.post(callCtx, body)
	var c *completion
	if err == nil {
		c, err = readCompletion(httpResp)
	}
	if err != nil {
		return nil, p.fault(ctx, callCtx, httpResp, err)
	}
	return c, nil
}
