package telemetry_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/grpc/codes"

	"github.com/guardgen/guardgen/telemetry"
)

// TestGenAIClientMetrics reads the two gen_ai.client.* histograms with a
// metric reader: the specification's names, units and buckets, and the
// attributes of a success and of a failure.
func TestGenAIClientMetrics(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	m := newMetrics(t, telemetry.Options{Readers: []sdkmetric.Reader{reader}, NoRuntimeMetrics: true})
	endpoint := telemetry.GenAIEndpoint{ProviderName: "openai", ServerAddress: "api.openai.com", ServerPort: 443}
	ctx := context.Background()
	m.RecordProviderCall(ctx, &telemetry.ProviderCall{
		Provider: "primary", Model: "gpt-4o-mini-2024-07-18", RequestModel: "gpt-4o-mini", GenAI: endpoint,
		Code: codes.OK, Duration: 1200 * time.Millisecond, InputTokens: 300, OutputTokens: 50,
	})
	m.RecordProviderCall(ctx, &telemetry.ProviderCall{
		Provider: "primary", Model: "gpt-4o-mini", RequestModel: "gpt-4o-mini", GenAI: endpoint,
		Code: codes.Unavailable, ErrorType: "UPSTREAM_UNAVAILABLE", Duration: 30 * time.Millisecond,
	})

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	histograms := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			histograms[mt.Name] = mt
		}
	}
	common := []attribute.KeyValue{
		attribute.String("gen_ai.operation.name", "chat"),
		attribute.String("gen_ai.provider.name", "openai"),
		attribute.String("gen_ai.request.model", "gpt-4o-mini"),
		attribute.String("server.address", "api.openai.com"),
		attribute.Int("server.port", 443),
	}

	duration, ok := histograms["gen_ai.client.operation.duration"]
	if !ok || duration.Unit != "s" {
		t.Fatalf("gen_ai.client.operation.duration: %+v", duration)
	}
	points := duration.Data.(metricdata.Histogram[float64]).DataPoints
	if len(points) != 2 {
		t.Fatalf("%d duration series, want a success and a failure", len(points))
	}
	for _, p := range points {
		if !slices.Equal(p.Bounds, telemetry.GenAIDurationBuckets) {
			t.Errorf("duration bounds = %v", p.Bounds)
		}
		for _, kv := range common {
			if v, ok := p.Attributes.Value(kv.Key); !ok || v != kv.Value {
				t.Errorf("duration series lacks %s=%s: %v", kv.Key, kv.Value.String(), p.Attributes)
			}
		}
		errType, failed := p.Attributes.Value("error.type")
		_, answered := p.Attributes.Value("gen_ai.response.model")
		switch {
		case failed && (errType.AsString() != "UPSTREAM_UNAVAILABLE" || answered):
			t.Errorf("failed call series: %v", p.Attributes)
		case !failed && !answered:
			t.Errorf("successful call series lacks gen_ai.response.model: %v", p.Attributes)
		}
	}

	tokens, ok := histograms["gen_ai.client.token.usage"]
	if !ok || tokens.Unit != "{token}" {
		t.Fatalf("gen_ai.client.token.usage: %+v", tokens)
	}
	sums := map[string]int64{}
	for _, p := range tokens.Data.(metricdata.Histogram[int64]).DataPoints {
		if !slices.Equal(p.Bounds, telemetry.GenAITokenBuckets) {
			t.Errorf("token bounds = %v", p.Bounds)
		}
		kind, _ := p.Attributes.Value("gen_ai.token.type")
		sums[kind.AsString()] += p.Sum
	}
	if sums["input"] != 300 || sums["output"] != 50 || len(sums) != 2 {
		t.Errorf("token usage by type = %v, want input 300 and output 50 (the failure has none)", sums)
	}
}
