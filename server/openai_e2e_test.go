package server_test

// End-to-end tests of the provider path with nothing mocked: a gRPC client
// calls a real guardgen server on loopback, whose route entries are the
// openai provider (openai-go, SDK retries off) behind the real client
// interceptor chain (pushback, go-grpc-middleware retry, breaker, budget),
// talking real HTTP to openaitest servers that script the upstream.

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sony/gobreaker/v2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/guardgen/guardgen/app/apptest"
	"github.com/guardgen/guardgen/classifier"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/providers/openai"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
	"github.com/guardgen/guardgen/providers/openai/strictcheck"
	"github.com/guardgen/guardgen/schema"
	"github.com/guardgen/guardgen/server"
)

const (
	ticketType = "guardgen.examples.v1.TicketClassification"
	// validTicket passes TicketClassification's rules.
	validTicket  = `{"category":"billing","priority":3,"summary":"Customer was charged twice this month."}`
	ticketPrompt = "The checkout page double-charged me, please refund"
)

// upstream is one route entry: an openaitest server and the chain in front
// of the openai provider that calls it.
type upstream struct {
	srv   *openaitest.Server
	chain *providers.Chain
}

// e2eEntry configures one route entry.
type e2eEntry struct {
	chain providers.ChainOptions // Provider names the entry
	// Model and MaxOutputTokens are the RouteEntry's.
	Model           string
	MaxOutputTokens uint32
}

// e2e is a guardgen server whose default route is entries, in order.
type e2e struct {
	gen guardgenv1.GenerationServiceClient
	up  []*upstream
}

