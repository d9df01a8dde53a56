package providers_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/retry"
	"github.com/sony/gobreaker/v2"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/guardgen/guardgen/app/apptest"
	"github.com/guardgen/guardgen/classifier"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/providers/openai"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// providerFunc adapts a function to ProviderServiceServer, so a scripted
// provider is one closure.
type providerFunc func(context.Context, *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error)

func (f providerFunc) server() providerv1.ProviderServiceServer { return funcServer{f: f} }

type funcServer struct {
	providerv1.UnimplementedProviderServiceServer
	f providerFunc
}

func (s funcServer) Complete(ctx context.Context, req *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
	return s.f(ctx, req)
}

// defaults are config.Default's chain settings for a provider named "p":
// the policy, breaker and budget a chain has unless a test says otherwise.
var defaults = apptest.ChainOptions("p")

// newChain is providers.NewChain for a test, which fails on an error.
// Options a test leaves at zero are filled from defaults: the breaker and
// the budget as a whole, when neither is set nor disabled.
func newChain(t testing.TB, opts providers.ChainOptions) *providers.Chain {
	t.Helper()
	if b := opts.Breaker; !b.Disabled && b.ConsecutiveFailures == 0 && b.OpenFor == 0 {
		opts.Breaker.ConsecutiveFailures, opts.Breaker.OpenFor, opts.Breaker.ProbeTimeout =
			defaults.Breaker.ConsecutiveFailures, defaults.Breaker.OpenFor, defaults.Breaker.ProbeTimeout
	}
	if opts.Budget == (providers.BudgetPolicy{}) {
		opts.Budget = defaults.Budget
	}
	chain, err := providers.NewChain(opts)
	if err != nil {
		t.Fatal(err)
	}
	return chain
}

func completeRequest() *providerv1.CompleteRequest {
	return &providerv1.CompleteRequest{Messages: []*providerv1.Message{{Role: providerv1.Role_ROLE_USER, Content: "hi"}}}
}

var errUnavailable = status.Error(codes.Unavailable, "down")

// openAIClient is the openai provider pointed at a fresh openaitest server,
// behind chain. Both close at cleanup.
func openAIClient(t *testing.T, chain *providers.Chain) (providerv1.ProviderServiceClient, *openaitest.Server) {
	t.Helper()
	srv := openaitest.New()
	t.Cleanup(srv.Close)
	p, err := openai.New(openai.Options{BaseURL: srv.URL(), APIKey: "sk-test-not-a-secret", Model: "gpt-4o-mini", MaxResponseBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return providerv1.NewProviderServiceClient(providers.InProcess(p, chain.Interceptors()...)), srv
}

// TestRetryWithMaxCountsCalls pins what go-grpc-middleware v2.3.4's
// retry.WithMax(n) counts: calls, the first included, not retries (its doc
// comment says "retries"). Policy.MaxAttempts relies on it.
func TestRetryWithMaxCountsCalls(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		max   uint
		calls int
	}{{0, 1}, {1, 1}, {2, 2}, {3, 3}} {
		interceptor := retry.UnaryClientInterceptor(retry.WithMax(tt.max), retry.WithCodes(codes.Unavailable),
			retry.WithBackoff(func(context.Context, uint) time.Duration { return 0 }))
		calls := 0
		invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
			calls++
			return errUnavailable
		}
		if err := interceptor(t.Context(), "/m", nil, nil, nil, invoker); status.Code(err) != codes.Unavailable {
			t.Fatalf("WithMax(%d): %v", tt.max, err)
		}
		if calls != tt.calls {
			t.Errorf("WithMax(%d) made %d calls, want %d", tt.max, calls, tt.calls)
		}
	}

	// Through the whole chain, real openai-go and real HTTP: MaxAttempts 3
	// is exactly 3 upstream requests.
	chain := newChain(t, providers.ChainOptions{
		Provider: "openai",
		Policy:   providers.Policy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond},
		Breaker:  providers.BreakerPolicy{Disabled: true},
		Budget:   providers.BudgetPolicy{Disabled: true},
	})
	client, upstream := openAIClient(t, chain)
	upstream.SetDefault(openaitest.ServerError(503))
	_, err := client.Complete(t.Context(), completeRequest())
	f := classifier.As(err)
	if f.Reason != guardgenv1.FailureReason_FAILURE_REASON_RETRIES_EXHAUSTED {
		t.Errorf("error = %v, want RETRIES_EXHAUSTED", err)
	}
	if n := upstream.Count(); n != 3 {
		t.Errorf("upstream requests = %d, want 3", n)
	}
}

