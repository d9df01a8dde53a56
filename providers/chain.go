package providers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
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
	"github.com/guardgen/guardgen/internal/breaker"
	"github.com/guardgen/guardgen/telemetry"
)

// Policy is the transport retry policy of one provider. It is used as
// given: a zero delay retries at once and a zero Jitter adds none. The
// article's values (3 attempts, backoff from 2 s capped at 20 s, 0–30 %
// jitter) are config.Default's, the one place defaults live.
type Policy struct {
	// MaxAttempts counts every call, the first included, so 3 means one
	// call and at most two retries; at least 1. It is passed to
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
	// once it has ended. The call is the chain's: it is read during OnCall,
	// not kept.
	OnCall func(ctx context.Context, call *Call)
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
	breaker *breaker.Breaker
	budget  *budget
	retry   grpc.UnaryClientInterceptor
	states  sync.Pool // of unary calls' *retryState, see unaryState
	// spans is false when the tracer is a no-op one: an attempt then
	// starts no span, which would only have cost its name, its options
	// and a context.
	spans bool
	// unaryOnly is set once the provider answered a CompleteStream with
	// UNIMPLEMENTED: later streams are asked with Complete at once.
	unaryOnly atomic.Bool
}

// NewChain returns the chain for one provider. Its policies are used as
// given; a policy under which no call could be made (no attempts, a
// breaker that trips at zero failures or never closes, an empty budget) is
// an error, since zero is never read as a default.
func NewChain(opts ChainOptions) (*Chain, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
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
		spans:   !telemetry.MakesNoSpans(opts.Tracer),
	}, nil
}

// check refuses policies under which no call could be made.
func (o ChainOptions) check() error {
	p, b, g := o.Policy, o.Breaker, o.Budget
	switch {
	case p.MaxAttempts < 1:
		return fmt.Errorf("providers: %s: Policy.MaxAttempts is 0; it must be at least 1", o.Provider)
	case p.BaseDelay < 0 || p.MaxDelay < 0 || p.AttemptTimeout < 0:
		return fmt.Errorf("providers: %s: Policy delays and timeouts must not be negative", o.Provider)
	case p.Jitter < 0 || p.Jitter > 1:
		return fmt.Errorf("providers: %s: Policy.Jitter is %g; it must be within 0..1", o.Provider, p.Jitter)
	case b.policy().Check() != nil:
		return fmt.Errorf("providers: %s: Breaker: %w", o.Provider, b.policy().Check())
	case !g.Disabled && (g.MaxTokens <= 0 || g.Ratio <= 0 || g.Ratio > 1):
		return fmt.Errorf("providers: %s: an enabled Budget needs positive MaxTokens and a Ratio within (0, 1] (got %g, %g)",
			o.Provider, g.MaxTokens, g.Ratio)
	}
	return nil
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
func (c *Chain) BreakerState() BreakerState { return c.breaker.State() }

// BreakerCounts are the counters of the breaker's current generation
// (gobreaker resets them on every state change): requests admitted, and
// the successes and infrastructure failures among them. Excluded outcomes
// (cancellations, caller deadlines, input failures) count in neither.
func (c *Chain) BreakerCounts() gobreaker.Counts { return c.breaker.Counts() }

// attempt runs once per transport attempt.
func (c *Chain) attempt(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	preq, _ := req.(*providerv1.CompleteRequest)
	ctx, a, err := c.startAttempt(ctx, preq, cc == nil)
	if err != nil {
		return err
	}
	// A panic reports errNotAttempted to the breaker; see attemptRun.release.
	defer a.release()
	f := c.classify(ctx, c.invokeAttempt(ctx, a.probe, method, req, reply, cc, invoker, opts...))
	resp, _ := reply.(*providerv1.CompleteResponse)
	a.end(ctx, f, resp)
	if f == nil {
		return nil // not a nil *Failure in an error
	}
	return f
}

// classify turns an attempt's error into the attempt's one Failure, which
// the retry decision, the breaker, the budget, the call record (and so the
// metrics and the report) all read; nil when the attempt succeeded. When
// the caller's deadline or cancellation ended the attempt, that is the
// failure, whatever the provider made of it (a provider sees an expired
// deadline as a timeout): as DEADLINE_EXCEEDED or CANCELLED it says
// nothing about the provider's health, so it is excluded from the breaker
// and the budget, and is not retried.
func (c *Chain) classify(ctx context.Context, err error) *classifier.Failure {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return c.callerFailure(ctx)
	}
	return classifier.As(err)
}