// startOpenAI starts guardgen with one route whose entries are the openai
// provider, each against an openaitest server of its own; set changes the
// server options as in start.
func startOpenAI(t *testing.T, set func(*server.Options), entries ...e2eEntry) *e2e {
	t.Helper()
	h := &e2e{}
	route := server.Route{Name: "default"}
	for _, e := range entries {
		srv := openaitest.New()
		t.Cleanup(srv.Close)
		p, err := openai.New(openai.Options{BaseURL: srv.URL(), APIKey: "sk-test-not-a-secret", Model: "gpt-4o-mini", MaxResponseBytes: 4 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		chain, err := providers.NewChain(e.chain)
		if err != nil {
			t.Fatal(err)
		}
		route.Entries = append(route.Entries, server.RouteEntry{
			Provider:        e.chain.Provider,
			Client:          providerv1.NewProviderServiceClient(chain.InProcess(p)),
			Model:           e.Model,
			MaxOutputTokens: e.MaxOutputTokens,
		})
		h.up = append(h.up, &upstream{srv: srv, chain: chain})
	}
	// Cleanups run last-in first-out: the client and the server stop
	// before the providers and the upstream servers close.
	h.gen = start(t, harnessOptions{routes: []server.Route{route}, set: set}).gen
	return h
}

// quickChain is a chain with millisecond backoff, so that tests of
// anything but the waits themselves do not sleep for seconds; its
// MaxDelay, the default's, lets RetryInfo hints be waited for.
func quickChain(name string) providers.ChainOptions {
	opts := apptest.ChainOptions(name)
	opts.Policy.BaseDelay, opts.Policy.Jitter = time.Millisecond, 0
	return opts
}

func ticketRequest() *guardgenv1.GenerateRequest {
	return &guardgenv1.GenerateRequest{Prompt: ticketPrompt, TargetType: ticketType}
}

func (h *e2e) generate(t *testing.T, timeout time.Duration, req *guardgenv1.GenerateRequest) (*guardgenv1.GenerateResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	return h.gen.Generate(ctx, req)
}

// details returns the FailureDetail and RetryInfo in err's status; either
// may be nil.
func details(err error) (*guardgenv1.FailureDetail, *errdetails.RetryInfo) {
	var (
		fd *guardgenv1.FailureDetail
		ri *errdetails.RetryInfo
	)
	for _, d := range status.Convert(err).Details() {
		switch d := d.(type) {
		case *guardgenv1.FailureDetail:
			fd = d
		case *errdetails.RetryInfo:
			ri = d
		}
	}
	return fd, ri
}

// failure is the part of a failed call's status the tests compare.
type failure struct {
	Code   codes.Code
	Reason string
	Domain guardgenv1.FailureDomain
	Action guardgenv1.RecoveryAction
	Calls  int32
}

func failureFrom(t *testing.T, err error) failure {
	t.Helper()
	fd, _ := details(err)
	if fd == nil {
		t.Fatalf("status %v has no FailureDetail", err)
	}
	return failure{status.Code(err), classifier.ReasonName(fd.GetReason()), fd.GetDomain(), fd.GetAction(), fd.GetAttempts()}
}

// TestOpenAIRetryAfter: a 429 with Retry-After: 1 is retried no sooner
// than one second later, and the retry's 200 answers the call.
func TestOpenAIRetryAfter(t *testing.T) {
	t.Parallel()
	h := startOpenAI(t, nil, e2eEntry{chain: quickChain("openai")})
	up := h.up[0].srv
	up.Enqueue(openaitest.RateLimited("1"), openaitest.Reply(validTicket))
	resp, err := h.generate(t, 10*time.Second, ticketRequest())
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if resp.GetDegraded() {
		t.Errorf("degraded answer: %v", resp.GetDegradation())
	}
	reqs := up.Requests()
	if len(reqs) != 2 {
		t.Fatalf("upstream requests = %d, want 2 (SDK retries are off)", len(reqs))
	}
	if gap := reqs[1].Time.Sub(reqs[0].Time); gap < time.Second {
		t.Errorf("retry arrived %v after the 429, want ≥ 1s (Retry-After)", gap)
	}
	attempts := resp.GetReport().GetAttempts()
	if len(attempts) != 2 || classifier.ReasonName(attempts[0].GetFailure().GetReason()) != "RATE_LIMITED" || attempts[1].GetFailure() != nil {
		t.Errorf("report attempts = %v, want RATE_LIMITED then success", attempts)
	}
}

// TestOpenAIRetriesExhausted: a 503 on every call is retried exactly
// MaxAttempts-1 times, after jittered exponential waits computed with an
// injected clock and random source, then fails UNAVAILABLE with
// INFRASTRUCTURE / ALERT_AND_DEGRADE.
func TestOpenAIRetriesExhausted(t *testing.T) {
	t.Parallel()
	const (
		maxAttempts = 3
		base        = 20 * time.Millisecond
		jitter      = 0.3
	)
	randoms := []float64{0.5, 0.875}
	var (
		mu    sync.Mutex
		waits []time.Duration
		draws atomic.Int32
	)
	frozen := time.Now() // an injected clock: only its agreement with the caller's deadline matters
	opts := quickChain("openai")
	opts.Policy = providers.Policy{MaxAttempts: maxAttempts, BaseDelay: base, MaxDelay: time.Second, Jitter: jitter}
	opts.Now = func() time.Time { return frozen }
	opts.Rand = func() float64 { return randoms[int(draws.Add(1)-1)%len(randoms)] }
	opts.OnWait = func(retry uint, wait time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if int(retry) != len(waits)+1 {
			t.Errorf("OnWait(%d) after %d waits", retry, len(waits))
		}
		waits = append(waits, wait)
	}
	h := startOpenAI(t, nil, e2eEntry{chain: opts})
	up := h.up[0].srv
	up.SetDefault(openaitest.ServerError(503))
	_, err := h.generate(t, 10*time.Second, ticketRequest())
	want := failure{codes.Unavailable, "RETRIES_EXHAUSTED", guardgenv1.FailureDomain_FAILURE_DOMAIN_INFRASTRUCTURE, guardgenv1.RecoveryAction_RECOVERY_ACTION_ALERT_AND_DEGRADE, maxAttempts}
	if diff := cmp.Diff(want, failureFrom(t, err)); diff != "" {
		t.Errorf("failure (-want +got):\n%s", diff)
	}
	reqs := up.Requests()
	if len(reqs) != maxAttempts {
		t.Fatalf("upstream requests = %d, want %d", len(reqs), maxAttempts)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(waits) != maxAttempts-1 {
		t.Fatalf("waits = %v, want %d", waits, maxAttempts-1)
	}
	for i, got := range waits {
		backoff := base << i // base·2^(n-1) for retry n = i+1
		// base·2^(n-1)·(1+jitter·r) for the injected r; float rounding
		// may cost a nanosecond.
		want := time.Duration(float64(backoff) * (1 + jitter*randoms[i]))
		if d := got - want; d < -1 || d > 1 {
			t.Errorf("wait %d = %v, want %v", i+1, got, want)
		}
		if got < backoff || float64(got) > float64(backoff)*(1+jitter) {
			t.Errorf("wait %d = %v outside [%v, %v]", i+1, got, backoff, time.Duration(float64(backoff)*(1+jitter)))
		}
		// The real timer slept at least the computed wait.
		if gap := reqs[i+1].Time.Sub(reqs[i].Time); gap < got {
			t.Errorf("request %d arrived %v after the previous, before its wait of %v", i+2, gap, got)
		}
	}
}

// TestOpenAIRetryAfterPastDeadline: when Retry-After would outlast the
// caller's deadline, guardgen fails at once, handing the hint on as
// RetryInfo, and sends nothing more upstream.
func TestOpenAIRetryAfterPastDeadline(t *testing.T) {
	t.Parallel()
	h := startOpenAI(t, nil, e2eEntry{chain: quickChain("openai")})
	up := h.up[0].srv
	up.Enqueue(openaitest.RateLimited("10"), openaitest.Reply(validTicket))
	const deadline = 3 * time.Second
	start := time.Now()
	_, err := h.generate(t, deadline, ticketRequest())
	elapsed := time.Since(start)
	if elapsed > deadline/2 {
		t.Errorf("failed after %v, want at once (deadline %v)", elapsed, deadline)
	}
	fd, ri := details(err)
	if status.Code(err) != codes.ResourceExhausted || fd.GetDomain() != guardgenv1.FailureDomain_FAILURE_DOMAIN_INFRASTRUCTURE ||
		fd.GetMetadata()["retry_stopped"] != "deadline" {
		t.Errorf("status = %v, detail %v; want RESOURCE_EXHAUSTED, INFRASTRUCTURE, stopped by the deadline", err, fd)
	}
	if got := ri.GetRetryDelay().AsDuration(); got != 10*time.Second {
		t.Errorf("RetryInfo delay = %v, want 10s", got)
	}
	if n := up.Count(); n != 1 {
		t.Errorf("upstream requests = %d, want 1", n)
	}
}

// TestOpenAIHangHitsDeadline: an upstream that would take 10 s ends the
// call at the caller's 2 s deadline, the upstream HTTP request is
// cancelled, and the caller's deadline does not count against the
// provider's breaker.
func TestOpenAIHangHitsDeadline(t *testing.T) {
	t.Parallel()
	h := startOpenAI(t, nil, e2eEntry{chain: quickChain("openai")})
	up := h.up[0].srv
	up.Enqueue(openaitest.Step{Delay: 10 * time.Second, Content: validTicket})
	const (
		deadline = 2 * time.Second
		slack    = 100 * time.Millisecond
	)
	start := time.Now()
	_, err := h.generate(t, deadline, ticketRequest())
	elapsed := time.Since(start)
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("code = %v (%v), want DeadlineExceeded", status.Code(err), err)
	}
	if elapsed > deadline+slack {
		t.Errorf("answered after %v, want ≤ %v", elapsed, deadline+slack)
	}
	// Whether the server's status or the client's own timer ended the
	// call, the server must have let go of the upstream request too.
	wait, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	r, err := up.Wait(wait, 0)
	released := time.Since(start)
	if err != nil || !r.Cancelled {
		t.Fatalf("upstream request = cancelled %v, %v; want cancelled", r.Cancelled, err)
	}
	if released > deadline+slack {
		t.Errorf("upstream request released after %v, want ≤ %v", released, deadline+slack)
	}
	if n := up.Count(); n != 1 {
		t.Errorf("upstream requests = %d, want 1", n)
	}
	if c := h.up[0].chain.BreakerCounts(); c.TotalFailures != 0 {
		t.Errorf("breaker counted %d failures for the caller's deadline", c.TotalFailures)
	}
}

// TestOpenAIInputFailuresAreFinal: content filters, refusals and an
// over-long prompt are the request's fault: one upstream request, no
// retry, and never the route's fallback entry.
func TestOpenAIInputFailuresAreFinal(t *testing.T) {
	t.Parallel()
	input := guardgenv1.FailureDomain_FAILURE_DOMAIN_INPUT_CONSTRAINT
	reject := guardgenv1.RecoveryAction_RECOVERY_ACTION_REJECT_AND_FIX
	tests := []struct {
		name string
		step openaitest.Step
		want failure
	}{
		{"content_filter finish reason", openaitest.ContentFiltered(), failure{codes.FailedPrecondition, "CONTENT_FILTER", input, reject, 1}},
		{"refusal", openaitest.Refusal("I can't help with that."), failure{codes.FailedPrecondition, "REFUSAL", input, reject, 1}},
		{"content policy 400", openaitest.ContentPolicyViolation(), failure{codes.FailedPrecondition, "CONTENT_FILTER", input, reject, 1}},
		{"context_length_exceeded", openaitest.ContextLengthExceeded(), failure{codes.InvalidArgument, "CONTEXT_LENGTH_EXCEEDED", input, reject, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := startOpenAI(t, nil, e2eEntry{chain: quickChain("primary")}, e2eEntry{chain: quickChain("fallback")})
			h.up[0].srv.Enqueue(tt.step)
			h.up[1].srv.SetDefault(openaitest.Reply(validTicket))
			_, err := h.generate(t, 10*time.Second, ticketRequest())
			if diff := cmp.Diff(tt.want, failureFrom(t, err)); diff != "" {
				t.Errorf("failure (-want +got):\n%s", diff)
			}
			if n, m := h.up[0].srv.Count(), h.up[1].srv.Count(); n != 1 || m != 0 {
				t.Errorf("upstream requests: primary %d, fallback %d; want 1 and 0", n, m)
			}
		})
	}
}

// TestOpenAISustainedOutage: 200 requests against a primary that answers
// 503 to everything. The retry budget, then the breaker, keep the primary's
// load near one attempt per request; the fallback entry answers every
// request, degraded; after OpenFor the breaker lets exactly one probe
// through, even with concurrent callers, and a good probe closes it.
//
// gobreaker has no injectable clock, so its open period is real: OpenFor
// is 200 ms, long enough to hold concurrent callers while the probe runs
// and short enough to keep the test quick.
func TestOpenAISustainedOutage(t *testing.T) {
	t.Parallel()
	const requests = 200
	outage := func(t *testing.T, breaker providers.BreakerPolicy) (*e2e, []*guardgenv1.GenerateResponse) {
		primary := quickChain("primary")
		primary.Breaker = breaker
		h := startOpenAI(t, func(o *server.Options) {
			o.Logger = slog.New(slog.DiscardHandler)
		}, e2eEntry{chain: primary}, e2eEntry{chain: quickChain("fallback")})
		h.up[0].srv.SetDefault(openaitest.ServerError(503))
		h.up[1].srv.SetDefault(openaitest.Reply(validTicket))
		resps := make([]*guardgenv1.GenerateResponse, 0, requests)
		for i := range requests {
			resp, err := h.generate(t, 10*time.Second, ticketRequest())
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			if !resp.GetDegraded() || resp.GetDegradation().GetDomain() != guardgenv1.FailureDomain_FAILURE_DOMAIN_INFRASTRUCTURE {
				t.Fatalf("request %d: degraded %v (%v), want a degraded answer from the fallback", i, resp.GetDegraded(), resp.GetDegradation())
			}
			resps = append(resps, resp)
		}
		if n := h.up[0].srv.Count(); float64(n) > 1.2*requests {
			t.Errorf("primary upstream requests = %d for %d requests, want ≤ 1.2×", n, requests)
		}
		if n := h.up[1].srv.Count(); n != requests {
			t.Errorf("fallback upstream requests = %d, want %d", n, requests)
		}
		return h, resps
	}

	t.Run("budget alone", func(t *testing.T) {
		t.Parallel()
		h, resps := outage(t, providers.BreakerPolicy{Disabled: true})
		// With the default bucket of 10 tokens the first requests retry
		// (3 + 2 attempts) until half of it is gone; from then on each
		// request is one attempt.
		drained := 0
		for i, resp := range resps {
			if len(resp.GetReport().GetAttempts()) == 2 { // one primary attempt and the fallback's
				drained = i
				break
			}
		}
		if drained == 0 || drained > 5 {
			t.Fatalf("budget drained after %d requests, want within the first few", drained)
		}
		for i, resp := range resps[drained:] {
			if n := len(resp.GetReport().GetAttempts()); n != 2 {
				t.Fatalf("request %d after the budget drained made %d calls, want 2", drained+i, n)
			}
		}
		if got, want := h.up[0].srv.Count(), 3+2+(requests-2); got != want {
			t.Errorf("primary upstream requests = %d, want %d", got, want)
		}
	})

	t.Run("breaker and budget", func(t *testing.T) {
		t.Parallel()
		const openFor = 200 * time.Millisecond
		var (
			mu          sync.Mutex
			transitions []string
		)
		h, resps := outage(t, providers.BreakerPolicy{ConsecutiveFailures: 5, OpenFor: openFor, OnStateChange: func(_ string, from, to gobreaker.State) {
			mu.Lock()
			transitions = append(transitions, from.String()+"→"+to.String())
			mu.Unlock()
		}})
		circuitOpen := 0
		for _, resp := range resps {
			if classifier.ReasonName(resp.GetDegradation().GetReason()) == "CIRCUIT_OPEN" {
				circuitOpen++
			}
		}
		mu.Lock()
		opened := slices.Contains(transitions, "closed→open")
		mu.Unlock()
		if !opened || circuitOpen == 0 {
			t.Fatalf("transitions %v, %d answers degraded by an open breaker; want it opened and the fallback serving", transitions, circuitOpen)
		}
		// Once it half-opens, one slow probe and eight concurrent callers:
		// only the probe reaches the primary.
		up := h.up[0]
		up.srv.SetDefault(openaitest.Step{Delay: 500 * time.Millisecond, Content: validTicket})
		for deadline := time.Now().Add(5 * openFor); up.chain.BreakerState() != gobreaker.StateHalfOpen; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("breaker %v, never half-open", up.chain.BreakerState())
			}
		}
		before := up.srv.Count()
		var (
			wg                 sync.WaitGroup
			served, degradedHO atomic.Int32
		)
		for range 9 {
			wg.Go(func() {
				resp, err := h.generate(t, 10*time.Second, ticketRequest())
				switch {
				case err != nil:
					t.Errorf("concurrent request: %v", err)
				case !resp.GetDegraded():
					served.Add(1)
				case resp.GetDegradation().GetMetadata()["breaker"] == "half-open":
					degradedHO.Add(1)
				default:
					t.Errorf("concurrent request degraded by %v", resp.GetDegradation())
				}
			})
		}
		wg.Wait()
		if n := up.srv.Count() - before; n != 1 {
			t.Errorf("primary upstream requests while half-open = %d, want 1", n)
		}
		if served.Load() != 1 || degradedHO.Load() != 8 {
			t.Errorf("answers: %d by the probe, %d by the fallback; want 1 and 8", served.Load(), degradedHO.Load())
		}
		if got := up.chain.BreakerState(); got != gobreaker.StateClosed {
			t.Errorf("breaker %v after a good probe, want closed", got)
		}
		mu.Lock()
		defer mu.Unlock()
		if !strings.HasSuffix(strings.Join(transitions, " "), "open→half-open half-open→closed") {
			t.Errorf("transitions = %v, want to end half-open→closed", transitions)
		}
	})
}