// TestAttemptTimeoutIsRetried: an attempt that runs out of its own time
// while the caller still has some is an upstream timeout, retried; the
// timed-out HTTP request is cancelled.
func TestAttemptTimeoutIsRetried(t *testing.T) {
	t.Parallel()
	chain := newChain(t, providers.ChainOptions{
		Provider: "openai",
		Policy:   providers.Policy{MaxAttempts: 3, AttemptTimeout: 100 * time.Millisecond, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond},
	})
	client, upstream := openAIClient(t, chain)
	upstream.Enqueue(openaitest.Step{Hang: true}, openaitest.Reply(`{"ok":true}`))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	resp, err := client.Complete(ctx, completeRequest())
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if resp.GetContent() != `{"ok":true}` || upstream.Count() != 2 {
		t.Errorf("content %q after %d upstream requests, want the second answer", resp.GetContent(), upstream.Count())
	}
	first, err := upstream.Wait(ctx, 0)
	if err != nil || !first.Cancelled {
		t.Errorf("first request = %+v, %v; want it cancelled", first.Cancelled, err)
	}
	if n := chain.BreakerCounts().TotalFailures; n != 1 {
		t.Errorf("breaker failures = %d, want 1 (an attempt timeout is the upstream's)", n)
	}
}

// TestBreakerCountsOnlyInfrastructure: caller deadlines, cancellations and
// input failures leave the breaker alone; successes reset the failure run.
func TestBreakerCountsOnlyInfrastructure(t *testing.T) {
	t.Parallel()
	provider := providerFunc(func(ctx context.Context, req *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
		switch req.GetMessages()[0].GetContent() {
		case "slow":
			<-ctx.Done()
			return nil, status.FromContextError(ctx.Err()).Err()
		case "down":
			return nil, errUnavailable
		case "refused":
			return nil, status.Error(codes.InvalidArgument, "bad")
		}
		return &providerv1.CompleteResponse{Content: "{}"}, nil
	})
	chain := newChain(t, providers.ChainOptions{
		Provider: "p",
		Policy:   providers.Policy{MaxAttempts: 1},
		Breaker:  providers.BreakerPolicy{ConsecutiveFailures: 2, OpenFor: time.Hour},
		Budget:   providers.BudgetPolicy{Disabled: true},
	})
	client := providerv1.NewProviderServiceClient(providers.InProcess(provider.server(), chain.Interceptors()...))
	call := func(prompt string, ctx context.Context) error {
		_, err := client.Complete(ctx, &providerv1.CompleteRequest{Messages: []*providerv1.Message{{Role: providerv1.Role_ROLE_USER, Content: prompt}}})
		return err
	}
	for range 5 {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Millisecond)
		err := call("slow", ctx)
		cancel()
		if f := classifier.As(err); f.Reason != guardgenv1.FailureReason_FAILURE_REASON_DEADLINE_EXCEEDED {
			t.Fatalf("slow call = %v, want DEADLINE_EXCEEDED (the caller's)", err)
		}
		ctx, cancel = context.WithCancel(t.Context())
		cancel()
		_ = call("slow", ctx)
		_ = call("refused", t.Context())
	}
	// down, ok, down: the success in between resets the run of two.
	for _, prompt := range []string{"down", "ok", "down"} {
		_ = call(prompt, t.Context())
	}
	if got := chain.BreakerState(); got != gobreaker.StateClosed {
		t.Fatalf("breaker %v after caller deadlines, cancellations, a 4xx and non-consecutive failures; want closed", got)
	}
	if c := chain.BreakerCounts(); c.TotalFailures != 2 || c.TotalSuccesses != 1 {
		t.Errorf("counts = %+v, want 2 failures and 1 success", c)
	}
	if err := call("down", t.Context()); err == nil {
		t.Fatal("down call succeeded")
	}
	if got := chain.BreakerState(); got != gobreaker.StateOpen {
		t.Errorf("breaker %v after two consecutive failures, want open", got)
	}
}

