package server

import (
	"context"

	"google.golang.org/grpc"
)

// streamInterceptors is the server's stream chain, outermost first: a
// message the codec could not decode is refused as it arrives, then
// GenerationService's streams go through edge, the unary interceptor (see
// streams), and the others (health's Watch, reflection) end on shutdown
// and are authenticated.
func (s *Server) streamInterceptors() []grpc.StreamServerInterceptor {
	return []grpc.StreamServerInterceptor{s.rejectUndecodableStream, s.streams}
}

// streams runs GenerationService's streams through the unary interceptor
// (edge), so that a stream is logged, counted, given retry pushback,
// recovered, ended on shutdown with its FailureDetail, authenticated and
// admitted exactly as a Generate call is; its in-flight
// slot is held until the stream ends, and its request is validated as it
// is received. Other streams are long-lived and only end on shutdown and
// are authenticated: they must not hold an in-flight slot.
func (s *Server) streams(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !generates(info.FullMethod) {
		return s.endStreamOnShutdown(srv, ss, info, func(srv any, ss grpc.ServerStream) error {
			if s.authStream == nil { // no tokens: no authentication
				return handler(srv, ss)
			}
			return s.authStream(srv, ss, info, handler)
		})
	}
	unary := &grpc.UnaryServerInfo{Server: srv, FullMethod: info.FullMethod}
	_, err := s.edge(ss.Context(), nil, unary, func(ctx context.Context, _ any) (any, error) {
		return nil, handler(srv, &validatedStream{ServerStream: ss, ctx: ctx, s: s})
	})
	return err
}

// validatedStream is a stream whose context is edge's and whose
// request is validated as it is received.
type validatedStream struct {
	grpc.ServerStream
	ctx context.Context
	s   *Server
}

func (c *validatedStream) Context() context.Context { return c.ctx }

func (c *validatedStream) RecvMsg(m any) error {
	if err := c.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return c.s.validate(m)
}
