package server

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"buf.build/go/protovalidate"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/guardgen/guardgen/classifier"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// edge is the server's one unary interceptor; GenerationService's
// streams pass it too (see streams). Every call goes through these steps,
// outermost first, and the order is the behaviour:
//
//  1. logging sees every call's final code and failure domain, panics
//     included, because it wraps recovery;
//  2. rejected calls are counted by reason, and failures get the retry
//     pushback trailer that clients' retry policies read;
//  3. recovery turns a panic into INTERNAL with a PIPELINE_LOGIC
//     FailureDetail, and the process lives on;
//  4. a request the codec could not decode (not UTF-8, not protobuf, over
//     the size limit) is refused with its FailureDetail;
//  5. shutdown: the handler's context ends when the drain runs out, and
//     the call then answers UNAVAILABLE with a SHUTTING_DOWN FailureDetail;
//  6. authentication: a missing or wrong bearer token is UNAUTHENTICATED
//     (health and reflection may be exempt);
//  7. admission: per-caller rate limit and the in-flight limit shed excess
//     load at once with RESOURCE_EXHAUSTED;
//  8. request validation rejects bad input with INVALID_ARGUMENT and the
//     protovalidate violations before any handler runs.
//
// The steps are calls of three functions (edge: 1–2, guarded: 3–5,
// admitted: 6–8), not a chain of eight interceptors: grpc-go's chaining
// makes a closure per interceptor on every call, and each interceptor is
// a frame on the stack of every call while it runs.
//
// The OpenTelemetry stats handler is installed beside it
// (grpc.StatsHandler), so its spans cover all of it; without one (no
// tracing), edge reads the caller's trace context itself.
func (s *Server) edge(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	// One copy of the call's metadata for every key the call reads:
	// grpc-go's ValueFromIncomingContext compares every key of the call,
	// case-insensitively, for each key it does not hold (the request id
	// and the three trace keys, in most calls). What is kept from it is
	// small: the copy itself is not held while the call waits.
	md, _ := metadata.FromIncomingContext(ctx)
	if s.joinTrace {
		ctx = s.callerTrace(ctx, md)
	}
	note := &callLog{requestID: requestID(md), forward: forwarded(md)}
	resp, err := s.guarded(context.WithValue(ctx, callLogKey{}, note), req, info, handler)
	s.ended(ctx, info.FullMethod, start, note, err)
	return resp, err
}

// ended is edge's steps 1–2 once the call has its answer: a refusal is
// counted and told when to come back, and every call is logged. A call of
// its own, so that edge's frame, under every call, stays small.
func (s *Server) ended(ctx context.Context, method string, start time.Time, note *callLog, err error) {
	st := decodeStatus(err)
	if err != nil {
		s.countRejection(ctx, st)
		setPushback(ctx, st)
	}
	s.logCall(ctx, method, start, note, st)
}

// callStatus is a call's status code and details, decoded once for the
// steps of edge that read them: the rejection count, the pushback trailer
// and the log line.
type callStatus struct {
	code    codes.Code
	details []any
	// detail is the FailureDetail among details, nil when there is none.
	detail *guardgenv1.FailureDetail
}

// decodeStatus decodes err's status; a nil err is OK.
func decodeStatus(err error) callStatus {
	if err == nil {
		return callStatus{code: codes.OK}
	}
	st := status.Convert(err)
	cs := callStatus{code: st.Code(), details: st.Details()}
	for _, d := range cs.details {
		if fd, ok := d.(*guardgenv1.FailureDetail); ok {
			cs.detail = fd
			break
		}
	}
	return cs
}

// guarded is edge's steps 3–5: recovery, undecodable requests, shutdown.
func (s *Server) guarded(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, s.recovered(ctx, p)
		}
	}()
	if f := s.codec.take(req); f != nil {
		return nil, statusOf(f)
	}
	hctx, stop := s.handlerContext(ctx, info.FullMethod)
	defer stop()
	resp, err = s.admitted(hctx, req, info, handler)
	if err != nil && s.shutDown(hctx) {
		return nil, statusOf(shutdownFailure())
	}
	return resp, err
}

// admitted is edge's steps 6–8 and then the handler: authentication (when
// tokens are configured), admission, request validation.
func (s *Server) admitted(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if s.authUnary == nil {
		return s.admit(ctx, req, info, handler)
	}
	return s.authUnary(ctx, req, info, func(ctx context.Context, req any) (any, error) {
		return s.admit(ctx, req, info, handler)
	})
}

// recovered answers a call whose handler panicked: a panic is a pipeline
// bug.
func (s *Server) recovered(ctx context.Context, p any) error {
	// The panic value is not logged: it may hold request data (a prompt,
	// an output). Its type and the stack locate the bug.
	s.logger.ErrorContext(ctx, "panic in handler", slog.String("panic_type", fmt.Sprintf("%T", p)), slog.String("stack", string(debug.Stack())))
	return statusOf(classifier.New(guardgenv1.FailureReason_FAILURE_REASON_INTERNAL, "internal error; the incident was logged"))
}