// TestBreakerHalfOpenProbe: after OpenFor the breaker admits one probe,
// refuses the others while it runs, and a successful probe closes it.
// gobreaker has no injectable clock; in a synctest bubble its time.Now is
// the bubble's, so a realistic OpenFor passes at once and exactly.
func TestBreakerHalfOpenProbe(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var (
			mu          sync.Mutex
			transitions []string
			calls       atomic.Int32
			healthy     atomic.Bool
		)
		entered, release := make(chan struct{}, 1), make(chan struct{})
		provider := providerFunc(func(context.Context, *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
			calls.Add(1)
			if !healthy.Load() {
				return nil, errUnavailable
			}
			entered <- struct{}{}
			<-release
			return &providerv1.CompleteResponse{Content: "{}"}, nil
		})
		const openFor = 30 * time.Second
		chain := newChain(t, providers.ChainOptions{
			Provider: "p",
			Policy:   providers.Policy{MaxAttempts: 1},
			Breaker: providers.BreakerPolicy{ConsecutiveFailures: 1, OpenFor: openFor, OnStateChange: func(_ string, from, to gobreaker.State) {
				mu.Lock()
				transitions = append(transitions, from.String()+"→"+to.String())
				mu.Unlock()
			}},
		})
		client := providerv1.NewProviderServiceClient(providers.InProcess(provider.server(), chain.Interceptors()...))
		if _, err := client.Complete(t.Context(), completeRequest()); status.Code(err) != codes.Unavailable {
			t.Fatalf("first call = %v, want UNAVAILABLE", err)
		}
		_, err := client.Complete(t.Context(), completeRequest())
		if f := classifier.As(err); f.Reason != guardgenv1.FailureReason_FAILURE_REASON_CIRCUIT_OPEN || f.Metadata["breaker"] != "open" {
			t.Fatalf("second call = %v, want CIRCUIT_OPEN (open)", err)
		}
		healthy.Store(true)
		time.Sleep(openFor + time.Nanosecond) // past the open period, on the bubble's clock: no real wait
		probe := make(chan error, 1)
		go func() {
			_, err := client.Complete(t.Context(), completeRequest())
			probe <- err
		}()
		<-entered
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				_, err := client.Complete(t.Context(), completeRequest())
				if f := classifier.As(err); f == nil || f.Metadata["breaker"] != "half-open" {
					t.Errorf("concurrent call during the probe = %v, want CIRCUIT_OPEN (half-open)", err)
				}
			})
		}
		wg.Wait()
		close(release)
		if err := <-probe; err != nil {
			t.Fatalf("probe: %v", err)
		}
		if n := calls.Load(); n != 2 {
			t.Errorf("provider calls = %d, want 2 (the failure and the single probe)", n)
		}
		if got := chain.BreakerState(); got != gobreaker.StateClosed {
			t.Errorf("breaker %v after a successful probe, want closed", got)
		}
		mu.Lock()
		defer mu.Unlock()
		want := []string{"closed→open", "open→half-open", "half-open→closed"}
		if len(transitions) != len(want) || transitions[0] != want[0] || transitions[1] != want[1] || transitions[2] != want[2] {
			t.Errorf("transitions = %v, want %v", transitions, want)
		}
	})
}

