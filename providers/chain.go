package providers

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/retry"
	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/guardgen/guardgen/classifier"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/telemetry"
)

// Policy is the transport retry policy of one provider. It is used as
// given: a zero delay retries at once, a zero Jitter adds none, and a zero
// MaxAttempts makes one call. The article's values (3 attempts, backoff
// from 2 s capped at 20 s, 0–30 % jitter) are config.Default's, the one
// place defaults live.
type Policy struct {
	// MaxAttempts counts every call, the first included, so 3 means one
	// call and at most two retries; 0 means 1. It is passed to
	// go-grpc-middleware's retry.WithMax unchanged because, on the pinned
	// v2.3.4, WithMax(n) bounds calls, not retries, whatever its doc
	// comment and parameter name (maxRetries) say: UnaryClientInterceptor
	// loops "for attempt := uint(0); attempt < callOpts.max; attempt++"
	// with one invoker call per iteration, and WithMax(0) (Disable) makes
	// one call without retrying. TestRetryWithMaxCountsCalls pins this;
	// re-read interceptors/retry/retry.go when upgrading.
	MaxAttempts uint
	BaseDelay   time.Duration
	// MaxDelay caps every wait, the backoff and RetryInfo hints alike: a
	// hint longer than MaxDelay is not waited for; the call fails at once
	// and hands the hint on as RetryInfo, for its caller to honour.
	MaxDelay time.Duration
	// Jitter is the largest fraction added to each wait, 0..1.
	Jitter float64
	// AttemptTimeout bounds each attempt; zero leaves only the caller's deadline.
	AttemptTimeout time.Duration
}

func (p Policy) normalized() Policy {
	p.MaxAttempts = max(p.MaxAttempts, 1)
	p.Jitter = min(max(p.Jitter, 0), 1)
	return p
}

// Backoff is the wait before retry number retry (1 for the first retry),
// before jitter: BaseDelay·2^(retry-1), capped at MaxDelay.
func (p Policy) Backoff(retry uint) time.Duration {
	d := p.BaseDelay
	for i := uint(1); i < retry && d < p.MaxDelay; i++ {
		d *= 2
	}
	return min(d, p.MaxDelay)
}

// ChainOptions configure the client interceptor chain of one provider.
type ChainOptions struct {
	// Provider names the provider in spans, records and failures.
	Provider string
	// Model is the provider's configured model, recorded when a request
	// does not name one.
	Model  string
	Policy Policy
	// Now and Rand are the clock and the jitter source; nil means time.Now
	// and math/rand/v2. Tests inject both. Now is compared with context
	// deadlines, which are wall-clock times, so an injected clock must stay
	// near the real one (a frozen time.Now() reading will do).
	Now  func() time.Time
	Rand func() float64
	// Tracer makes the per-attempt spans; nil means the global provider's.
	Tracer trace.Tracer
	// RetryReasons narrows what is retried to these failure reasons (the
	// config's infra_errors); empty means every reason the classifier
	// deems retriable. It can only narrow: a reason the classifier does not
	// retry (a 4xx, the caller's deadline) is never retried.
	RetryReasons []guardgenv1.FailureReason
	// OnWait, when set, is told every computed wait before it happens.
	OnWait func(retry uint, wait time.Duration)
	// OnRetry, when set, is told every retry as it starts, with the reason
	// the previous attempt failed.
	OnRetry func(ctx context.Context, provider string, reason guardgenv1.FailureReason)
	// OnCall, when set, is told every attempt that reached the provider,
	// once it has ended.
	OnCall func(ctx context.Context, call Call)
	// Breaker and Budget protect the provider during outages.
	Breaker BreakerPolicy
	Budget  BudgetPolicy
	// Prices price each call's usage into Call.Cost; nil prices nothing.
	Prices Prices
	// GenAI names the provider in OpenTelemetry GenAI terms on the
	// per-attempt spans; its zero value names it by Provider alone.
	GenAI telemetry.GenAIEndpoint
}

// Chain is the client interceptor chain of one provider, with the state
// that outlives a call: its circuit breaker and its retry budget.
type Chain struct {
	opts    ChainOptions
	breaker *breaker
	budget  *budget
	retry   grpc.UnaryClientInterceptor
}

// NewChain returns the chain for one provider.
func NewChain(opts ChainOptions) *Chain {
	opts.Policy = opts.Policy.normalized()
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	if opts.Tracer == nil {
		opts.Tracer = otel.Tracer("github.com/guardgen/guardgen/providers")
	}
	return &Chain{
		opts:    opts,
		breaker: newBreaker(opts.Provider, opts.Breaker),
		budget:  newBudget(opts.Budget),
		retry:   retry.UnaryClientInterceptor(retry.WithMax(opts.Policy.MaxAttempts)),
	}
}