// validate checks a request against its protovalidate rules: nil, or
// INVALID_ARGUMENT with the violations.
func (s *Server) validate(req any) error {
	msg, ok := req.(proto.Message)
	if !ok {
		return nil
	}
	err := s.requestValidator.Validate(msg)
	if err == nil {
		return nil
	}
	var ve *protovalidate.ValidationError
	if !errors.As(err, &ve) {
		return statusOf(classifier.Wrap(err, guardgenv1.FailureReason_FAILURE_REASON_INTERNAL, "request validation could not run"))
	}
	return statusOf(classifier.FromValidation(err, nil).WithReason(guardgenv1.FailureReason_FAILURE_REASON_INVALID_REQUEST))
}

// callLog is what edge takes from a call's metadata, and what a handler
// adds to the call's log line.
type callLog struct {
	// requestID is the caller's x-request-id, or a new one (requestID).
	requestID string
	// forward is the caller's metadata that goes on to the provider
	// (forwardMetadata), nil when there is none.
	forward  metadata.MD
	target   string
	outcome  string
	attempts int
	// payloads is set only under Options.LogRawPayloads; prompt and output
	// are then redacted, bounded previews.
	payloads       bool
	prompt, output string
}

type callLogKey struct{}

// noteCall lets a handler add its target, outcome and attempts to the
// call's log line.
func noteCall(ctx context.Context, target, outcome string, attempts int) {
	if l, ok := ctx.Value(callLogKey{}).(*callLog); ok {
		l.target, l.outcome, l.attempts = target, outcome, attempts
	}
}

// notePayloads adds previews of the prompt and the model output to the
// call's log line. Callers pass previews, never raw text, and only under
// Options.LogRawPayloads.
func notePayloads(ctx context.Context, prompt, output string) {
	if l, ok := ctx.Value(callLogKey{}).(*callLog); ok {
		l.payloads, l.prompt, l.output = true, prompt, output
	}
}

// logCall writes one call's log line: request id, trace id, method, code,
// latency and, from the handler, target, outcome and attempts; for
// failures, the failure domain, action and reason; payloads only when the
// handler noted them (Options.LogRawPayloads). It is a call of its own so
// that the line's attributes take no room on the stack of every call
// while it runs (see TestHandlerStackStaysSmall).
func (s *Server) logCall(ctx context.Context, method string, start time.Time, note *callLog, st callStatus) {
	level := slog.LevelInfo
	switch st.code {
	case codes.OK:
	case codes.Internal:
		level = slog.LevelError
	default:
		level = slog.LevelWarn
	}
	// The record goes to the handler directly: Logger.LogAttrs would also
	// walk the stack for the caller's source position (runtime.Callers, a
	// fifth of the line's cost), which no guardgen handler writes.
	h := s.logger.Handler()
	if !h.Enabled(ctx, level) {
		return
	}
	now := time.Now()
	attrs := make([]slog.Attr, 0, 14)
	attrs = append(attrs,
		slog.String("request_id", note.requestID),
		slog.String("method", method),
		slog.String("code", st.code.String()),
		slog.Duration("latency", now.Sub(start)),
	)
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
	}
	if note.target != "" {
		attrs = append(attrs, slog.String("target", note.target), slog.String("outcome", note.outcome), slog.Int("attempts", note.attempts))
	}
	if note.payloads {
		attrs = append(attrs, slog.String("prompt", note.prompt), slog.String("output", note.output))
	}
	if d := st.detail; d != nil {
		attrs = append(attrs,
			slog.String("domain", d.GetDomain().String()),
			slog.String("action", d.GetAction().String()),
			slog.String("reason", classifier.ReasonName(d.GetReason())),
		)
	}
	r := slog.NewRecord(now, level, "rpc", 0)
	r.AddAttrs(attrs...)
	_ = h.Handle(ctx, r) // a write error has nowhere better to go, as with LogAttrs
}

// requestID is the caller's x-request-id when it sent a sane one, else a
// new random id.
func requestID(md metadata.MD) string {
	if v := md.Get("x-request-id"); len(v) > 0 && len(v[0]) > 0 && len(v[0]) <= 128 {
		return v[0]
	}
	// Not a secret (a caller may send any id it likes), so the runtime's
	// generator, with no system call, not crypto/rand.
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

// callerTrace is ctx with the caller's trace context (traceparent,
// baggage) from its metadata md, as otelgrpc's stats handler reads it
// when there is one: the call's log line names the caller's trace, and
// the provider passes it on upstream.
func (s *Server) callerTrace(ctx context.Context, md metadata.MD) context.Context {
	return s.opts.Propagator.Extract(ctx, incomingCarrier(md))
}

// incomingCarrier reads a call's incoming metadata for a propagator.
type incomingCarrier metadata.MD

func (c incomingCarrier) Get(key string) string {
	if v := metadata.MD(c).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Set does nothing: incoming metadata is read, never written.
func (incomingCarrier) Set(string, string) {}

func (c incomingCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
