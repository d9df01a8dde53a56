package providers

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/guardgen/guardgen/classifier"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// StreamInterceptors returns the chain's stream client interceptors,
// outermost first. They give CompleteStream calls what Interceptors gives
// Complete calls, with the same policy and the same state:
//
//  1. retryStream: per-call retry state (the same decisions as pushback:
//     RetryInfo, the deadline, the retry budget), retrying a stream that
//     failed before it delivered a chunk, and after that only when the
//     caller allows a restart (see [WithRestarts]);
//  2. attemptStream: the circuit breaker, the per-attempt timeout, the
//     provider-call cap, the x-guardgen-call number, a span and a Call
//     record per attempt, the stream's failure classified once.
//
// go-grpc-middleware's stream retry is not used: it never retries a stream
// once a message arrived, and guardgen must be able to, when the caller
// opted in to restarts.
func (c *Chain) StreamInterceptors() []grpc.StreamClientInterceptor {
	return []grpc.StreamClientInterceptor{c.retryStream, c.attemptStream}
}

// InProcess returns a connection that calls srv in process through the
// chain's unary and stream interceptors.
func (c *Chain) InProcess(srv providerv1.ProviderServiceServer) grpc.ClientConnInterface {
	conn := newInProcess(srv, nil, c.StreamInterceptors())
	conn.chain, conn.call = c, c.afterPushback(conn.invoke)
	return conn
}

// afterPushback is what Interceptors runs after pushback, composed around
// final, in their order, with each layer calling the next method directly;
// the connection calls pushback itself (see inProcessConn.Invoke).
// Chained as values, every method passes through a wrapper frame, and
// these frames are on the stack under every provider call's wait (see
// TestHandlerStackStaysSmall in package app).
func (c *Chain) afterPushback(final grpc.UnaryInvoker) grpc.UnaryInvoker {
	toAttempt := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		return c.attempt(ctx, method, req, reply, cc, final, opts...)
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		return c.retry(ctx, method, req, reply, cc, toAttempt, opts...)
	}
}

// DialOptions install the chain on a gRPC client connection.
func (c *Chain) DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(c.Interceptors()...),
		grpc.WithChainStreamInterceptor(c.StreamInterceptors()...),
	}
}

// Restarts lets the caller of a completion stream decide whether a
// transport retry may start the stream over once it has delivered chunks,
// and hear when it does. A stream that delivered nothing is retried
// without asking.
type Restarts struct {
	// Allowed reports whether the stream may start over now; nil means
	// never.
	Allowed func() bool
	// Restarted is told, before the new attempt's first chunk, that every
	// chunk received so far is void, and why the stream broke.
	Restarted func(*classifier.Failure)
}

type restartsKey struct{}

// WithRestarts returns ctx carrying r for the completion streams opened
// with it.
func WithRestarts(ctx context.Context, r Restarts) context.Context {
	return context.WithValue(ctx, restartsKey{}, r)
}

func restartsFrom(ctx context.Context) Restarts {
	r, _ := ctx.Value(restartsKey{}).(Restarts)
	return r
}

// errStreamUnimplemented is what a chain that learned its provider has no
// CompleteStream answers at once.
var errStreamUnimplemented = status.Error(grpccodes.Unimplemented, "providers: the provider does not implement CompleteStream")

// retryStream retries server-streaming calls. Other calls pass through.
func (c *Chain) retryStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if desc == nil || !desc.ServerStreams || desc.ClientStreams {
		return streamer(ctx, desc, cc, method, opts...)
	}
	s := &retryingStream{c: c, ctx: ctx, st: c.newRetryState(ctx), desc: desc, cc: cc, method: method, streamer: streamer, opts: opts}
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, s.st.final(ctx, err)
	}
	s.cur = cs
	return s, nil
}

// retryingStream is one server-streaming call across its attempts. Its
// request is kept to be sent again.
type retryingStream struct {
	c        *Chain
	ctx      context.Context
	st       *retryState
	desc     *grpc.StreamDesc
	cc       *grpc.ClientConn
	method   string
	streamer grpc.Streamer
	opts     []grpc.CallOption

	cur      grpc.ClientStream
	req      any
	received bool // the current attempt delivered a message
}

func (s *retryingStream) Header() (metadata.MD, error) { return s.cur.Header() }
func (s *retryingStream) Trailer() metadata.MD         { return s.cur.Trailer() }
func (s *retryingStream) Context() context.Context     { return s.ctx }

