package server_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/server"
	"github.com/guardgen/guardgen/telemetry"
)

// TestRejectionsCountedByReason: requests refused before any generation
// are counted by reason; a request that reached the provider is not.
func TestRejectionsCountedByReason(t *testing.T) {
	t.Parallel()
	metrics, err := telemetry.NewMetrics(telemetry.Options{Prefix: "llm.pipeline", NoRuntimeMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = metrics.Shutdown(context.Background()) })
	const token = "test-token-not-a-secret"
	h := start(t, harnessOptions{set: func(o *server.Options) {
		o.Metrics = metrics
		o.Auth = server.Auth{Tokens: []string{token}}
	}})
	call := func(authed bool, plan string, req *guardgenv1.GenerateRequest) codes.Code {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if authed {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
		}
		if plan != "" {
			ctx = withFaults(ctx, plan)
		}
		_, err := h.gen.Generate(ctx, req)
		return status.Code(err)
	}
	calls := []struct {
		authed bool
		plan   string
		req    *guardgenv1.GenerateRequest
		want   codes.Code
	}{
		{false, "", &guardgenv1.GenerateRequest{Prompt: "p", TargetType: ticket}, codes.Unauthenticated},
		{true, "", &guardgenv1.GenerateRequest{Prompt: "", TargetType: ticket}, codes.InvalidArgument},
		{true, "", &guardgenv1.GenerateRequest{Prompt: "p", TargetType: "no.such.Type"}, codes.InvalidArgument},
		{true, "", &guardgenv1.GenerateRequest{Prompt: "p", TargetType: ticket, Options: &guardgenv1.GenerateOptions{Route: "nope"}}, codes.InvalidArgument},
		// Reached the provider: a failure, not a rejection.
		{true, "content_filter", &guardgenv1.GenerateRequest{Prompt: "p", TargetType: ticket}, codes.FailedPrecondition},
	}
	for i, c := range calls {
		if got := call(c.authed, c.plan, c.req); got != c.want {
			t.Errorf("call %d: %v, want %v", i, got, c.want)
		}
	}
	f := parseMetrics(t, scrapeMetrics(t, metrics))["llm_pipeline_requests_rejected_total"]
	for reason, want := range map[string]float64{"unauthenticated": 1, "invalid_argument": 2, "unknown_target": 1} {
		if got, _ := metricValue(f, map[string]string{"reason": reason}); got != want {
			t.Errorf("rejected{reason=%q} = %v, want %v", reason, got, want)
		}
	}
	var total float64
	for _, m := range f.GetMetric() {
		total += m.GetCounter().GetValue()
	}
	if total != 4 {
		t.Errorf("%v rejections counted, want 4", total)
	}
}