// callerFailure is the failure of a call that the caller's own
// cancellation or deadline ended.
func (c *Chain) callerFailure(ctx context.Context) *classifier.Failure {
	return classifier.FromProviderError(ctx.Err()).With("provider", c.opts.Provider)
}

// attemptTimeout bounds one attempt: the per-attempt timeout, or the
// breaker's probe timeout when that is shorter and not zero; 0 when
// neither is set.
func (c *Chain) attemptTimeout(probe time.Duration) time.Duration {
	t := c.opts.Policy.AttemptTimeout
	if probe > 0 && (t <= 0 || probe < t) {
		t = probe
	}
	return t
}

// attemptTimedOut is the error of an attempt that ran out of its own time
// while the caller still had some: an upstream timeout, retriable.
func attemptTimedOut(d time.Duration) error {
	return status.Errorf(grpccodes.DeadlineExceeded, "provider attempt timed out after %s", d)
}

// attemptRun is one transport attempt between startAttempt and end: the
// breaker's admission, the call's number under the request's cap, its
// span and its record.
type attemptRun struct {
	c    *Chain
	done func(error) // the breaker's
	// probe, when not zero, bounds the attempt: it is the breaker's
	// half-open probe.
	probe    time.Duration
	ended    bool
	rec      *Recorder
	number   int
	semantic int
	call     Call
	span     trace.Span
	start    time.Time
}

// startAttempt admits one attempt for req: through the breaker, under the
// request's provider-call cap. It returns the context the attempt runs in
// (its call number, its span) and the run, whose end (or release) the
// caller must call exactly once. The call number goes into the outgoing
// metadata, or, for a provider in process (no *grpc.ClientConn: see
// inProcessConn), to the connection, which puts it in the provider's
// incoming metadata itself (see incoming).
func (c *Chain) startAttempt(ctx context.Context, req *providerv1.CompleteRequest, inProcess bool) (context.Context, *attemptRun, error) {
	done, probe, err := c.allowAttempt()
	if err != nil {
		return ctx, nil, err
	}
	a := &attemptRun{c: c, done: done, probe: probe, rec: RecorderFrom(ctx), number: 1, semantic: 1}
	if a.rec != nil {
		var ok bool
		a.number, a.semantic, ok = a.rec.begin()
		if !ok {
			// Every admitted attempt reports exactly one outcome to the
			// breaker, even one that never reaches the provider; see
			// errNotAttempted.
			done(errNotAttempted)
			return ctx, nil, classifier.New(guardgenv1.FailureReason_FAILURE_REASON_RETRIES_EXHAUSTED,
				"the request reached its cap of %d provider calls", a.rec.limit).With("provider", c.opts.Provider)
		}
	}
	if inProcess {
		ctx = context.WithValue(ctx, callNumberKey{}, a.number)
	} else {
		ctx = metadata.AppendToOutgoingContext(ctx, CallMetadataKey, strconv.Itoa(a.number))
	}
	model := c.opts.Model
	if req.GetModel() != "" {
		model = req.GetModel()
	}
	a.call = Call{Number: a.number, Semantic: a.semantic, Provider: c.opts.Provider, Model: model, RequestModel: model,
		Verification: req.GetPurpose() == providerv1.Purpose_PURPOSE_VERIFICATION}
	// A model call span, named and attributed by the OpenTelemetry GenAI
	// conventions (telemetry.GenAISemconvVersion). Its attributes are built
	// only for a span that records: with tracing off or sampled out they
	// were a tenth of what a call allocated.
	a.span = telemetry.NoSpan
	if c.spans {
		ctx, a.span = c.opts.Tracer.Start(ctx, telemetry.GenAISpanName(model), trace.WithSpanKind(trace.SpanKindClient))
	}
	if a.span.IsRecording() {
		a.span.SetAttributes(c.opts.GenAI.RequestAttributes(c.opts.Provider, model, req.GetSampling())...)
		a.span.SetAttributes(telemetry.RetryAttemptKey.Int(a.number), attribute.Int("guardgen.semantic_attempt", a.semantic))
	}
	a.start = c.opts.Now()
	return ctx, a, nil
}

