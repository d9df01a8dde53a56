package telemetry

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// PartialsBuckets are the bounds of the partials-per-stream histogram.
var PartialsBuckets = []float64{0, 1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000}

// streamInstruments are GenerateStream's instruments.
type streamInstruments struct {
	firstPartial metric.Float64Histogram
	partials     metric.Int64Histogram
	aborts       metric.Int64Counter
	savedTokens  metric.Int64Counter
}

func newStreamInstruments(meter metric.Meter, name func(string) string, buckets []float64) (streamInstruments, error) {
	var s streamInstruments
	var err1, err2, err3, err4 error
	s.firstPartial, err1 = meter.Float64Histogram(name("stream.first_partial.duration"), metric.WithUnit("s"),
		metric.WithDescription("GenerateStream: time from the request to its first partial message, by target."),
		metric.WithExplicitBucketBoundaries(buckets...))
	s.partials, err2 = meter.Int64Histogram(name("stream.partials"), metric.WithUnit("{partial}"),
		metric.WithDescription("GenerateStream: partial messages sent per stream, by target."),
		metric.WithExplicitBucketBoundaries(PartialsBuckets...))
	s.aborts, err3 = meter.Int64Counter(name("stream.aborts"), metric.WithUnit("{abort}"),
		metric.WithDescription("Provider streams stopped early because a complete field failed its check, by target and reason."))
	s.savedTokens, err4 = meter.Int64Counter(name("stream.saved_output_tokens"), metric.WithUnit("{token}"),
		metric.WithDescription("Output tokens early stops kept models from writing at most (the token limit less what was written), by target."))
	return s, errors.Join(err1, err2, err3, err4)
}

// RecordFirstPartial observes how long a stream of target took to send
// its first partial message.
func (m *Metrics) RecordFirstPartial(ctx context.Context, target string, d time.Duration) {
	if m == nil {
		return
	}
	t := m.targets.value(target)
	m.sets.record(ctx, m.streams.firstPartial, &setKey{use: useFirstPartial, a: t}, d.Seconds())
}

// RecordPartials observes the partial messages one stream of target sent.
func (m *Metrics) RecordPartials(ctx context.Context, target string, n int) {
	if m == nil {
		return
	}
	t := m.targets.value(target)
	m.sets.recordInt(ctx, m.streams.partials, &setKey{use: usePartials, a: t}, int64(n))
}

// RecordStreamAbort counts one provider stream of target stopped early,
// by the failure that stopped it, and the output tokens that saved
// (saved is 0 when the attempt had no token limit).
func (m *Metrics) RecordStreamAbort(ctx context.Context, target string, reason guardgenv1.FailureReason, saved int64) {
	if m == nil {
		return
	}
	t := attribute.String(labelTarget, m.targets.value(target))
	m.streams.aborts.Add(ctx, 1, metric.WithAttributes(t, attribute.String(labelReason, ReasonLabel(reason))))
	if saved > 0 {
		m.streams.savedTokens.Add(ctx, saved, metric.WithAttributes(t))
	}
}