// TestCapRefusalReleasesProbe: an attempt the breaker admitted but the
// request's call cap refused must still report to the breaker, or a
// half-open breaker keeps its only probe slot taken for ever.
func TestCapRefusalReleasesProbe(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var healthy atomic.Bool
		provider := providerFunc(func(context.Context, *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
			if !healthy.Load() {
				return nil, errUnavailable
			}
			return &providerv1.CompleteResponse{Content: "{}"}, nil
		})
		const openFor = 30 * time.Second
		chain := newChain(t, providers.ChainOptions{
			Provider: "p",
			Policy:   providers.Policy{MaxAttempts: 1},
			Breaker:  providers.BreakerPolicy{ConsecutiveFailures: 1, OpenFor: openFor},
		})
		client := providerv1.NewProviderServiceClient(providers.InProcess(provider.server(), chain.Interceptors()...))
		healthy.Store(true)
		capped, rec := providers.WithRecorder(t.Context(), 1)
		if _, err := client.Complete(capped, completeRequest()); err != nil { // spends the cap
			t.Fatal(err)
		}
		healthy.Store(false)
		_, _ = client.Complete(t.Context(), completeRequest()) // opens the breaker
		healthy.Store(true)
		time.Sleep(openFor + time.Nanosecond) // past the open period, on the bubble's clock: no real wait
		// Admitted as the half-open probe, refused by the cap.
		_, err := client.Complete(capped, completeRequest())
		if f := classifier.As(err); f.Reason != guardgenv1.FailureReason_FAILURE_REASON_RETRIES_EXHAUSTED || rec.Len() != 1 {
			t.Fatalf("capped call = %v after %d calls, want RETRIES_EXHAUSTED after 1", err, rec.Len())
		}
		if _, err := client.Complete(t.Context(), completeRequest()); err != nil {
			t.Errorf("call after a capped probe = %v, want it admitted", err)
		}
	})
}

// TestBudgetStopsRetries: a drained budget stops retries with
// RETRIES_EXHAUSTED (retry_stopped=budget), so each request makes one
// attempt.
func TestBudgetStopsRetries(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	provider := providerFunc(func(context.Context, *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
		calls.Add(1)
		return nil, errUnavailable
	})
	chain := newChain(t, providers.ChainOptions{
		Provider: "p",
		Policy:   providers.Policy{MaxAttempts: 3, BaseDelay: time.Microsecond, MaxDelay: time.Microsecond},
		Breaker:  providers.BreakerPolicy{Disabled: true},
		Budget:   providers.BudgetPolicy{MaxTokens: 4, Ratio: 0.1},
	})
	client := providerv1.NewProviderServiceClient(providers.InProcess(provider.server(), chain.Interceptors()...))
	var last error
	for range 10 {
		_, last = client.Complete(t.Context(), completeRequest())
	}
	// 4 tokens: request 1 makes 2 attempts (4→3→2, then 2 is not > 2),
	// every later request one.
	if n := calls.Load(); n != 11 {
		t.Errorf("provider calls = %d, want 11", n)
	}
	if f := classifier.As(last); f.Reason != guardgenv1.FailureReason_FAILURE_REASON_RETRIES_EXHAUSTED || f.Metadata["retry_stopped"] != "budget" {
		t.Errorf("last error = %v %v, want RETRIES_EXHAUSTED stopped by the budget", last, f.Metadata)
	}
}

// TestRetryInfoSurvivesExhaustion: the upstream's last retry hint rides on
// the RETRIES_EXHAUSTED failure, so the server can hand RetryInfo on.
func TestRetryInfoSurvivesExhaustion(t *testing.T) {
	t.Parallel()
	chain := newChain(t, providers.ChainOptions{
		Provider: "openai",
		Policy:   providers.Policy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond},
	})
	client, upstream := openAIClient(t, chain)
	upstream.SetDefault(openaitest.RateLimitedMs(7))
	_, err := client.Complete(t.Context(), completeRequest())
	f := classifier.As(err)
	if f.Reason != guardgenv1.FailureReason_FAILURE_REASON_RETRIES_EXHAUSTED || f.RetryDelay != 7*time.Millisecond || f.Metadata["last_reason"] != "RATE_LIMITED" {
		t.Errorf("error = %v (delay %v, %v), want RETRIES_EXHAUSTED carrying the 7ms hint", err, f.RetryDelay, f.Metadata)
	}
	reqs := upstream.Requests()
	if len(reqs) != 3 {
		t.Fatalf("upstream requests = %d, want 3", len(reqs))
	}
	for i := 1; i < len(reqs); i++ {
		if gap := reqs[i].Time.Sub(reqs[i-1].Time); gap < 7*time.Millisecond {
			t.Errorf("retry %d after %v, before the 7ms hint", i, gap)
		}
	}
}

