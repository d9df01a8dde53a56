package server

import (
	"context"
	"errors"
	"io"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/guardgen/guardgen/classifier"
	"github.com/guardgen/guardgen/extract"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/partial"
	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/semantic"
)

// askStream asks e for req as a stream (GenerateStream's asker). Each
// chunk extends the text; each value the text completes is read and
// checked at once (its field's rules; a critical field's confidence), and
// the partial message goes to the client when a value completed. A
// complete value that fails its check stops the model there: the stream
// is cancelled upstream and the failure is the attempt's, as if the
// output had been finished and refused, so the loop re-asks or degrades
// by the decision matrix. Only an answer whose object starts the text is
// stopped early: after prose, the object may be an example, and the whole
// text decides.
//
// A stream that breaks is retried by the provider chain only while no
// partial of it reached the client, unless the request allows resets
// (options.stream_resets): the client is then told to drop the attempt's
// partials before the new attempt's come.
func (g *generation) askStream(ctx context.Context, e *RouteEntry, req *providerv1.CompleteRequest) (completion, *classifier.Failure) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a := &streamAttempt{g: g, req: req, b: g.newBuilder()}
	ctx = providers.WithRestarts(ctx, providers.Restarts{Allowed: a.restartable, Restarted: a.restarted})
	stream := providers.OpenStream(ctx, e.Client, req)
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return completion{resp: a.acc.Response()}, nil
		}
		if err != nil {
			return completion{}, classifier.As(err)
		}
		a.call = g.rec.Len()
		a.acc.Add(chunk)
		f := a.tooLarge()
		if f == nil {
			f = a.advance(ctx)
		}
		if f != nil {
			// Stop the model, and wait for the chain to record the call.
			cancel()
			for _, err := stream.Recv(); err == nil; _, err = stream.Recv() {
			}
			f = g.aborted(ctx, a, f)
			return completion{resp: a.acc.Response(), early: f}, nil
		}
	}
}

// streamAttempt is one provider stream of askStream.
type streamAttempt struct {
	g    *generation
	req  *providerv1.CompleteRequest
	acc  providers.Completion
	b    *partial.Builder
	call int // the provider call the chunks are from
	// sent says a partial of this call reached the client; quiet that its
	// partials stopped, a violation being tolerated (see advance).
	sent, quiet bool
}

// newBuilder follows one output of the request's target.
func (g *generation) newBuilder() *partial.Builder {
	return partial.New(g.target, partial.Options{
		Strict:    g.strict(),
		Strings:   g.req.GetOptions().GetStreamStrings(),
		MaxBytes:  g.s.opts.MaxOutputBytes,
		MaxValues: g.s.opts.MaxOutputValues,
	})
}

// restartable reports whether the stream may start over after a transport
// failure: while none of its partials reached the client, or when the
// request allows resets.
func (a *streamAttempt) restartable() bool {
	return !a.sent || a.g.req.GetOptions().GetStreamResets()
}

// restarted drops what the broken stream said; the client, if it got
// partials, is told they are void.
func (a *streamAttempt) restarted(f *classifier.Failure) {
	a.g.events.reset(a.call, guardgenv1.ResetReason_RESET_REASON_TRANSPORT_RETRY, f)
	a.acc.Reset()
	a.b = a.g.newBuilder()
	a.sent, a.quiet = false, false
}

// tooLarge fails an output that has grown past the output limit: it will
// be refused whole anyway, and the model is stopped rather than paid to
// go on.
func (a *streamAttempt) tooLarge() *classifier.Failure {
	limit := a.g.s.opts.MaxOutputBytes // required by New
	if len(a.acc.Content()) <= limit {
		return nil
	}
	return extractFailure(&extract.Error{Err: extract.ErrTooLarge, Offset: limit, Reason: "input longer than MaxBytes"})
}

// advance reads the text as it now stands: it returns the failure of a
// complete value, or sends the partial message when values completed.
func (a *streamAttempt) advance(ctx context.Context) *classifier.Failure {
	g := a.g
	content := a.acc.Content()
	fields := a.b.Write(content)
	if err := a.b.Check(); err != nil {
		f := classifier.FromValidation(err, g.s.opts.BusinessRules)
		if a.b.Anchored() && !g.nonCritical(f) {
			return g.withPreview(f, content)
		}
		// After prose, or on fields allow_partial_matches may clear, the
		// whole text decides; partials stop, since they could no longer
		// hold only fields that passed.
		a.quiet = true
	}
	if a.b.Anchored() {
		if f := a.confidence(ctx, fields); f != nil {
			return g.withPreview(f, content)
		}
	}
	if a.quiet || len(fields) == 0 && a.b.Growing() == "" {
		return nil
	}
	g.events.partial(ctx, a.call, g.semantic, a.b)
	a.sent = true
	return nil
}