// Interceptors returns the chain's client interceptors, outermost first:
//
//  1. pushback: per-call retry state; honours RetryInfo, refuses a wait that
//     would pass the caller's deadline or the retry budget, and names
//     exhausted retries;
//  2. go-grpc-middleware's retry interceptor, asking pushback (and so the
//     classifier) what is retriable and how long to wait;
//  3. attempt: the circuit breaker, the per-attempt timeout, the
//     provider-call cap, the x-guardgen-call number, a span and a Call
//     record per attempt.
func (c *Chain) Interceptors() []grpc.UnaryClientInterceptor {
	return []grpc.UnaryClientInterceptor{c.pushback, c.retry, c.attempt}
}

// BreakerState is the provider's circuit breaker state.
func (c *Chain) BreakerState() BreakerState { return c.breaker.state() }

// BreakerCounts are the counters of the breaker's current generation
// (gobreaker resets them on every state change): requests admitted, and
// the successes and infrastructure failures among them. Excluded outcomes
// (cancellations, caller deadlines, input failures) count in neither.
func (c *Chain) BreakerCounts() gobreaker.Counts { return c.breaker.counts() }

// retryState is one call's view across its transport attempts.
type retryState struct {
	c        *Chain
	deadline time.Time
	mu       sync.Mutex
	retries  uint          // retries decided so far
	wait     time.Duration // the wait decided for the next retry
	stopped  *classifier.Failure
}

func (c *Chain) pushback(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	st := &retryState{c: c}
	st.deadline, _ = ctx.Deadline()
	opts = append(opts,
		retry.WithRetriable(st.retriable),
		retry.WithBackoff(st.backoff),
		retry.WithOnRetryCallback(c.onRetry),
	)
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		// The caller's deadline or cancellation, not the upstream's.
		return classifier.FromProviderError(ctx.Err()).With("provider", c.opts.Provider)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.stopped != nil {
		return st.stopped
	}
	f := classifier.As(err)
	if c.retriable(err) && st.retries+1 >= c.opts.Policy.MaxAttempts {
		exhausted := classifier.Wrap(err, guardgenv1.FailureReason_FAILURE_REASON_RETRIES_EXHAUSTED,
			"provider %s failed %d times; last: %s", c.opts.Provider, c.opts.Policy.MaxAttempts, classifier.ReasonName(f.Reason))
		exhausted.RetryDelay = f.RetryDelay
		exhausted.Metadata = f.Metadata
		return exhausted.With("provider", c.opts.Provider).With("last_reason", classifier.ReasonName(f.Reason))
	}
	return f.With("provider", c.opts.Provider)
}

// retriable decides whether the retry interceptor tries again, and if so
// how long it waits: at least the upstream's RetryInfo hint, and never past
// the caller's deadline. A wait that would pass the deadline stops the
// retries at once, handing the hint to our caller.
func (st *retryState) retriable(err error) bool {
	if !st.c.retriable(err) {
		return false
	}
	f := classifier.As(err)
	st.mu.Lock()
	defer st.mu.Unlock()
	next := st.retries + 1
	if next >= st.c.opts.Policy.MaxAttempts {
		return false
	}
	if !st.c.budget.allowRetry() {
		st.stopped = classifier.Wrap(err, guardgenv1.FailureReason_FAILURE_REASON_RETRIES_EXHAUSTED,
			"provider %s retry budget is spent; last: %s", st.c.opts.Provider, classifier.ReasonName(f.Reason)).
			With("provider", st.c.opts.Provider).With("retry_stopped", "budget").With("last_reason", classifier.ReasonName(f.Reason))
		st.stopped.RetryDelay = f.RetryDelay
		return false
	}
	p := st.c.opts.Policy
	if f.RetryDelay > p.MaxDelay {
		f.With("provider", st.c.opts.Provider).With("retry_stopped", "retry_after")
		st.stopped = f
		return false
	}
	wait := p.Backoff(next)
	wait += time.Duration(float64(wait) * p.Jitter * st.c.opts.Rand())
	wait = max(wait, f.RetryDelay)
	if !st.deadline.IsZero() && !st.c.opts.Now().Add(wait).Before(st.deadline) {
		f.With("provider", st.c.opts.Provider).With("retry_stopped", "deadline")
		if f.RetryDelay == 0 {
			f.RetryDelay = wait
		}
		st.stopped = f
		return false
	}
	st.retries = next
	st.wait = wait
	if st.c.opts.OnWait != nil {
		st.c.opts.OnWait(next, wait)
	}
	return true
}

// retriable reports whether err is a transient fault this chain retries:
// the classifier's verdict, narrowed to RetryReasons when set.
func (c *Chain) retriable(err error) bool {
	if !classifier.Retriable(err) {
		return false
	}
	return len(c.opts.RetryReasons) == 0 || slices.Contains(c.opts.RetryReasons, classifier.As(err).Reason)
}

// onRetry is the retry interceptor's callback, run as each retry starts.
func (c *Chain) onRetry(ctx context.Context, _ uint, lastErr error) {
	if c.opts.OnRetry != nil {
		c.opts.OnRetry(ctx, c.opts.Provider, classifier.As(lastErr).Reason)
	}
}

