package providers

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// InProcess returns a client connection that calls srv directly, without a
// network hop, through the given unary client interceptors (first is
// outermost); CompleteStream calls go through no interceptor (see
// [Chain.InProcess] for a connection with the chain's stream interceptors
// too). The provider sees the caller's outgoing metadata as incoming
// metadata and the caller's deadline, exactly as it would over gRPC.
func InProcess(srv providerv1.ProviderServiceServer, interceptors ...grpc.UnaryClientInterceptor) grpc.ClientConnInterface {
	return newInProcess(srv, interceptors, nil)
}

// newInProcess composes the interceptors around the provider's handler
// once, when the connection is made: a call walks the chain without
// making a closure per layer, as grpc-go's chaining does on every call.
func newInProcess(srv providerv1.ProviderServiceServer, unary []grpc.UnaryClientInterceptor, streams []grpc.StreamClientInterceptor) *inProcessConn {
	c := &inProcessConn{srv: srv}
	c.call = chainInvoker(unary, c.invoke)
	c.stream = chainStreamer(streams, c.newStream)
	return c
}

type inProcessConn struct {
	srv providerv1.ProviderServiceServer
	// call and stream are the interceptors composed around invoke and
	// newStream; with chain set, call is what follows the chain's
	// pushback (see Chain.InProcess).
	call   grpc.UnaryInvoker
	stream grpc.Streamer
	chain  *Chain
}

func (c *inProcessConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	if c.chain != nil {
		return c.chain.pushback(ctx, method, args, reply, nil, c.call, opts...)
	}
	return c.call(ctx, method, args, reply, nil, opts...)
}

// NewStream opens a stream through the stream interceptors, first
// outermost, as grpc.WithChainStreamInterceptor does for a real
// connection.
func (c *inProcessConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return c.stream(ctx, desc, nil, method, opts...)
}

// chainStreamer composes stream interceptors around final, first
// outermost, once (see newInProcess).
func chainStreamer(interceptors []grpc.StreamClientInterceptor, final grpc.Streamer) grpc.Streamer {
	next := final
	for i := len(interceptors) - 1; i >= 0; i-- {
		interceptor, inner := interceptors[i], next
		next = func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return interceptor(ctx, desc, cc, method, inner, opts...)
		}
	}
	return next
}

// invoke is the innermost invoker: the provider's handler itself.
func (c *inProcessConn) invoke(ctx context.Context, method string, args, reply any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
	if method != providerv1.ProviderService_Complete_FullMethodName {
		return status.Errorf(codes.Unimplemented, "providers: unknown method %s", method)
	}
	req, ok := args.(*providerv1.CompleteRequest)
	if !ok {
		return status.Errorf(codes.Internal, "providers: request is %T", args)
	}
	out, ok := reply.(*providerv1.CompleteResponse)
	if !ok {
		return status.Errorf(codes.Internal, "providers: reply is %T", reply)
	}
	resp, err := c.srv.Complete(incoming(ctx), req)
	if err != nil {
		return providerStatus(err)
	}
	if resp == nil {
		return status.Error(codes.Internal, "providers: provider returned no response")
	}
	proto.Reset(out)
	proto.Merge(out, resp)
	return nil
}

// incoming gives the provider the caller's outgoing metadata as incoming
// metadata, as a gRPC server sees it, with the attempt's call number
// (CallMetadataKey) when the chain numbered it (see Chain.startAttempt).
// Appended to the outgoing metadata and copied back here, the number was
// six allocations per attempt; most calls forward no metadata, and then
// the provider gets a shared, prebuilt map.
func incoming(ctx context.Context) context.Context {
	n, numbered := ctx.Value(callNumberKey{}).(int)
	md, ok := metadata.FromOutgoingContext(ctx)
	switch {
	case ok && numbered:
		md[CallMetadataKey] = []string{strconv.Itoa(n)} // md is a copy
	case numbered && n > 0 && n < len(numberedCalls):
		md = numberedCalls[n]
	case numbered:
		md = metadata.Pairs(CallMetadataKey, strconv.Itoa(n))
	case !ok:
		return ctx
	}
	return metadata.NewIncomingContext(ctx, md)
}

// callNumberKey is the context key of an in-process attempt's call number.
type callNumberKey struct{}

// numberedCalls is the incoming metadata of the first calls of a request
// that forwards no metadata of its own, by call number. Providers see
// copies (metadata.FromIncomingContext and ValueFromIncomingContext copy),
// so the maps are never written.
var numberedCalls = func() []metadata.MD {
	mds := make([]metadata.MD, 17)
	for n := 1; n < len(mds); n++ {
		mds[n] = metadata.Pairs(CallMetadataKey, strconv.Itoa(n))
	}
	return mds
}()

// providerStatus is the status of a provider's error. A provider must
// speak in statuses; anything else is a provider bug, surfaced as the
// context error when that is what it is.
func providerStatus(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.FromContextError(err).Err()
}

