package telemetry_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/telemetry"
)

func TestTracerProviderWithoutEndpoint(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp, err := telemetry.NewTracerProvider(t.Context(), telemetry.TraceOptions{ServiceName: "guardgen",
		SampleRatio:    1,
		SpanProcessors: []sdktrace.SpanProcessor{rec},
	})
	if err != nil {
		t.Fatalf("NewTracerProvider: %v", err)
	}
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	_, span := tp.Tracer("test").Start(t.Context(), "attempt")
	span.SetAttributes(telemetry.FailureAttributes(semantic,
		guardgenv1.RecoveryAction_RECOVERY_ACTION_RETRY_WITH_BACKOFF,
		guardgenv1.FailureReason_FAILURE_REASON_SCHEMA_MISMATCH)...)
	span.SetAttributes(telemetry.GenAIOperationNameKey.String(telemetry.GenAIOperation), telemetry.RetryAttemptKey.Int(2))
	span.End()

	ended := rec.Ended()
	if len(ended) != 1 {
		t.Fatalf("ended spans = %d, want 1", len(ended))
	}
	got := attribute.NewSet(ended[0].Attributes()...)
	for _, kv := range []attribute.KeyValue{
		attribute.String("guardgen.failure.domain", "OUTPUT_SEMANTIC"),
		attribute.String("guardgen.failure.action", "RETRY_WITH_BACKOFF"),
		attribute.String("guardgen.failure.reason", "SCHEMA_MISMATCH"),
		attribute.String("gen_ai.operation.name", "chat"),
		attribute.Int("guardgen.retry.attempt", 2),
	} {
		if v, ok := got.Value(kv.Key); !ok || v != kv.Value {
			t.Errorf("span attribute %s = %v, want %v", kv.Key, v.String(), kv.Value.String())
		}
	}
	if v, _ := ended[0].Resource().Set().Value("service.name"); v.AsString() != "guardgen" {
		t.Errorf("service.name = %q, want guardgen", v.AsString())
	}
}

// TestSampleRatio: a new trace is recorded at the configured ratio, and a
// trace the caller started keeps the caller's decision whatever the ratio.
func TestSampleRatio(t *testing.T) {
	t.Parallel()
	sampledParent := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{1},
		SpanID:     trace.SpanID{1},
		TraceFlags: trace.FlagsSampled,
	}))
	unsampledParent := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{2},
		SpanID:  trace.SpanID{2},
	}))
	tests := []struct {
		name  string
		ratio float64
		ctx   context.Context
		want  bool
	}{
		{"ratio 0, new trace", 0, context.Background(), false},
		{"ratio 1, new trace", 1, context.Background(), true},
		{"ratio 0, sampled parent", 0, sampledParent, true},
		{"ratio 1, unsampled parent", 1, unsampledParent, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tp, err := telemetry.NewTracerProvider(t.Context(), telemetry.TraceOptions{ServiceName: "guardgen", SampleRatio: tt.ratio})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			_, span := tp.Tracer("test").Start(tt.ctx, "call")
			defer span.End()
			if got := span.SpanContext().IsSampled(); got != tt.want {
				t.Errorf("sampled = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestTracerProviderWithEndpoint: the exporter connects lazily, so an
// unreachable collector does not fail the start, and Shutdown returns.
func TestTracerProviderWithEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts telemetry.TraceOptions
	}{
		{"host port insecure", telemetry.TraceOptions{OTLPEndpoint: "127.0.0.1:1", Insecure: true, ServiceName: "gg"}},
		{"url", telemetry.TraceOptions{ServiceName: "guardgen", OTLPEndpoint: "http://127.0.0.1:1", Headers: map[string]string{"x-token": "t"}}},
		{"tls", telemetry.TraceOptions{ServiceName: "guardgen", OTLPEndpoint: "collector.invalid:4317"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tp, err := telemetry.NewTracerProvider(t.Context(), tt.opts)
			if err != nil {
				t.Fatalf("NewTracerProvider: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := tp.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		})
	}
}

// TestAttributeKeys pins the wire spelling of every exported key.
func TestAttributeKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key  attribute.Key
		want string
	}{
		{telemetry.FailureDomainKey, "guardgen.failure.domain"},
		{telemetry.FailureActionKey, "guardgen.failure.action"},
		{telemetry.FailureReasonKey, "guardgen.failure.reason"},
		{telemetry.RetryAttemptKey, "guardgen.retry.attempt"},
		{telemetry.ValidationStatusKey, "guardgen.validation.status"},
		{telemetry.RepairsKey, "guardgen.repairs"},
		{telemetry.DegradedKey, "guardgen.degraded"},
		{telemetry.GenAIOperationNameKey, "gen_ai.operation.name"},
		{telemetry.GenAIProviderNameKey, "gen_ai.provider.name"},
		{telemetry.GenAIRequestModelKey, "gen_ai.request.model"},
		{telemetry.GenAIResponseModelKey, "gen_ai.response.model"},
		{telemetry.GenAIResponseFinishReasonsKey, "gen_ai.response.finish_reasons"},
		{telemetry.GenAIUsageInputTokensKey, "gen_ai.usage.input_tokens"},
		{telemetry.GenAIUsageOutputTokensKey, "gen_ai.usage.output_tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			if string(tt.key) != tt.want {
				t.Errorf("key = %q, want %q", tt.key, tt.want)
			}
		})
	}
}
