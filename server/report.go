package server

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/guardgen/guardgen/classifier"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/telemetry"
)

// report says how the answer was produced: one Attempt per provider call.
func (g *generation) report(latency time.Duration) *guardgenv1.GenerationReport {
	calls := g.rec.Calls()
	// The report of the usual one call is one allocation, not six.
	b := new(reportBlock)
	setDuration(&b.latency, latency)
	b.report = guardgenv1.GenerationReport{
		Attempts: b.attempts[:0],
		Usage:    &b.usage,
		Latency:  &b.latency,
		Repairs:  g.repairs,
	}
	r := &b.report
	for i, c := range calls {
		a, lat := &b.attempt, &b.attemptLatency
		if i > 0 {
			a, lat = new(guardgenv1.Attempt), new(durationpb.Duration)
		}
		setDuration(lat, c.Latency)
		*a = guardgenv1.Attempt{
			Number:          int32(c.Number),
			SemanticAttempt: int32(c.Semantic),
			Provider:        c.Provider,
			Model:           c.Model,
			FinishReason:    c.FinishReason,
			Usage:           c.Usage,
			Latency:         lat,
			Verification:    c.Verification,
			Constraint:      c.Constraint,
			ResponseId:      c.ResponseID,
		}
		if c.Priced {
			a.Cost = proto.Float64(c.Cost)
			r.Cost = proto.Float64(r.GetCost() + c.Cost)
		}
		a.Abort = g.aborts[c.Number]
		switch f := g.failures[c.Number]; {
		case f != nil:
			a.Failure = f.Detail()
		case c.Failure != nil:
			a.Failure = c.Failure.Detail()
		case c.Number == g.answered:
			a.Repairs = g.repairs
		}
		r.Usage.InputTokens += c.Usage.GetInputTokens()
		r.Usage.OutputTokens += c.Usage.GetOutputTokens()
		r.Usage.TotalTokens += c.Usage.GetTotalTokens()
		r.Usage.CachedInputTokens += c.Usage.GetCachedInputTokens()
		r.Usage.ReasoningTokens += c.Usage.GetReasoningTokens()
		r.SavedOutputTokens += a.GetAbort().GetSavedOutputTokens()
		r.Attempts = append(r.Attempts, a)
	}
	g.reportSemantics(r, calls)
	g.events.report(r)
	return r
}

// setDuration makes d say t, as durationpb.New would without allocating.
func setDuration(d *durationpb.Duration, t time.Duration) {
	d.Seconds, d.Nanos = int64(t/time.Second), int32(t%time.Second)
}

// reportBlock holds a report, its usage and latency, and its first
// attempt, allocated together.
type reportBlock struct {
	report                  guardgenv1.GenerationReport
	usage                   providerv1.Usage
	latency, attemptLatency durationpb.Duration
	attempt                 guardgenv1.Attempt
	attempts                [1]*guardgenv1.Attempt
}

// annotate records the outcome on the Generate span: attempts, repairs and, for failures and degraded answers, the domain,
// action and reason that explain them.
func (g *generation) annotate(ctx context.Context, resp *guardgenv1.GenerateResponse, f *classifier.Failure) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{
		attribute.String("guardgen.target", string(g.target.Desc.FullName())),
		attribute.Int("guardgen.attempts", g.rec.Len()),
		telemetry.DegradedKey.Bool(resp.GetDegraded()),
	}
	if len(g.repairs) > 0 {
		kinds := make([]string, len(g.repairs))
		for i, r := range g.repairs {
			kinds[i] = r.GetKind()
		}
		attrs = append(attrs, telemetry.RepairsKey.StringSlice(kinds))
	}
	switch {
	case resp == nil:
		attrs = append(attrs, telemetry.ValidationStatusKey.String("failed"))
		attrs = append(attrs, telemetry.FailureAttributes(f.Domain, f.Action, f.Reason)...)
		if g.s.opts.TraceErrors {
			span.SetStatus(otelcodes.Error, classifier.ReasonName(f.Reason))
		}
	case resp.GetDegraded():
		d := resp.GetDegradation()
		attrs = append(attrs, telemetry.ValidationStatusKey.String("degraded"))
		attrs = append(attrs, telemetry.FailureAttributes(d.GetDomain(), d.GetAction(), d.GetReason())...)
	default:
		attrs = append(attrs, telemetry.ValidationStatusKey.String("passed"))
	}
	span.SetAttributes(attrs...)
}