// newStream is the innermost streamer: a CompleteStream call of the
// provider's handler, run on its own goroutine once the request is sent.
func (c *inProcessConn) newStream(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, method string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
	if method != providerv1.ProviderService_CompleteStream_FullMethodName {
		return nil, status.Errorf(codes.Unimplemented, "providers: unknown method %s", method)
	}
	ctx, cancel := context.WithCancel(ctx)
	return &inProcessStream{srv: c.srv, ctx: ctx, cancel: cancel, chunks: make(chan *providerv1.CompleteStreamResponse), done: make(chan struct{})}, nil
}

// inProcessStream is both ends of an in-process CompleteStream call. The
// provider's chunks are handed over one by one on an unbuffered channel,
// so a provider writes no faster than its caller reads, as over gRPC.
type inProcessStream struct {
	srv    providerv1.ProviderServiceServer
	ctx    context.Context
	cancel context.CancelFunc
	req    *providerv1.CompleteRequest
	once   sync.Once
	chunks chan *providerv1.CompleteStreamResponse
	done   chan struct{} // closed when the handler has returned; err is then set
	err    error
}

func (s *inProcessStream) Context() context.Context     { return s.ctx }
func (s *inProcessStream) Header() (metadata.MD, error) { return nil, nil }
func (s *inProcessStream) Trailer() metadata.MD         { return nil }

// SendMsg keeps the request; the call starts when the caller closes its
// side.
func (s *inProcessStream) SendMsg(m any) error {
	req, ok := m.(*providerv1.CompleteRequest)
	if !ok {
		return status.Errorf(codes.Internal, "providers: request is %T", m)
	}
	if s.req != nil {
		return status.Error(codes.Internal, "providers: CompleteStream takes one request")
	}
	s.req = req
	return nil
}

// CloseSend starts the provider's handler.
func (s *inProcessStream) CloseSend() error {
	s.start()
	return nil
}

func (s *inProcessStream) start() {
	s.once.Do(func() {
		if s.req == nil {
			s.err = status.Error(codes.Internal, "providers: CompleteStream called without a request")
			close(s.done)
			return
		}
		go func() {
			defer close(s.done)
			err := s.srv.CompleteStream(s.req, &inProcessServerStream{s: s, ctx: incoming(s.ctx)})
			if err != nil {
				s.err = providerStatus(err)
			}
		}()
	})
}

// RecvMsg returns the provider's next chunk, io.EOF after its last, or the
// status the handler returned. The caller's cancellation ends the call at
// once; the handler sees its context done. As over gRPC, the caller must
// read until an error or cancel the context, or the handler waits forever
// to hand over its next chunk.
func (s *inProcessStream) RecvMsg(m any) error {
	out, ok := m.(*providerv1.CompleteStreamResponse)
	if !ok {
		return status.Errorf(codes.Internal, "providers: reply is %T", m)
	}
	s.start()
	select {
	case chunk := <-s.chunks:
		proto.Reset(out)
		proto.Merge(out, chunk)
		return nil
	case <-s.done:
	case <-s.ctx.Done():
		// Not waiting for the handler: one that ignores its context must
		// not hold the caller past its deadline.
		return status.FromContextError(s.ctx.Err()).Err()
	}
	s.cancel()
	if s.err != nil {
		return s.err
	}
	return io.EOF
}

// inProcessServerStream is the provider's end.
type inProcessServerStream struct {
	grpc.ServerStream
	s   *inProcessStream
	ctx context.Context
}

func (ss *inProcessServerStream) Context() context.Context { return ss.ctx }

func (ss *inProcessServerStream) SetHeader(metadata.MD) error  { return nil }
func (ss *inProcessServerStream) SendHeader(metadata.MD) error { return nil }
func (ss *inProcessServerStream) SetTrailer(metadata.MD)       {}

// Send hands a copy of chunk to the caller, as gRPC would have encoded it
// before Send returned.
func (ss *inProcessServerStream) Send(chunk *providerv1.CompleteStreamResponse) error {
	if chunk == nil {
		return status.Error(codes.Internal, "providers: nil chunk")
	}
	select {
	case ss.s.chunks <- proto.CloneOf(chunk):
		return nil
	case <-ss.s.ctx.Done():
		return status.FromContextError(ss.s.ctx.Err()).Err()
	}
}

func (ss *inProcessServerStream) SendMsg(m any) error {
	chunk, ok := m.(*providerv1.CompleteStreamResponse)
	if !ok {
		return status.Errorf(codes.Internal, "providers: chunk is %T", m)
	}
	return ss.Send(chunk)
}

func (ss *inProcessServerStream) RecvMsg(any) error {
	return status.Error(codes.Internal, "providers: CompleteStream takes one request")
}

// chainInvoker composes unary interceptors around final, first
// outermost, once (see newInProcess).
func chainInvoker(interceptors []grpc.UnaryClientInterceptor, final grpc.UnaryInvoker) grpc.UnaryInvoker {
	next := final
	for i := len(interceptors) - 1; i >= 0; i-- {
		interceptor, inner := interceptors[i], next
		next = func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
			return interceptor(ctx, method, req, reply, cc, inner, opts...)
		}
	}
	return next
}

// String names the connection in logs.
func (c *inProcessConn) String() string { return fmt.Sprintf("in-process %T", c.srv) }
