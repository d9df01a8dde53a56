package providers

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// InProcess returns a client connection that calls srv directly, without a
// network hop, through the given unary client interceptors (first is
// outermost). The provider sees the caller's outgoing metadata as incoming
// metadata and the caller's deadline, exactly as it would over gRPC.
func InProcess(srv providerv1.ProviderServiceServer, interceptors ...grpc.UnaryClientInterceptor) grpc.ClientConnInterface {
	c := &inProcessConn{srv: srv}
	c.call = chainInvoker(interceptors, c.invoke)
	return c
}

type inProcessConn struct {
	srv providerv1.ProviderServiceServer
	// call is the interceptors composed around invoke, once: a call makes
	// no closure per layer.
	call grpc.UnaryInvoker
}

var errStreamsUnsupported = status.Error(codes.Unimplemented, "providers: streaming is not part of the provider contract")

func (c *inProcessConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return c.call(ctx, method, args, reply, nil, opts...)
}

func (c *inProcessConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, errStreamsUnsupported
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
	if md, ok := metadata.FromOutgoingContext(ctx); ok {
		ctx = metadata.NewIncomingContext(ctx, md)
	}
	resp, err := c.srv.Complete(ctx, req)
	if err != nil {
		if _, ok := status.FromError(err); ok {
			return err
		}
		// A provider must speak in statuses; anything else is a provider bug,
		// surfaced as the context error when that is what it is.
		return status.FromContextError(err).Err()
	}
	if resp == nil {
		return status.Error(codes.Internal, "providers: provider returned no response")
	}
	proto.Reset(out)
	proto.Merge(out, resp)
	return nil
}

// chainInvoker composes interceptors around final, first outermost, as
// grpc.WithChainUnaryInterceptor does for a real connection, but once:
// grpc-go builds a closure per layer on every call, this builds one per
// layer when the connection is made.
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