// TestRetryHooksAndReasons: RetryReasons narrows what is retried; OnRetry
// hears each retry with the previous failure's reason and OnCall each
// attempt with its code.
func TestRetryHooksAndReasons(t *testing.T) {
	t.Parallel()
	faults := []error{status.Error(codes.ResourceExhausted, "slow down"), errUnavailable, errUnavailable}
	for _, tt := range []struct {
		name    string
		reasons []guardgenv1.FailureReason
		calls   []codes.Code
		retries []guardgenv1.FailureReason
	}{
		{"classifier's verdict", nil,
			[]codes.Code{codes.ResourceExhausted, codes.Unavailable, codes.Unavailable},
			[]guardgenv1.FailureReason{guardgenv1.FailureReason_FAILURE_REASON_RATE_LIMITED, guardgenv1.FailureReason_FAILURE_REASON_UPSTREAM_UNAVAILABLE}},
		{"rate limits only", []guardgenv1.FailureReason{guardgenv1.FailureReason_FAILURE_REASON_RATE_LIMITED},
			[]codes.Code{codes.ResourceExhausted, codes.Unavailable},
			[]guardgenv1.FailureReason{guardgenv1.FailureReason_FAILURE_REASON_RATE_LIMITED}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var (
				mu      sync.Mutex
				calls   []codes.Code
				retries []guardgenv1.FailureReason
				n       atomic.Int32
			)
			provider := providerFunc(func(context.Context, *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
				return nil, faults[n.Add(1)-1]
			})
			chain := newChain(t, providers.ChainOptions{
				Provider:     "p",
				Policy:       providers.Policy{MaxAttempts: 3, BaseDelay: time.Microsecond, MaxDelay: time.Microsecond},
				RetryReasons: tt.reasons,
				OnCall: func(_ context.Context, c *providers.Call) {
					mu.Lock()
					calls = append(calls, c.Code())
					mu.Unlock()
				},
				OnRetry: func(_ context.Context, provider string, reason guardgenv1.FailureReason) {
					mu.Lock()
					retries = append(retries, reason)
					mu.Unlock()
				},
			})
			client := providerv1.NewProviderServiceClient(providers.InProcess(provider.server(), chain.Interceptors()...))
			_, _ = client.Complete(t.Context(), completeRequest())
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(calls, tt.calls) || !slices.Equal(retries, tt.retries) {
				t.Errorf("calls %v, retries %v; want %v, %v", calls, retries, tt.calls, tt.retries)
			}
		})
	}
}

