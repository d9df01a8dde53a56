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
	return &inProcessConn{srv: srv, chain: chainUnary(interceptors)}
}

type inProcessConn struct {
	srv   providerv1.ProviderServiceServer
	chain grpc.UnaryClientInterceptor
}

var errStreamsUnsupported = status.Error(codes.Unimplemented, "providers: streaming is not part of the provider contract")

func (c *inProcessConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	if c.chain == nil {
		return c.invoke(ctx, method, args, reply, nil, opts...)
	}
	return c.chain(ctx, method, args, reply, nil, c.invoke, opts...)
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

// chainUnary composes interceptors into one, first outermost, as
// grpc.WithChainUnaryInterceptor does for a real connection.
func chainUnary(interceptors []grpc.UnaryClientInterceptor) grpc.UnaryClientInterceptor {
	switch len(interceptors) {
	case 0:
		return nil
	case 1:
		return interceptors[0]
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return interceptors[0](ctx, method, req, reply, cc, chained(interceptors[1:], invoker), opts...)
	}
}

func chained(rest []grpc.UnaryClientInterceptor, final grpc.UnaryInvoker) grpc.UnaryInvoker {
	if len(rest) == 0 {
		return final
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		return rest[0](ctx, method, req, reply, cc, chained(rest[1:], final), opts...)
	}
}

// String names the connection in logs.
func (c *inProcessConn) String() string { return fmt.Sprintf("in-process %T", c.srv) }