func (s *retryingStream) SendMsg(m any) error {
	s.req = m
	return s.cur.SendMsg(m)
}

func (s *retryingStream) CloseSend() error { return s.cur.CloseSend() }

// RecvMsg returns the next message. When the attempt fails, it decides as
// pushback does whether to retry (and how long to wait), asks the
// caller's Restarts first if chunks were delivered, and carries on with a
// new attempt.
func (s *retryingStream) RecvMsg(m any) error {
	for {
		err := s.cur.RecvMsg(m)
		switch {
		case err == nil:
			s.received = true
			return nil
		case errors.Is(err, io.EOF):
			return err
		case s.ctx.Err() != nil:
			return s.st.final(s.ctx, err)
		}
		restarts := restartsFrom(s.ctx)
		// err is the attempt's one failure (attemptStream classified it),
		// so As only asserts it.
		if s.received && s.c.retriable(classifier.As(err)) && (restarts.Allowed == nil || !restarts.Allowed()) {
			return s.st.final(s.ctx, classifier.As(err).With("retry_stopped", "stream_started"))
		}
		if !s.st.retriable(err) {
			return s.st.final(s.ctx, err)
		}
		if werr := s.wait(); werr != nil {
			return s.st.final(s.ctx, err)
		}
		s.c.onRetry(s.ctx, s.st.retries, err)
		if s.received && restarts.Restarted != nil {
			restarts.Restarted(classifier.As(err))
		}
		s.received = false
		if oerr := s.reopen(); oerr != nil {
			return s.st.final(s.ctx, oerr)
		}
	}
}

// wait sleeps the backoff the retry state decided, or until the call's
// context ends.
func (s *retryingStream) wait() error {
	s.st.mu.Lock()
	d := s.st.wait
	s.st.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

// reopen starts a new attempt and sends it the request again.
func (s *retryingStream) reopen() error {
	cs, err := s.streamer(s.ctx, s.desc, s.cc, s.method, s.opts...)
	if err != nil {
		return err
	}
	s.cur = cs
	if err := cs.SendMsg(s.req); err != nil {
		return err
	}
	return cs.CloseSend()
}

// attemptStream makes each CompleteStream attempt one attempt of the
// chain: it starts when the request is sent and ends with the stream.
func (c *Chain) attemptStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if method != providerv1.ProviderService_CompleteStream_FullMethodName {
		return streamer(ctx, desc, cc, method, opts...)
	}
	if c.unaryOnly.Load() {
		return nil, errStreamUnimplemented
	}
	return &attemptStream{c: c, parent: ctx, desc: desc, cc: cc, method: method, streamer: streamer, opts: opts}, nil
}

// attemptStream is one transport attempt of a CompleteStream call. What
// its chunks say of the completion (finish reason, usage, model, id) is
// recorded when it ends: at the end of the stream, on its failure, or when
// its context ends first, whichever comes first.
type attemptStream struct {
	c        *Chain
	parent   context.Context
	desc     *grpc.StreamDesc
	cc       *grpc.ClientConn
	method   string
	streamer grpc.Streamer
	opts     []grpc.CallOption

	cs       grpc.ClientStream
	ctx      context.Context // the attempt's, under its timeout
	cancel   context.CancelFunc
	stop     func() bool // unregisters the end on the context's end
	received bool

	mu      sync.Mutex
	run     *attemptRun
	summary providerv1.CompleteResponse // what the chunks said, without content
	ended   bool
	err     error // the failure the attempt ended with
}

// SendMsg starts the attempt: the breaker admits it, the cap counts it,
// and the stream opens with the request.
func (s *attemptStream) SendMsg(m any) error {
	if s.cs != nil {
		return status.Error(grpccodes.Internal, "providers: CompleteStream takes one request")
	}
	req, _ := m.(*providerv1.CompleteRequest)
	ctx, run, err := s.c.startAttempt(s.parent, req, s.cc == nil)
	if err != nil {
		return err
	}
	s.run = run
	s.ctx, s.cancel = ctx, func() {}
	if t := s.timeout(); t > 0 {
		s.ctx, s.cancel = context.WithTimeout(ctx, t)
	}
	cs, err := s.streamer(s.ctx, s.desc, s.cc, s.method, s.opts...)
	if err == nil {
		err = cs.SendMsg(m)
	}
	if err != nil {
		return s.end(s.classify(err))
	}
	s.cs = cs
	// Under mu: when s.ctx is already done, the func runs at once on its
	// own goroutine, and end reads s.stop.
	s.mu.Lock()
	s.stop = context.AfterFunc(s.ctx, func() { s.end(s.classify(s.ctx.Err())) })
	s.mu.Unlock()
	return nil
}