// TestRecorderMarksVerification: a call made for a verifier is recorded as
// one, and counts against the cap like any other.
func TestRecorderMarksVerification(t *testing.T) {
	t.Parallel()
	provider := providerFunc(func(context.Context, *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
		return &providerv1.CompleteResponse{Content: "{}"}, nil
	})
	chain := newChain(t, providers.ChainOptions{Provider: "p", Policy: providers.Policy{MaxAttempts: 1}})
	client := providerv1.NewProviderServiceClient(providers.InProcess(provider.server(), chain.Interceptors()...))
	ctx, rec := providers.WithRecorder(t.Context(), 2)
	if rec.Remaining() != 2 {
		t.Fatalf("Remaining = %d before any call, want 2", rec.Remaining())
	}
	verify := completeRequest()
	verify.Purpose = providerv1.Purpose_PURPOSE_VERIFICATION
	for _, req := range []*providerv1.CompleteRequest{completeRequest(), verify} {
		if _, err := client.Complete(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	calls := rec.Calls()
	if len(calls) != 2 || calls[0].Verification || !calls[1].Verification || rec.Remaining() != 0 {
		t.Errorf("calls %+v, remaining %d; want a generation, then a verification, and none left", calls, rec.Remaining())
	}
	if _, uncapped := providers.WithRecorder(t.Context(), 0); uncapped.Remaining() != -1 {
		t.Errorf("Remaining without a cap = %d, want -1", uncapped.Remaining())
	}
}

// TestDisabledIsOff: a disabled breaker admits every attempt and a
// disabled budget refuses no retry, however many attempts fail; the
// defaults of the same policies (5 failures, 10 tokens) trip and refuse,
// and their zero values are refused, not read as defaults.
func TestDisabledIsOff(t *testing.T) {
	t.Parallel()
	down := providerFunc(func(context.Context, *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
		return nil, errUnavailable
	})
	run := func(breaker providers.BreakerPolicy, budget providers.BudgetPolicy) (reasons map[guardgenv1.FailureReason]int, calls int) {
		var n atomic.Int64
		counted := providerFunc(func(ctx context.Context, req *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
			n.Add(1)
			return down(ctx, req)
		})
		chain := newChain(t, providers.ChainOptions{
			Provider: "p",
			Policy:   providers.Policy{MaxAttempts: 3},
			Breaker:  breaker,
			Budget:   budget,
		})
		client := providerv1.NewProviderServiceClient(providers.InProcess(counted.server(), chain.Interceptors()...))
		reasons = map[guardgenv1.FailureReason]int{}
		for range 20 {
			_, err := client.Complete(t.Context(), completeRequest())
			f := classifier.As(err)
			reasons[f.Reason]++
			if f.Metadata["retry_stopped"] == "budget" {
				reasons[guardgenv1.FailureReason_FAILURE_REASON_UNSPECIFIED]++ // counts budget refusals
			}
		}
		return reasons, int(n.Load())
	}

	reasons, calls := run(providers.BreakerPolicy{Disabled: true}, providers.BudgetPolicy{Disabled: true})
	if reasons[guardgenv1.FailureReason_FAILURE_REASON_RETRIES_EXHAUSTED] != 20 || calls != 60 {
		t.Errorf("breaker and budget disabled: reasons %v after %d upstream calls; want 20 RETRIES_EXHAUSTED after 60 calls", reasons, calls)
	}
	reasons, _ = run(defaults.Breaker, providers.BudgetPolicy{Disabled: true})
	if reasons[guardgenv1.FailureReason_FAILURE_REASON_CIRCUIT_OPEN] == 0 {
		t.Errorf("default BreakerPolicy: reasons %v, want the breaker to open", reasons)
	}
	reasons, _ = run(providers.BreakerPolicy{Disabled: true}, defaults.Budget)
	if reasons[guardgenv1.FailureReason_FAILURE_REASON_UNSPECIFIED] == 0 {
		t.Errorf("default BudgetPolicy: reasons %v, want the budget to refuse retries", reasons)
	}
	for _, tt := range []struct {
		breaker providers.BreakerPolicy
		budget  providers.BudgetPolicy
	}{
		{providers.BreakerPolicy{}, providers.BudgetPolicy{Disabled: true}},
		{providers.BreakerPolicy{Disabled: true}, providers.BudgetPolicy{}},
	} {
		if _, err := providers.NewChain(providers.ChainOptions{Provider: "p", Policy: providers.Policy{MaxAttempts: 1}, Breaker: tt.breaker, Budget: tt.budget}); err == nil {
			t.Errorf("NewChain with %+v, %+v: no error; an enabled zero policy is refused, not a default", tt.breaker, tt.budget)
		}
	}
}

// TestRetryAfterBeyondMaxDelay: a RetryInfo hint longer than MaxDelay is
// not waited for: the call fails at once, the hint handed on.
func TestRetryAfterBeyondMaxDelay(t *testing.T) {
	t.Parallel()
	chain := newChain(t, providers.ChainOptions{
		Provider: "openai",
		Policy:   providers.Policy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Second},
	})
	client, upstream := openAIClient(t, chain)
	upstream.SetDefault(openaitest.RateLimited("45"))
	_, err := client.Complete(t.Context(), completeRequest())
	f := classifier.As(err)
	if f.Reason != guardgenv1.FailureReason_FAILURE_REASON_RATE_LIMITED || f.RetryDelay != 45*time.Second || f.Metadata["retry_stopped"] != "retry_after" {
		t.Errorf("error = %v %v, want RATE_LIMITED stopped by the cap, with the 45s hint", err, f.Metadata)
	}
	if n := upstream.Count(); n != 1 {
		t.Errorf("upstream requests = %d, want 1", n)
	}
}

// TestPolicyIsLiteral: zero delays and zero jitter mean no wait, and a
// zero MaxAttempts is refused; nothing is replaced by a default.
func TestPolicyIsLiteral(t *testing.T) {
	t.Parallel()
	var waits []time.Duration
	var mu sync.Mutex
	chain := newChain(t, providers.ChainOptions{
		Provider: "p",
		Policy:   providers.Policy{MaxAttempts: 3},
		Rand:     func() float64 { return 1 },
		OnWait: func(_ uint, d time.Duration) {
			mu.Lock()
			waits = append(waits, d)
			mu.Unlock()
		},
		Breaker: providers.BreakerPolicy{Disabled: true},
		Budget:  providers.BudgetPolicy{Disabled: true},
	})
	client, upstream := openAIClient(t, chain)
	upstream.SetDefault(openaitest.ServerError(503))
	if _, err := client.Complete(t.Context(), completeRequest()); err == nil {
		t.Fatal("Complete: want an error")
	}
	mu.Lock()
	if len(waits) != 2 || waits[0] != 0 || waits[1] != 0 {
		t.Errorf("waits = %v, want two waits of 0", waits)
	}
	mu.Unlock()
	if got := (providers.Policy{BaseDelay: time.Second, MaxDelay: 4 * time.Second}).Backoff(5); got != 4*time.Second {
		t.Errorf("Backoff(5) = %v, want the 4s cap", got)
	}

	if _, err := providers.NewChain(providers.ChainOptions{Provider: "p", Breaker: providers.BreakerPolicy{Disabled: true},
		Budget: providers.BudgetPolicy{Disabled: true}}); err == nil {
		t.Error("NewChain with zero MaxAttempts: no error, want one (zero is not a default)")
	}
}

// TestInProcessProviderSeesCallNumbers: a provider in process reads each
// attempt's call number from its incoming metadata, as over gRPC, beside
// the metadata the caller forwards; past the first sixteen calls too.
func TestInProcessProviderSeesCallNumbers(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		forward metadata.MD
		calls   int
	}{
		{"nothing forwarded", nil, 3},
		{"metadata forwarded", metadata.Pairs("x-guardgen-plan", "p1"), 3},
		{"beyond the prebuilt numbers", nil, 20},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var (
				mu   sync.Mutex
				seen []string
				plan []string
			)
			provider := providerFunc(func(ctx context.Context, _ *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
				md, _ := metadata.FromIncomingContext(ctx)
				mu.Lock()
				defer mu.Unlock()
				seen = append(seen, strings.Join(md.Get(providers.CallMetadataKey), ","))
				plan = append(plan, strings.Join(md.Get("x-guardgen-plan"), ","))
				if len(seen) < tt.calls {
					return nil, errUnavailable
				}
				return &providerv1.CompleteResponse{Content: "{}"}, nil
			})
			chain := newChain(t, providers.ChainOptions{
				Provider: "p",
				Policy:   providers.Policy{MaxAttempts: uint(tt.calls), BaseDelay: time.Microsecond, MaxDelay: time.Microsecond},
				Budget:   providers.BudgetPolicy{Disabled: true},
				Breaker:  providers.BreakerPolicy{Disabled: true},
			})
			ctx, _ := providers.WithRecorder(t.Context(), 0)
			if tt.forward != nil {
				ctx = metadata.NewOutgoingContext(ctx, tt.forward)
			}
			for name, conn := range map[string]grpc.ClientConnInterface{
				"Chain.InProcess":   chain.InProcess(provider.server()),
				"InProcess + chain": providers.InProcess(provider.server(), chain.Interceptors()...),
			} {
				mu.Lock()
				seen, plan = nil, nil
				mu.Unlock()
				ctx, _ := providers.WithRecorder(ctx, 0)
				if _, err := providerv1.NewProviderServiceClient(conn).Complete(ctx, completeRequest()); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				mu.Lock()
				for i := range tt.calls {
					if want := strconv.Itoa(i + 1); seen[i] != want || plan[i] != strings.Join(tt.forward.Get("x-guardgen-plan"), ",") {
						t.Errorf("%s: call %d saw number %q and plan %q, want %q and %q", name, i+1, seen[i], plan[i], want, tt.forward.Get("x-guardgen-plan"))
					}
				}
				mu.Unlock()
			}
		})
	}
}