// release reports an attempt that never ended (its provider call
// panicked) to the breaker as not attempted, so that a half-open breaker
// does not keep its probe slot forever.
func (a *attemptRun) release() {
	if !a.ended {
		a.ended = true
		a.done(errNotAttempted)
		a.span.End()
	}
}

// end records the attempt's outcome: its one failure f, or when f is nil
// resp (the answer, or what a stream said of it). The breaker, the
// budget, the call's record (and so OnCall's metrics and the report) and
// the span all read that one value.
func (a *attemptRun) end(ctx context.Context, f *classifier.Failure, resp *providerv1.CompleteResponse) {
	c := a.c
	a.ended = true
	var outcome error // not a nil *Failure in an error
	if f != nil {
		outcome = f
	}
	a.done(outcome)
	defer a.span.End()
	switch {
	case f == nil:
		c.budget.success()
	case f.Infrastructure():
		c.budget.failure()
	}
	call := &a.call // by reference: end runs at the bottom of every attempt's stack
	call.Latency, call.Failure = c.opts.Now().Sub(a.start), f
	if resp != nil && f == nil {
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
		if a.span.IsRecording() {
			a.span.SetAttributes(telemetry.GenAIResponseAttributes(call.Model, call.ResponseID, telemetry.FinishReasonName(call.FinishReason), call.Usage)...)
		}
	}
	if f != nil && a.span.IsRecording() {
		a.span.SetAttributes(telemetry.ErrorTypeKey.String(telemetry.ReasonLabel(f.Reason)))
		a.span.SetAttributes(telemetry.FailureAttributes(f.Domain, f.Action, f.Reason)...)
		a.span.SetStatus(codes.Error, f.Code.String())
	}
	if a.rec != nil {
		a.rec.finish(a.number, call)
	}
	if c.opts.OnCall != nil {
		c.opts.OnCall(ctx, call)
	}
}

// invokeAttempt calls the provider under the per-attempt timeout, or
// probeTimeout when it is shorter and not zero (the breaker's half-open
// probe). An attempt that runs out of its own time, while the caller still
// has some, is an upstream timeout, which the retry interceptor may retry.
func (c *Chain) invokeAttempt(ctx context.Context, probeTimeout time.Duration, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	timeout := c.attemptTimeout(probeTimeout)
	if dl, ok := ctx.Deadline(); timeout <= 0 || ok && dl.Before(time.Now().Add(timeout)) {
		// No timeout, or the caller's deadline comes first: a context
		// under the timeout would change nothing, and cost a context, a
		// timer and an entry in the parent's children on every attempt.
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	return invokeWithin(ctx, timeout, method, req, reply, cc, invoker, opts...)
}

// invokeWithin is invokeAttempt under its own timeout. A call of its own:
// invokeAttempt's frame, under every provider call, stays without the
// context and the deferred cancel.
func invokeWithin(ctx context.Context, timeout time.Duration, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := invoker(actx, method, req, reply, cc, opts...)
	if err != nil && ctx.Err() == nil && actx.Err() != nil {
		return attemptTimedOut(timeout)
	}
	return err
}