// confidence checks, for the values just completed of fields marked
// critical with a min_confidence, the confidence the provider's token
// log-probabilities give them so far; a critical value below its
// threshold fails the output (LOW_CONFIDENCE) as it would once finished.
// The final output is measured whole as usual.
func (a *streamAttempt) confidence(ctx context.Context, fields []partial.Field) *classifier.Failure {
	g := a.g
	tokens := a.acc.Logprobs()
	if !g.wantsLogprobs() || len(tokens) == 0 {
		return nil
	}
	var marked []string
	for _, f := range fields {
		if f.Desc == nil {
			continue
		}
		if m, ok := g.checks.Mark(f.Desc); ok && m.Critical && m.MinConfidence > 0 {
			marked = append(marked, f.Path)
		}
	}
	if len(marked) == 0 {
		return nil
	}
	content, root := a.acc.Content(), a.b.Offset()
	m := g.checks.Measure(g.target.Desc, semantic.Output{
		Content: content, Tokens: tokens, JSON: content[root:], Offset: root, End: len(content), Partial: true,
	})
	var low []semantic.Confidence
	for _, v := range m.Values {
		if !v.Below() || !v.Mark.Critical {
			continue
		}
		for _, p := range marked {
			if partial.Within(v.Path, p) {
				low = append(low, v)
				break
			}
		}
	}
	if len(low) == 0 {
		return nil
	}
	return lowConfidence(low)
}

// aborted records why attempt a's stream was stopped and what that saved:
// the output tokens not written, against the attempt's token limit. It
// returns f marked as a stopped stream (a Failure is never changed in
// place).
func (g *generation) aborted(ctx context.Context, a *streamAttempt, f *classifier.Failure) *classifier.Failure {
	resp := a.acc.Response()
	rec := &guardgenv1.StreamAbort{Field: abortedField(f), TokenLimit: int64(a.req.GetSampling().GetMaxOutputTokens())}
	switch {
	case resp.GetUsage().GetOutputTokens() > 0:
		rec.OutputTokens = resp.GetUsage().GetOutputTokens()
	case len(resp.GetLogprobs()) > 0:
		rec.OutputTokens = int64(len(resp.GetLogprobs()))
	default:
		rec.OutputTokens, rec.Estimated = int64(len(resp.GetContent())+3)/4, true
	}
	if rec.TokenLimit > 0 {
		rec.SavedOutputTokens = max(rec.TokenLimit-rec.OutputTokens, 0)
	}
	if g.aborts == nil {
		g.aborts = make(map[int]*guardgenv1.StreamAbort)
	}
	g.aborts[a.call] = rec
	f = f.With("stream_stopped", "true")
	if rec.Field != "" {
		f = f.With("stream_stopped_at", rec.Field)
	}
	g.s.metrics.RecordStreamAbort(ctx, string(g.target.Desc.FullName()), f.Reason, rec.SavedOutputTokens)
	trace.SpanFromContext(ctx).AddEvent("abort", trace.WithAttributes(
		attribute.Int("guardgen.attempt", a.call),
		attribute.String("guardgen.field", rec.Field),
		attribute.String("guardgen.reason", classifier.ReasonName(f.Reason)),
		attribute.Int64("guardgen.saved_output_tokens", rec.SavedOutputTokens),
	))
	return f
}

// abortedField names the value that failed: the first violation's path,
// or the fields a semantic check named.
func abortedField(f *classifier.Failure) string {
	if len(f.Violations) > 0 {
		return classifier.FieldPath(f.Violations[0])
	}
	return f.Metadata["fields"]
}

// failureOf is why provider call call was not the answer: the output's
// failure, or the call's own.
func (g *generation) failureOf(call int) *classifier.Failure {
	if f := g.failures[call]; f != nil {
		return f
	}
	if calls := g.rec.Calls(); call >= 1 && call <= len(calls) {
		return calls[call-1].Failure
	}
	return nil
}
