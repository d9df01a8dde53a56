package server

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/guardgen/guardgen/classifier"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/partial"
)

// GenerateStream implements GenerationService.GenerateStream: Generate,
// with each provider call streamed, its partial messages sent as fields
// complete, a reset before the partials of an attempt that replaces one
// that sent some, and the response last. A failure ends the stream with
// the status Generate would return.
func (s *Server) GenerateStream(req *guardgenv1.GenerateRequest, stream grpc.ServerStreamingServer[guardgenv1.GenerateStreamResponse]) error {
	events := &streamEvents{stream: stream}
	resp, err := s.generate(stream.Context(), req, events)
	if err != nil {
		return err
	}
	// A client that went away gets nothing; its context says so.
	return stream.Send(&guardgenv1.GenerateStreamResponse{Event: &guardgenv1.GenerateStreamResponse_Response{Response: resp}})
}

// streamEvents sends the events of one GenerateStream call before its
// response: partial messages and resets. Its methods do nothing on a nil
// *streamEvents, which is how Generate runs the same loop.
type streamEvents struct {
	stream grpc.ServerStreamingServer[guardgenv1.GenerateStreamResponse]
	g      *generation
	// live is the provider call whose partials the client holds; 0 when
	// it holds none.
	live int
	// partials counts the partials sent; first is when the first was,
	// after the request arrived.
	partials int
	first    time.Duration
	// failed is set once a Send failed: the client is gone, and the
	// request's context ends with it.
	failed bool
}

// partial sends the partial message of b, written by provider call call
// of generation semantic. A client holding another call's partials is
// told first that they are void: that call's output was abandoned for
// this one (the route's next entry, say).
func (e *streamEvents) partial(ctx context.Context, call, semantic int, b *partial.Builder) {
	if e == nil || e.failed {
		return
	}
	if e.live != 0 && e.live != call {
		e.reset(e.live, guardgenv1.ResetReason_RESET_REASON_FALLBACK, e.g.failureOf(e.live))
	}
	msg, growing := b.Message()
	packed, err := anypb.New(msg)
	if err != nil {
		return
	}
	js, err := e.g.target.Encode(msg)
	if err != nil {
		return
	}
	fields := b.Fields()
	p := &guardgenv1.PartialMessage{
		Message:         packed,
		Json:            string(js),
		CompleteFields:  make([]string, 0, len(fields)),
		Attempt:         int32(call),
		SemanticAttempt: int32(semantic),
		Closed:          b.Done(),
	}
	for _, f := range fields {
		if f.Path != "" { // the message itself: closed says it
			p.CompleteFields = append(p.CompleteFields, f.Path)
		}
	}
	if growing != "" {
		p.GrowingFields = []string{growing}
	}
	if !e.send(&guardgenv1.GenerateStreamResponse{Event: &guardgenv1.GenerateStreamResponse_Partial{Partial: p}}) {
		return
	}
	e.live = call
	e.partials++
	if e.partials == 1 {
		e.first = time.Since(e.g.start)
		e.g.s.metrics.RecordFirstPartial(ctx, string(e.g.target.Desc.FullName()), e.first)
		trace.SpanFromContext(ctx).AddEvent("first_partial", trace.WithAttributes(
			attribute.Int("guardgen.attempt", call), attribute.Int("guardgen.complete_fields", len(fields))))
	}
}

// reset tells the client that the partials of provider call call are
// void, and why, if it holds them.
func (e *streamEvents) reset(call int, reason guardgenv1.ResetReason, f *classifier.Failure) {
	if e == nil || e.live == 0 || e.live != call {
		return
	}
	r := &guardgenv1.StreamReset{Attempt: int32(call), Reason: reason}
	if f != nil {
		r.Failure = f.Detail()
	}
	e.live = 0
	e.send(&guardgenv1.GenerateStreamResponse{Event: &guardgenv1.GenerateStreamResponse_Reset_{Reset_: r}})
}

func (e *streamEvents) send(ev *guardgenv1.GenerateStreamResponse) bool {
	if e.failed {
		return false
	}
	if err := e.stream.Send(ev); err != nil {
		e.failed = true
		return false
	}
	return true
}

// done ends the events before the response (or the failure): partials of
// a call that is not the answer's are void, and the stream's partials are
// counted.
func (e *streamEvents) done(ctx context.Context, g *generation, resp *guardgenv1.GenerateResponse) {
	if e == nil {
		return
	}
	if resp != nil && e.live != g.answered {
		e.reset(e.live, guardgenv1.ResetReason_RESET_REASON_FALLBACK, g.failureOf(e.live))
	}
	g.s.metrics.RecordPartials(ctx, string(g.target.Desc.FullName()), e.partials)
}

// report adds the stream's own numbers to the report.
func (e *streamEvents) report(r *guardgenv1.GenerationReport) {
	if e == nil {
		return
	}
	r.Partials = int32(e.partials)
	if e.partials > 0 {
		r.FirstPartial = durationpb.New(e.first)
	}
}
