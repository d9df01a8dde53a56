package server

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"time"

	"buf.build/go/protovalidate"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/guardgen/guardgen/classifier"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// interceptors is the server's unary chain, outermost first. The order is
// the behaviour:
//
//  1. logging sees every call's final code and failure domain, panics
//     included, because it wraps recovery;
//  2. recovery turns a panic into INTERNAL with a PIPELINE_LOGIC
//     FailureDetail, and the process lives on;
//  3. authentication: a missing or wrong bearer token is UNAUTHENTICATED
//     (health and reflection may be exempt);
//  4. admission: per-caller rate limit and the in-flight limit shed excess
//     load at once with RESOURCE_EXHAUSTED;
//  5. request validation rejects bad input with INVALID_ARGUMENT and the
//     protovalidate violations before any handler runs.
//
// The OpenTelemetry stats handler is installed beside the chain
// (grpc.StatsHandler), so its spans cover all of it.
func (s *Server) interceptors() []grpc.UnaryServerInterceptor {
	return []grpc.UnaryServerInterceptor{
		s.logCalls,
		recovery.UnaryServerInterceptor(recovery.WithRecoveryHandlerContext(s.recovered)),
		s.authUnary,
		s.admit,
		s.validateRequests,
	}
}

// recovered is recovery's handler: a panic is a pipeline bug.
func (s *Server) recovered(ctx context.Context, p any) error {
	s.logger.ErrorContext(ctx, "panic in handler", slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
	return statusOf(classifier.New(guardgenv1.FailureReason_FAILURE_REASON_INTERNAL, "internal error; the incident was logged"))
}

// validateRequests checks every request against its protovalidate rules.
func (s *Server) validateRequests(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	msg, ok := req.(proto.Message)
	if !ok {
		return handler(ctx, req)
	}
	err := s.requestValidator.Validate(msg)
	if err == nil {
		return handler(ctx, req)
	}
	var ve *protovalidate.ValidationError
	if !errors.As(err, &ve) {
		return nil, statusOf(classifier.Wrap(err, guardgenv1.FailureReason_FAILURE_REASON_INTERNAL, "request validation could not run"))
	}
	f := classifier.FromValidation(err, nil)
	f.Reason = guardgenv1.FailureReason_FAILURE_REASON_INVALID_REQUEST
	f.Decision = classifier.Decide(f.Reason)
	return nil, statusOf(f)
}

// logCalls logs one line per call: method, code, duration and, for
// failures, the failure domain and reason. Never payloads.
func (s *Server) logCalls(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	attrs := []slog.Attr{
		slog.String("method", info.FullMethod),
		slog.String("code", status.Code(err).String()),
		slog.Duration("duration", time.Since(start)),
	}
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelWarn
		if d := failureDetail(err); d != nil {
			attrs = append(attrs,
				slog.String("domain", d.GetDomain().String()),
				slog.String("action", d.GetAction().String()),
				slog.String("reason", classifier.ReasonName(d.GetReason())),
			)
		}
		if status.Code(err) == codes.Internal {
			level = slog.LevelError
		}
	}
	s.logger.LogAttrs(ctx, level, "rpc", attrs...)
	return resp, err
}

// failureDetail returns the FailureDetail in err's status, or nil.
func failureDetail(err error) *guardgenv1.FailureDetail {
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	for _, d := range st.Details() {
		if fd, ok := d.(*guardgenv1.FailureDetail); ok {
			return fd
		}
	}
	return nil
}