// TestOpenAIRequestShape: every example target's schema reaches the
// upstream in the documented Chat Completions shape: strict when it fits
// OpenAI's strict subset (checked by strictcheck.Check, written from the
// documented rules), else unchanged with strict: false.
func TestOpenAIRequestShape(t *testing.T) {
	t.Parallel()
	resolver, err := schema.NewResolver(apptest.ResolverOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{ticketType, "guardgen.examples.v1.IncidentReport", "guardgen.examples.v1.TaskTree"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			target, err := resolver.Resolve(name, nil)
			if err != nil {
				t.Fatal(err)
			}
			wantSchema, err := openai.Strict(target.JSONSchema)
			wantStrict := err == nil
			switch {
			case wantStrict:
				if err := strictcheck.Check(wantSchema); err != nil {
					t.Errorf("Strict's output breaks the strict subset: %v", err)
				}
			case errors.Is(err, openai.ErrNotStrict):
				// The documented fallback: the schema as derived, not strict.
				t.Logf("not strict (sent with strict: false): %v", err)
				wantSchema = target.JSONSchema
			default:
				t.Fatalf("Strict: %v", err)
			}

			h := startOpenAI(t, func(o *server.Options) {
				o.SemanticAttempts = 1
			},
				e2eEntry{chain: quickChain("openai"), Model: "gpt-4o-mini-2024-07-18", MaxOutputTokens: 321})
			_, _ = h.generate(t, 10*time.Second, &guardgenv1.GenerateRequest{Prompt: ticketPrompt, TargetType: name})
			reqs := h.up[0].srv.Requests()
			if len(reqs) == 0 {
				t.Fatal("no upstream request")
			}
			body := reqs[0].Body
			if got := slices.Sorted(maps.Keys(body)); !slices.Equal(got, []string{"max_completion_tokens", "messages", "model", "response_format"}) {
				t.Errorf("body keys = %v", got)
			}
			if body["model"] != "gpt-4o-mini-2024-07-18" || body["max_completion_tokens"] != float64(321) {
				t.Errorf("model %v, max_completion_tokens %v", body["model"], body["max_completion_tokens"])
			}
			var msgs []struct{ Role, Content string }
			remarshal(t, body["messages"], &msgs)
			if len(msgs) != 2 || msgs[0].Role != "system" || !strings.Contains(msgs[0].Content, name) || msgs[1].Role != "user" || msgs[1].Content != ticketPrompt {
				t.Errorf("messages = %+v, want the system instructions naming %s, then the prompt", msgs, name)
			}
			var rf struct {
				Type       string `json:"type"`
				JSONSchema struct {
					Name   string          `json:"name"`
					Strict *bool           `json:"strict"`
					Schema json.RawMessage `json:"schema"`
				} `json:"json_schema"`
			}
			remarshal(t, body["response_format"], &rf)
			if rf.Type != "json_schema" || rf.JSONSchema.Name != strings.ReplaceAll(name, ".", "_") ||
				rf.JSONSchema.Strict == nil || *rf.JSONSchema.Strict != wantStrict {
				t.Errorf("response_format = %s %s strict=%v, want json_schema %s strict=%v",
					rf.Type, rf.JSONSchema.Name, rf.JSONSchema.Strict, strings.ReplaceAll(name, ".", "_"), wantStrict)
			}
			if !jsonEqual(t, rf.JSONSchema.Schema, wantSchema) {
				t.Errorf("response_format.json_schema.schema is not the expected schema:\n%s", rf.JSONSchema.Schema)
			}
		})
	}
}

func remarshal(t *testing.T, in, out any) {
	t.Helper()
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return cmp.Equal(x, y)
}
