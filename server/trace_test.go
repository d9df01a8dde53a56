package server_test

import (
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/server"
)

// spanAttrs returns the attributes of the spans named name (or, for a
// name ending in a space, starting with it), in end order.
func spanAttrs(spans tracetest.SpanStubs, name string) []map[attribute.Key]attribute.Value {
	var out []map[attribute.Key]attribute.Value
	for _, s := range spans {
		if s.Name != name && (!strings.HasSuffix(name, " ") || !strings.HasPrefix(s.Name, name)) {
			continue
		}
		m := make(map[attribute.Key]attribute.Value, len(s.Attributes))
		for _, kv := range s.Attributes {
			m[kv.Key] = kv.Value
		}
		out = append(out, m)
	}
	return out
}

func TestSpansCarryGenAIAndFailureAttributes(t *testing.T) {
	t.Parallel()
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	h := start(t, harnessOptions{tracer: tp, set: func(o *server.Options) { o.TraceErrors = true }})
	req := &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: ticket}

	t.Run("retried", func(t *testing.T) {
		exporter.Reset()
		if _, err := generate(t, h, "rate_limit,ok", req); err != nil {
			t.Fatalf("Generate: %v", err)
		}
		// Model-call spans are named "{gen_ai.operation.name} {gen_ai.request.model}".
		attempts := spanAttrs(exporter.GetSpans(), "chat ")
		if len(attempts) != 2 {
			t.Fatalf("attempt spans = %d, want 2", len(attempts))
		}
		first, second := attempts[0], attempts[1]
		if got := first["guardgen.failure.reason"].AsString(); got != "RATE_LIMITED" || first["error.type"].AsString() != "RATE_LIMITED" {
			t.Errorf("first attempt failure reason = %q, error.type %q", got, first["error.type"].AsString())
		}
		for _, key := range []attribute.Key{"gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "gen_ai.response.model", "gen_ai.output.type", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "guardgen.retry.attempt"} {
			if _, ok := second[key]; !ok {
				t.Errorf("successful attempt span lacks %s: %v", key, second)
			}
		}
		if got := second["gen_ai.response.finish_reasons"].AsStringSlice(); !slices.Equal(got, []string{"stop"}) {
			t.Errorf("finish reasons = %v", got)
		}
		gen := spanAttrs(exporter.GetSpans(), "guardgen.generate")
		if len(gen) != 1 || gen[0]["guardgen.validation.status"].AsString() != "passed" || gen[0]["guardgen.attempts"].AsInt64() != 2 {
			t.Errorf("generate span = %v", gen)
		}
		if _, ok := gen[0]["gen_ai.operation.name"]; ok {
			t.Error("the generate span carries gen_ai.operation.name; only model-call spans may")
		}
	})
	t.Run("failed", func(t *testing.T) {
		exporter.Reset()
		if _, err := generate(t, h, "content_filter", req); err == nil {
			t.Fatal("Generate succeeded, want a content-filter failure")
		}
		gen := spanAttrs(exporter.GetSpans(), "guardgen.generate")
		if len(gen) != 1 {
			t.Fatalf("generate spans = %d, want 1", len(gen))
		}
		want := map[attribute.Key]string{
			"guardgen.failure.domain":    "INPUT_CONSTRAINT",
			"guardgen.failure.action":    "REJECT_AND_FIX",
			"guardgen.failure.reason":    "CONTENT_FILTER",
			"guardgen.validation.status": "failed",
		}
		for k, v := range want {
			if got := gen[0][k].AsString(); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		var failed bool
		for _, s := range exporter.GetSpans() {
			if s.Name == "guardgen.generate" && s.Status.Code == 1 /* codes.Error */ {
				failed = true
			}
		}
		if !failed {
			t.Error("trace_errors: the failed Generate span is not marked as an error")
		}
	})
}