func (st *retryState) backoff(context.Context, uint) time.Duration {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.wait
}

// attempt runs once per transport attempt.
func (c *Chain) attempt(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	done, probeTimeout, err := c.breaker.allow(c.opts.Provider)
	if err != nil {
		return err
	}
	// Every admitted attempt reports exactly one outcome to the breaker,
	// even when it never reaches the provider or panics; see errNotAttempted.
	outcome := errNotAttempted
	defer func() { done(outcome) }()
	rec := RecorderFrom(ctx)
	number, semantic := 1, 1
	if rec != nil {
		var ok bool
		number, semantic, ok = rec.begin()
		if !ok {
			return classifier.New(guardgenv1.FailureReason_FAILURE_REASON_RETRIES_EXHAUSTED,
				"the request reached its cap of %d provider calls", rec.limit).With("provider", c.opts.Provider)
		}
	}
	ctx = metadata.AppendToOutgoingContext(ctx, CallMetadataKey, strconv.Itoa(number))
	model := c.opts.Model
	preq, _ := req.(*providerv1.CompleteRequest)
	if preq.GetModel() != "" {
		model = preq.GetModel()
	}
	// A model call span, named and attributed by the OpenTelemetry GenAI
	// conventions (telemetry.GenAISemconvVersion).
	ctx, span := c.opts.Tracer.Start(ctx, telemetry.GenAISpanName(model), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(c.opts.GenAI.RequestAttributes(c.opts.Provider, model, preq.GetSampling())...),
		trace.WithAttributes(
			telemetry.RetryAttemptKey.Int(number),
			attribute.Int("guardgen.semantic_attempt", semantic),
		))
	defer span.End()
	start := c.opts.Now()
	err = c.invokeAttempt(ctx, probeTimeout, method, req, reply, cc, invoker, opts...)
	if err != nil && ctx.Err() != nil {
		// The caller's deadline or cancellation ended the attempt; whatever
		// the provider made of it (a provider sees an expired deadline as a
		// timeout), it says nothing about the provider's health. As
		// DEADLINE_EXCEEDED or CANCELLED it is excluded from the breaker and
		// the budget, and is not retried.
		err = classifier.FromProviderError(ctx.Err()).With("provider", c.opts.Provider)
	}
	outcome = err
	switch {
	case err == nil:
		c.budget.success()
	case classifier.Infrastructure(err):
		c.budget.failure()
	}
	call := Call{Number: number, Semantic: semantic, Provider: c.opts.Provider, Model: model, RequestModel: model,
		Latency: c.opts.Now().Sub(start), Err: err}
	if r, ok := req.(*providerv1.CompleteRequest); ok {
		call.Verification = r.GetPurpose() == providerv1.Purpose_PURPOSE_VERIFICATION
	}
	if resp, ok := reply.(*providerv1.CompleteResponse); ok && err == nil {
		call.FinishReason = resp.GetFinishReason()
		call.Usage = cloneUsage(resp.GetUsage())
		call.ResponseID = resp.GetId()
		if resp.GetConstraint() != nil {
			call.Constraint = proto.CloneOf(resp.GetConstraint())
		}
		if resp.GetModel() != "" {
			call.Model = resp.GetModel()
		}
		call.Cost, call.Priced = c.opts.Prices.Cost(call.Model, call.Usage)
		span.SetAttributes(telemetry.GenAIResponseAttributes(call.Model, call.ResponseID, telemetry.FinishReasonName(call.FinishReason), call.Usage)...)
	}
	if err != nil {
		f := classifier.As(err)
		span.SetAttributes(telemetry.ErrorTypeKey.String(telemetry.ReasonLabel(f.Reason)))
		span.SetAttributes(telemetry.FailureAttributes(f.Domain, f.Action, f.Reason)...)
		span.SetStatus(codes.Error, f.Code.String())
	}
	if rec != nil {
		rec.finish(number, call)
	}
	if c.opts.OnCall != nil {
		c.opts.OnCall(ctx, call)
	}
	return err
}

// invokeAttempt calls the provider under the per-attempt timeout, or
// probeTimeout when it is shorter and not zero (the breaker's half-open
// probe). An attempt that runs out of its own time, while the caller still
// has some, is an upstream timeout, which the retry interceptor may retry.
func (c *Chain) invokeAttempt(ctx context.Context, probeTimeout time.Duration, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	timeout := c.opts.Policy.AttemptTimeout
	if probeTimeout > 0 && (timeout <= 0 || probeTimeout < timeout) {
		timeout = probeTimeout
	}
	if timeout <= 0 {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := invoker(actx, method, req, reply, cc, opts...)
	if err != nil && ctx.Err() == nil && actx.Err() != nil {
		return status.Errorf(grpccodes.DeadlineExceeded, "provider attempt timed out after %s", timeout)
	}
	return err
}
