package providers

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/retry"
	"google.golang.org/grpc"

	"github.com/guardgen/guardgen/classifier"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// retryState is one call's view across its transport attempts.
type retryState struct {
	c        *Chain
	deadline time.Time
	mu       sync.Mutex
	retries  uint          // retries decided so far
	wait     time.Duration // the wait decided for the next retry
	// stopped is why retries stopped before the attempts ran out, when
	// they did: the call ends with it.
	stopped *classifier.Failure
	// callOpts ask the retry interceptor's questions of this state; a
	// unary call's state is recycled with them (see Chain.unaryState).
	callOpts []grpc.CallOption
}

// pushback runs one call through go-grpc-middleware's retry interceptor,
// answering its questions (retry? how long to wait?) with next, and turns
// the last attempt's failure into the call's.
func (c *Chain) pushback(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	st := c.unaryState(ctx)
	callOpts := st.callOpts
	if len(opts) > 0 {
		callOpts = append(slices.Clip(opts), callOpts...)
	}
	err := invoker(ctx, method, req, reply, cc, callOpts...)
	if err != nil {
		err = st.final(ctx, err)
	}
	c.states.Put(st)
	return err
}

// unaryState is a unary call's retry state: a recycled one, whose call
// options are already built. Built per call, the three options and the
// closures behind them were eight allocations (BenchmarkGenerate in
// package app). The retry interceptor holds the options only until the
// call returns, so the state is free again then.
func (c *Chain) unaryState(ctx context.Context) *retryState {
	st, _ := c.states.Get().(*retryState)
	if st == nil {
		st = &retryState{c: c}
		st.callOpts = []grpc.CallOption{
			retry.WithRetriable(st.retriable),
			retry.WithBackoff(st.backoff),
			retry.WithOnRetryCallback(c.onRetry),
		}
	}
	st.deadline, _ = ctx.Deadline()
	st.retries, st.wait, st.stopped = 0, 0, nil
	return st
}

// newRetryState starts the retry state of a stream call (see
// retryStream), which keeps it for the stream's life.
func (c *Chain) newRetryState(ctx context.Context) *retryState {
	st := &retryState{c: c}
	st.deadline, _ = ctx.Deadline()
	return st
}

// next is the retry path in one place. After an attempt failed with f
// (the attempt's one Failure), it decides whether the call is retried,
// how long it waits first, and records the decision. In order:
//
//   - decision: only a transient fault this chain retries, while attempts
//     are left; the retry budget, a RetryInfo hint longer than MaxDelay,
//     or a wait that would pass the caller's deadline stop the call with
//     a failure that says so (retry_stopped), handing the hint on;
//   - wait: BaseDelay·2^(n-1) capped at MaxDelay, plus up to Jitter of
//     it, and at least the provider's RetryInfo hint;
//   - record: the retry count, the wait the retry interceptor asks for
//     next, and OnWait.
func (st *retryState) next(f *classifier.Failure) (time.Duration, bool) {
	c, p := st.c, st.c.opts.Policy
	if !c.retriable(f) {
		return 0, false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	n := st.retries + 1
	switch {
	case n >= p.MaxAttempts:
		return 0, false // final names the exhaustion
	case !c.budget.allowRetry():
		st.stopped = c.exhausted(f, "provider %s retry budget is spent; last: %s", c.opts.Provider, classifier.ReasonName(f.Reason)).
			With("retry_stopped", "budget")
		return 0, false
	case f.RetryDelay > p.MaxDelay:
		st.stopped = f.With("provider", c.opts.Provider).With("retry_stopped", "retry_after")
		return 0, false
	}

	wait := p.Backoff(n)
	wait += time.Duration(float64(wait) * p.Jitter * c.opts.Rand())
	wait = max(wait, f.RetryDelay)
	if !st.deadline.IsZero() && !c.opts.Now().Add(wait).Before(st.deadline) {
		stopped := f.With("provider", c.opts.Provider).With("retry_stopped", "deadline")
		if f.RetryDelay == 0 {
			stopped = stopped.WithRetryDelay(wait)
		}
		st.stopped = stopped
		return 0, false
	}

	st.retries, st.wait = n, wait
	if c.opts.OnWait != nil {
		c.opts.OnWait(n, wait)
	}
	return wait, true
}

// retriable is the retry interceptor's question, answered by next. err is
// the attempt's *classifier.Failure (see attempt), so As only asserts it.
func (st *retryState) retriable(err error) bool {
	_, ok := st.next(classifier.As(err))
	return ok
}

// backoff is the retry interceptor's wait: the one next decided.
func (st *retryState) backoff(context.Context, uint) time.Duration {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.wait
}

// final is the failure a call ends with after its last attempt failed
// with err: the caller's own deadline or cancellation as such, the reason
// retries stopped early, RETRIES_EXHAUSTED when they ran out, else the
// last attempt's failure; each names the provider.
func (st *retryState) final(ctx context.Context, err error) error {
	c := st.c
	if ctx.Err() != nil {
		return c.callerFailure(ctx)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.stopped != nil {
		return st.stopped
	}
	f := classifier.As(err)
	if c.retriable(f) && st.retries+1 >= c.opts.Policy.MaxAttempts {
		return c.exhausted(f, "provider %s failed %d times; last: %s", c.opts.Provider, c.opts.Policy.MaxAttempts, classifier.ReasonName(f.Reason))
	}
	return f.With("provider", c.opts.Provider)
}

// exhausted is RETRIES_EXHAUSTED after last: its metadata and RetryInfo
// hint carried on, the provider and the last reason named.
func (c *Chain) exhausted(last *classifier.Failure, format string, args ...any) *classifier.Failure {
	e := classifier.Wrap(last, guardgenv1.FailureReason_FAILURE_REASON_RETRIES_EXHAUSTED, format, args...).WithRetryDelay(last.RetryDelay)
	for k, v := range last.Metadata {
		e = e.With(k, v)
	}
	return e.With("provider", c.opts.Provider).With("last_reason", classifier.ReasonName(last.Reason))
}

// retriable reports whether f is a transient fault this chain retries:
// the classifier's verdict, narrowed to RetryReasons when set.
func (c *Chain) retriable(f *classifier.Failure) bool {
	return f.Retriable() && (len(c.opts.RetryReasons) == 0 || slices.Contains(c.opts.RetryReasons, f.Reason))
}

// onRetry is the retry interceptor's callback, run as each retry starts.
func (c *Chain) onRetry(ctx context.Context, _ uint, lastErr error) {
	if c.opts.OnRetry != nil {
		c.opts.OnRetry(ctx, c.opts.Provider, classifier.As(lastErr).Reason)
	}
}
