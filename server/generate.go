package server

import (
	"context"
	"errors"
	"time"

	"github.com/guardgen/guardgen/classifier"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/schema"
	"github.com/guardgen/guardgen/telemetry"
)

// Generate implements GenerationService.Generate: resolve the target, run
// the attempt loop, answer with a validated message or a classified failure.
func (s *Server) Generate(ctx context.Context, req *guardgenv1.GenerateRequest) (*guardgenv1.GenerateResponse, error) {
	return s.generate(ctx, req, nil)
}

// generate is Generate, and GenerateStream when events is set: then each
// provider call is a stream whose partial messages go to events (see
// askStream), and the loop tells events of the attempts it abandons. All
// else (re-asks, degradation, verification, reporting, metrics, logging)
// is one code path. Its frame stays on the stack while the provider is
// waited for, so what runs once per call before and after the loop is in
// begin and finish (see TestHandlerStackStaysSmall).
func (s *Server) generate(ctx context.Context, req *guardgenv1.GenerateRequest, events *streamEvents) (*guardgenv1.GenerateResponse, error) {
	g, ctx, err := s.begin(ctx, req, events)
	if err != nil {
		return nil, err
	}
	defer g.end()
	resp, f := g.loop(ctx)
	return g.finish(ctx, resp, f)
}

// begin starts a generation: the prompt's size, the route, the target,
// the span and the recorder of provider calls. The generation's end
// releases what it holds. guardgen's own deadline is already on ctx
// (edge's handlerContext).
func (s *Server) begin(ctx context.Context, req *guardgenv1.GenerateRequest, events *streamEvents) (*generation, context.Context, error) {
	start := time.Now()
	if n := len(req.GetPrompt()); s.opts.MaxPromptBytes > 0 && n > s.opts.MaxPromptBytes {
		return nil, ctx, s.promptTooLong(n)
	}
	route, rf := s.route(ctx, req)
	if rf != nil {
		return nil, ctx, statusOf(rf)
	}
	target, err := s.resolver.ResolveContext(ctx, req.GetTargetType(), req.GetDescriptorSet())
	if err != nil {
		return nil, ctx, statusOf(resolveFailure(err))
	}
	spanName := "guardgen.generate"
	if events != nil {
		spanName = "guardgen.generate_stream"
	}
	// With a no-op tracer, Start would only put a no-op span in a new
	// context; ctx keeps the caller's span context either way.
	span := telemetry.NoSpan
	if !s.joinTrace {
		ctx, span = s.tracer.Start(ctx, spanName)
	}
	ctx, rec := providers.WithRecorder(forwardMetadata(ctx), s.opts.MaxProviderCalls)
	g := &generation{s: s, target: target, route: route, req: req, rec: rec,
		events: events, start: start, span: span}
	if events != nil {
		events.g = g
	}
	return g, ctx, nil
}

// end ends the generation's span.
func (g *generation) end() {
	g.span.End()
}

// promptTooLong refuses a prompt over Options.MaxPromptBytes.
func (s *Server) promptTooLong(n int) error {
	return statusOf(classifier.New(guardgenv1.FailureReason_FAILURE_REASON_INVALID_REQUEST,
		"prompt: %d bytes exceeds the limit of %d", n, s.opts.MaxPromptBytes))
}

// finish ends a generation the attempt loop has left with resp or f:
// degradation, metrics, trace and log notes, the stream's last event and
// the report. It is a call of its own, as are promptTooLong and the loop's
// steps, so that generate's frame, which stays on the stack while the
// provider is waited for, holds only what the wait needs (see
// TestHandlerStackStaysSmall).
func (g *generation) finish(ctx context.Context, resp *guardgenv1.GenerateResponse, f *classifier.Failure) (*guardgenv1.GenerateResponse, error) {
	s := g.s
	if f != nil && s.shutDown(ctx) {
		f = shutdownFailure()
	}
	if f != nil {
		f = f.WithAttempts(g.rec.Len())
		if d := g.degrade(ctx, g.preq, f); d != nil {
			resp = d
		}
	}
	latency := time.Since(g.start)
	s.observe(ctx, g.target, resp, f, latency)
	g.annotate(ctx, resp, f)
	noteCall(ctx, string(g.target.Desc.FullName()), outcomeOf(resp).String(), g.rec.Len())
	if s.opts.LogRawPayloads {
		notePayloads(ctx, preview(g.req.GetPrompt(), g.target, s.opts.PreviewLength), preview(g.output, g.target, s.opts.PreviewLength))
	}
	g.events.done(ctx, g, resp)
	if resp == nil {
		return nil, statusOf(f)
	}
	resp.Report = g.report(latency)
	return resp, nil
}

// resolveFailure classifies a target resolution error.
func resolveFailure(err error) *classifier.Failure {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return classifier.FromProviderError(err).With("stage", "resolve_target")
	}
	reason := guardgenv1.FailureReason_FAILURE_REASON_INVALID_REQUEST
	switch {
	case errors.Is(err, schema.ErrUnknownTarget):
		reason = guardgenv1.FailureReason_FAILURE_REASON_UNKNOWN_TARGET
	case errors.Is(err, schema.ErrInvalidDescriptorSet):
		reason = guardgenv1.FailureReason_FAILURE_REASON_INVALID_DESCRIPTOR_SET
	}
	f := classifier.Wrap(err, reason, "%s", err.Error())
	if rerr, ok := errors.AsType[*schema.ResolveError](err); ok {
		f = f.With("field", rerr.Field)
		if rerr.Rule != "" {
			f = f.With("rule", rerr.Rule)
		}
		if rerr.Element != "" {
			f = f.With("element", rerr.Element)
		}
	}
	return f
}
