package app_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"

	"github.com/guardgen/guardgen/app"
	"github.com/guardgen/guardgen/app/apptest"
	"github.com/guardgen/guardgen/config"
	configv1 "github.com/guardgen/guardgen/gen/guardgen/config/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
)

// A call that carries a W3C traceparent is served in the caller's trace:
// guardgen's spans (otelgrpc's, Generate's, the model call's) have
// the caller's trace id, and the upstream OpenAI request carries a
// traceparent of that trace whose parent is guardgen's attempt span. The
// sample ratio is 0, so only the caller's sampled flag records anything.
func TestTraceJoinsTheCaller(t *testing.T) {
	t.Parallel()
	upstream, cfg := ticketUpstream(t, "telemetry:\n  trace_sample_ratio: 0\n")
	rec := tracetest.NewSpanRecorder()
	srv := apptest.Start(t, cfg, app.Options{
		Getenv:         func(string) string { return "sk-test" },
		SpanProcessors: []sdktrace.SpanProcessor{rec},
	})
	client := guardgenv1.NewGenerationServiceClient(srv.Dial(t))

	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		parent  = "00f067aa0ba902b7"
	)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "traceparent", "00-"+traceID+"-"+parent+"-01", "baggage", "tenant=acme")
	if _, err := client.Generate(ctx, &guardgenv1.GenerateRequest{Prompt: "I was charged twice", TargetType: ticketType}); err != nil {
		t.Fatalf("Generate: %v", err)
	}

	// otelgrpc ends the server's span once the answer is on its way, which
	// can be after the client has it: wait for it.
	ended := rec.Ended()
	for deadline := time.Now().Add(5 * time.Second); !slices.ContainsFunc(ended, func(s sdktrace.ReadOnlySpan) bool {
		return s.Name() == "guardgen.v1.GenerationService/Generate"
	}) && time.Now().Before(deadline); ended = rec.Ended() {
		time.Sleep(10 * time.Millisecond)
	}
	spans := map[string]trace.SpanContext{}
	for _, s := range ended {
		if got := s.SpanContext().TraceID().String(); got != traceID {
			t.Errorf("span %q is in trace %s, want the caller's %s", s.Name(), got, traceID)
		}
		spans[s.Name()] = s.SpanContext()
	}
	// The provider attempt span is named as the GenAI conventions say:
	// "{operation} {model}".
	for _, name := range []string{"guardgen.v1.GenerationService/Generate", "guardgen.generate", "chat gpt-4o-mini"} {
		if _, ok := spans[name]; !ok {
			t.Errorf("no %q span; got %v", name, spans)
		}
	}
	reqs := upstream.Requests()
	if len(reqs) != 1 {
		t.Fatalf("upstream requests = %d, want 1", len(reqs))
	}
	attempt := spans["chat gpt-4o-mini"]
	want := "00-" + traceID + "-" + attempt.SpanID().String() + "-01"
	if got := reqs[0].Header.Get("traceparent"); got != want {
		t.Errorf("upstream traceparent = %q, want %q (the attempt span's)", got, want)
	}
	if got := reqs[0].Header.Get("baggage"); got != "tenant=acme" {
		t.Errorf("upstream baggage = %q, want the caller's tenant=acme", got)
	}
}

// Without tracing (no OTLP endpoint, no span processor) guardgen makes no
// spans, but a call still joins its caller's trace: the upstream request
// carries the caller's traceparent and baggage unchanged, and the call's
// log line names the trace and the caller's request id.
func TestTraceContextPassesWithoutTracing(t *testing.T) {
	t.Parallel()
	upstream, cfg := ticketUpstream(t, "")
	logs := &syncBuffer{}
	srv := apptest.Start(t, cfg, app.Options{Getenv: func(string) string { return "sk-test" }, LogOutput: logs})
	client := guardgenv1.NewGenerationServiceClient(srv.Dial(t))

	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, md := range [][]string{{"traceparent", traceparent, "baggage", "tenant=acme", "X-Request-Id", "caller-id-1"}, nil} {
		if _, err := client.Generate(metadata.AppendToOutgoingContext(ctx, md...),
			&guardgenv1.GenerateRequest{Prompt: "I was charged twice", TargetType: ticketType}); err != nil {
			t.Fatalf("Generate: %v", err)
		}
	}
	reqs := upstream.Requests()
	if len(reqs) != 2 {
		t.Fatalf("upstream requests = %d, want 2", len(reqs))
	}
	if got := reqs[0].Header.Get("traceparent"); got != traceparent {
		t.Errorf("upstream traceparent = %q, want the caller's %q", got, traceparent)
	}
	if got := reqs[0].Header.Get("baggage"); got != "tenant=acme" {
		t.Errorf("upstream baggage = %q, want the caller's tenant=acme", got)
	}
	if got := reqs[1].Header.Get("traceparent") + reqs[1].Header.Get("baggage"); got != "" {
		t.Errorf("a call without a trace context sent %q upstream", got)
	}
	// Log lines are written by a goroutine of their own, after the answer.
	var traced, untraced int
	for deadline := time.Now().Add(5 * time.Second); traced+untraced < 2 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		traced, untraced = 0, 0
		for _, l := range strings.Split(logs.String(), "\n") {
			if !strings.Contains(l, `"msg":"rpc"`) || !strings.Contains(l, "GenerationService/Generate") {
				continue
			}
			if strings.Contains(l, `"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"`) && strings.Contains(l, `"request_id":"caller-id-1"`) {
				traced++
			} else if !strings.Contains(l, "trace_id") {
				untraced++
			}
		}
	}
	if traced != 1 || untraced != 1 {
		t.Errorf("rpc log lines: %d with the caller's trace_id and request id, %d without a trace_id; want 1 and 1\n%s", traced, untraced, logs.String())
	}
}

// ticketUpstream starts an OpenAI test server that answers a ticket, and
// returns it with a configuration whose one route goes to it, followed by
// more YAML (a telemetry section, say).
func ticketUpstream(t *testing.T, more string) (*openaitest.Server, *configv1.Config) {
	t.Helper()
	upstream := openaitest.New()
	t.Cleanup(upstream.Close)
	upstream.SetDefault(openaitest.Step{Content: `{"category":"billing","priority":2,"summary":"charged twice"}`})
	cfg, err := config.Parse("trace.yaml", []byte(`
providers:
  - {name: openai, type: openai, base_url: "`+upstream.URL()+`", api_key_env: OPENAI_API_KEY}
routes:
  - {name: default, entries: [{provider: openai}]}
`+more))
	if err != nil {
		t.Fatal(err)
	}
	return upstream, cfg
}
