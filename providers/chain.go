package providers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
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
	case !b.Disabled && (b.ConsecutiveFailures < 1 || b.OpenFor <= 0 || b.ProbeTimeout < 0):
		return fmt.Errorf("providers: %s: an enabled Breaker needs ConsecutiveFailures of at least 1 and a positive OpenFor (got %d, %s)",
			o.Provider, b.ConsecutiveFailures, b.OpenFor)
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
func (c *Chain) BreakerState() BreakerState { return c.breaker.state() }

// BreakerCounts are the counters of the breaker's current generation
// (gobreaker resets them on every state change): requests admitted, and
// the successes and infrastructure failures among them. Excluded outcomes
// (cancellations, caller deadlines, input failures) count in neither.
func (c *Chain) BreakerCounts() gobreaker.Counts { return c.breaker.counts() }

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
	f := c.classify(ctx, c.invokeAttempt(ctx, probeTimeout, method, req, reply, cc, invoker, opts...))
	outcome = nil // not a nil *Failure in an error
	if f != nil {
		outcome = f
	}
	switch {
	case f == nil:
		c.budget.success()
	case f.Infrastructure():
		c.budget.failure()
	}
	call := Call{Number: number, Semantic: semantic, Provider: c.opts.Provider, Model: model, RequestModel: model,
		Latency: c.opts.Now().Sub(start), Failure: f}
	if r, ok := req.(*providerv1.CompleteRequest); ok {
		call.Verification = r.GetPurpose() == providerv1.Purpose_PURPOSE_VERIFICATION
	}
	if resp, ok := reply.(*providerv1.CompleteResponse); ok && f == nil {
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
	if f != nil {
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
	if f == nil {
		return nil
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
		return classifier.FromProviderError(ctx.Err()).With("provider", c.opts.Provider)
	}
	return classifier.As(err)
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