func (s *attemptStream) CloseSend() error {
	if s.cs == nil {
		return s.failed()
	}
	return s.cs.CloseSend()
}

func (s *attemptStream) Header() (metadata.MD, error) {
	if s.cs == nil {
		return nil, s.failed()
	}
	return s.cs.Header()
}

func (s *attemptStream) Trailer() metadata.MD {
	if s.cs == nil {
		return nil
	}
	return s.cs.Trailer()
}

func (s *attemptStream) Context() context.Context {
	if s.ctx == nil {
		return s.parent
	}
	return s.ctx
}

// failed is the error of an attempt that never opened.
func (s *attemptStream) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	return status.Error(grpccodes.Internal, "providers: CompleteStream used before its request was sent")
}

// RecvMsg returns the next chunk. The attempt ends with io.EOF or the
// first error, classified once: that one failure value is what the
// breaker, the budget, the record and the caller see.
func (s *attemptStream) RecvMsg(m any) error {
	if s.cs == nil {
		return s.failed()
	}
	err := s.cs.RecvMsg(m)
	switch {
	case err == nil:
		if chunk, ok := m.(*providerv1.CompleteStreamResponse); ok {
			s.observe(chunk)
		}
		s.received = true
		return nil
	case errors.Is(err, io.EOF):
		if ferr := s.end(nil); ferr != nil {
			return ferr // the context ended first
		}
		return io.EOF
	case !s.received && s.parent.Err() == nil && status.Code(err) == grpccodes.Unimplemented:
		// The provider has no CompleteStream: nothing was attempted, and
		// the chain remembers it (see [OpenStream]).
		s.c.unaryOnly.Store(true)
		s.abandon()
		return errStreamUnimplemented
	}
	return s.end(s.classify(err))
}

// classify turns the attempt's error into its one failure value: the
// caller's own cancellation or deadline as such, an attempt that ran out
// of its own time as an upstream timeout (retriable), else the provider's
// status by the contract.
func (s *attemptStream) classify(err error) *classifier.Failure {
	switch {
	case s.parent.Err() != nil:
		return s.c.callerFailure(s.parent)
	case s.ctx != nil && s.ctx.Err() != nil:
		return classifier.As(attemptTimedOut(s.timeout()))
	}
	return classifier.As(err)
}

// timeout bounds the whole stream: the per-attempt timeout, or the
// breaker's probe timeout when it is shorter; 0 when neither is set.
func (s *attemptStream) timeout() time.Duration { return s.c.attemptTimeout(s.run.probe) }

// observe keeps what a chunk says of the completion.
func (s *attemptStream) observe(chunk *providerv1.CompleteStreamResponse) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := &s.summary
	if r := chunk.GetFinishReason(); r != providerv1.FinishReason_FINISH_REASON_UNSPECIFIED {
		sum.FinishReason = r
	}
	if u := chunk.GetUsage(); u != nil {
		sum.Usage = u
	}
	if chunk.GetModel() != "" {
		sum.Model = chunk.GetModel()
	}
	if chunk.GetId() != "" {
		sum.Id = chunk.GetId()
	}
	if chunk.GetConstraint() != nil {
		sum.Constraint = chunk.GetConstraint()
	}
}

// end ends the attempt once with f (nil: the stream ended normally) and
// returns the failure it ended with, which may be an earlier one.
func (s *attemptStream) end(f *classifier.Failure) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		if s.err == nil {
			return nil
		}
		return s.err
	}
	s.ended = true
	if s.stop != nil {
		s.stop()
	}
	var resp *providerv1.CompleteResponse
	if f == nil {
		resp = &s.summary
	}
	s.run.end(s.parent, f, resp)
	s.cancel()
	if f == nil {
		return nil
	}
	s.err = f
	return f
}

// abandon ends an attempt that turned out never to have been made: the
// breaker is released and the call's number given back.
func (s *attemptStream) abandon() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.ended = true
	if s.stop != nil {
		s.stop()
	}
	s.run.release()
	if s.run.rec != nil {
		s.run.rec.unbegin(s.run.number)
	}
	s.cancel()
	s.err = classifier.As(errStreamUnimplemented)
}
