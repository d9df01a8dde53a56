package app_test

import (
	"bytes"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/protobuf/proto"

	"github.com/guardgen/guardgen/app"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
	"github.com/guardgen/guardgen/telemetry"
)

// TestGenAISemanticConventions: a model call is a span named
// "{gen_ai.operation.name} {gen_ai.request.model}" with the GenAI
// attributes, a failed one carries error.type, only model calls carry
// gen_ai.operation.name, and the scrape has both gen_ai.client.*
// histograms with the specification's buckets.
func TestGenAISemanticConventions(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewInMemoryExporter()
	gen, up, srv := openaiGuardgen(t, "    preset: azure_openai",
		app.Options{SpanProcessors: []sdktrace.SpanProcessor{sdktrace.NewSimpleSpanProcessor(spans)}})
	up.Enqueue(openaitest.ServerError(503), openaitest.Step{Content: validTicket, Model: "test-model-2026", Usage: &openaitest.Usage{
		PromptTokens: 120, CompletionTokens: 30, TotalTokens: 150, CachedTokens: 64, ReasoningTokens: 10,
	}})
	// The first call fails (max_attempts is 1); the second succeeds.
	req := &guardgenv1.GenerateRequest{Prompt: "charged twice", TargetType: ticketType, Options: &guardgenv1.GenerateOptions{
		Temperature: proto.Float64(0.2), TopP: proto.Float64(0.9), Seed: proto.Int64(7), MaxOutputTokens: 256,
	}}
	if _, err := generate(t, gen, req); err == nil {
		t.Fatal("first Generate succeeded, want the 503")
	}
	if _, err := generate(t, gen, req); err != nil {
		t.Fatal(err)
	}

	u, _ := url.Parse(up.URL())
	port, _ := strconv.Atoi(u.Port())
	var calls []tracetest.SpanStub
	for _, s := range spans.GetSpans() {
		attrs := attribute.NewSet(s.Attributes...)
		_, isModelCall := attrs.Value("gen_ai.operation.name")
		if s.Name == "chat test-model" {
			calls = append(calls, s)
		} else if isModelCall {
			t.Errorf("span %q carries gen_ai.operation.name; only model-call spans may", s.Name)
		}
	}
	if len(calls) != 2 {
		t.Fatalf("%d spans named \"chat test-model\", want 2 (one per provider call)", len(calls))
	}
	failed, ok := attribute.NewSet(calls[0].Attributes...), attribute.NewSet(calls[1].Attributes...)
	want := []attribute.KeyValue{
		attribute.String("gen_ai.operation.name", "chat"),
		attribute.String("gen_ai.provider.name", "azure.ai.openai"),
		attribute.String("gen_ai.request.model", "test-model"),
		attribute.String("gen_ai.output.type", "json"),
		attribute.Float64("gen_ai.request.temperature", 0.2),
		attribute.Float64("gen_ai.request.top_p", 0.9),
		attribute.Int("gen_ai.request.seed", 7),
		attribute.Int("gen_ai.request.max_tokens", 256),
		attribute.String("server.address", u.Hostname()),
		attribute.Int("server.port", port),
	}
	for _, kv := range want {
		for name, set := range map[string]attribute.Set{"failed": failed, "ok": ok} {
			if v, has := set.Value(kv.Key); !has || v != kv.Value {
				t.Errorf("%s span: %s = %v, want %v", name, kv.Key, v.String(), kv.Value.String())
			}
		}
	}
	for _, kv := range []attribute.KeyValue{
		attribute.String("gen_ai.response.model", "test-model-2026"),
		attribute.String("gen_ai.response.id", "chatcmpl-openaitest-2"),
		attribute.Int64("gen_ai.usage.input_tokens", 120),
		attribute.Int64("gen_ai.usage.output_tokens", 30),
		attribute.Int64("gen_ai.usage.cache_read.input_tokens", 64),
		attribute.Int64("gen_ai.usage.reasoning.output_tokens", 10),
	} {
		if v, has := ok.Value(kv.Key); !has || v != kv.Value {
			t.Errorf("ok span: %s = %v, want %v", kv.Key, v.String(), kv.Value.String())
		}
	}
	if v, has := failed.Value("error.type"); !has || v.AsString() != "UPSTREAM_UNAVAILABLE" {
		t.Errorf("failed span error.type = %v, want UPSTREAM_UNAVAILABLE", v.String())
	}
	if _, has := ok.Value("error.type"); has {
		t.Error("the successful span carries error.type")
	}

	rec := httptest.NewRecorder()
	srv.App.Metrics().Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []struct {
		family  string
		buckets []float64
		count   uint64 // samples over all series
	}{
		{"gen_ai_client_operation_duration_seconds", telemetry.GenAIDurationBuckets, 2},
		{"gen_ai_client_token_usage", telemetry.GenAITokenBuckets, 2}, // input and output of the one success
	} {
		f := families[h.family]
		if f == nil {
			t.Errorf("no %s in the scrape", h.family)
			continue
		}
		var total uint64
		for _, m := range f.GetMetric() {
			var bounds []float64
			for _, b := range m.GetHistogram().GetBucket() {
				if !math.IsInf(b.GetUpperBound(), 1) {
					bounds = append(bounds, b.GetUpperBound())
				}
			}
			if !slices.Equal(bounds, h.buckets) {
				t.Errorf("%s buckets = %v, want %v", h.family, bounds, h.buckets)
			}
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["gen_ai_operation_name"] != "chat" || labels["gen_ai_provider_name"] != "azure.ai.openai" ||
				labels["gen_ai_request_model"] != "test-model" || labels["server_port"] != strconv.Itoa(port) {
				t.Errorf("%s labels = %v", h.family, labels)
			}
			total += m.GetHistogram().GetSampleCount()
		}
		if total != h.count {
			t.Errorf("%s: %d samples, want %d", h.family, total, h.count)
		}
	}
}
