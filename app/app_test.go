package app_test

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/guardgen/guardgen/app"
	"github.com/guardgen/guardgen/app/apptest"
	"github.com/guardgen/guardgen/config"
	configv1 "github.com/guardgen/guardgen/gen/guardgen/config/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers/synthetic"
)

const ticket = "guardgen.examples.v1.TicketClassification"

// parse returns the configuration in yaml, overlaid on the defaults and
// validated, as --config would load it.
func parse(t *testing.T, yaml string) *configv1.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// client starts guardgen from cfg and returns a client of it; logs are
// discarded.
func client(t *testing.T, cfg *configv1.Config) guardgenv1.GenerationServiceClient {
	t.Helper()
	return guardgenv1.NewGenerationServiceClient(apptest.Start(t, cfg, app.Options{LogOutput: io.Discard}).Dial(t))
}

// caller returns a function that sends prompt for a ticket to c with the
// synthetic fault plan, under a 5 s deadline.
func caller(t *testing.T, c guardgenv1.GenerationServiceClient) func(prompt, plan string) (*guardgenv1.GenerateResponse, error) {
	return func(prompt, plan string) (*guardgenv1.GenerateResponse, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		return generateCtx(ctx, c, prompt, plan)
	}
}

// generateCtx sends prompt for a ticket under ctx with the synthetic fault
// plan.
func generateCtx(ctx context.Context, c guardgenv1.GenerationServiceClient, prompt, plan string) (*guardgenv1.GenerateResponse, error) {
	if plan != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, synthetic.FaultsMetadataKey, plan)
	}
	return c.Generate(ctx, &guardgenv1.GenerateRequest{Prompt: prompt, TargetType: ticket})
}

// generatePlan sends one ticket request with the synthetic fault plan.
func generatePlan(t *testing.T, c guardgenv1.GenerationServiceClient, plan string, req *guardgenv1.GenerateRequest) (*guardgenv1.GenerateResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if plan != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, synthetic.FaultsMetadataKey, plan)
	}
	if req == nil {
		req = &guardgenv1.GenerateRequest{Prompt: "I was charged twice this month", TargetType: ticket}
	}
	return c.Generate(ctx, req)
}

// detail returns the FailureDetail of err's status, or nil.
func detail(err error) *guardgenv1.FailureDetail {
	for _, d := range status.Convert(err).Details() {
		if fd, ok := d.(*guardgenv1.FailureDetail); ok {
			return fd
		}
	}
	return nil
}

// TestZeroMeansWhatConfigSays: where config.proto documents 0 as "off",
// a 0 in the file turns the feature off rather than selecting a default;
// the default turns it on.
func TestZeroMeansWhatConfigSays(t *testing.T) {
	t.Parallel()
	const fast = `
llm_pipeline:
  execution:
    base_delay_seconds: 0
    max_delay_seconds: 0
    jitter_factor: 0
server:
  max_in_flight: 128
`
	reasons := func(t *testing.T, yaml, plan string, n int) map[string]int {
		c := client(t, parse(t, fast+yaml))
		got := map[string]int{}
		for range n {
			_, err := generatePlan(t, c, plan, nil)
			d := detail(err)
			got[d.GetReason().String()]++
			if d.GetMetadata()["retry_stopped"] != "" {
				got["retry_stopped="+d.GetMetadata()["retry_stopped"]]++
			}
		}
		return got
	}

	t.Run("breaker.consecutive_failures", func(t *testing.T) {
		t.Parallel()
		off := reasons(t, "  breaker: {consecutive_failures: 0}\n  retry_budget: {max_tokens: 0}\n", "unavailable,unavailable,unavailable", 10)
		if off["FAILURE_REASON_CIRCUIT_OPEN"] != 0 || off["FAILURE_REASON_RETRIES_EXHAUSTED"] != 10 {
			t.Errorf("consecutive_failures 0: %v, want 10 RETRIES_EXHAUSTED and no CIRCUIT_OPEN", off)
		}
		on := reasons(t, "  retry_budget: {max_tokens: 0}\n", "unavailable,unavailable,unavailable", 10)
		if on["FAILURE_REASON_CIRCUIT_OPEN"] == 0 {
			t.Errorf("default breaker: %v, want CIRCUIT_OPEN once 5 attempts failed", on)
		}
	})
	t.Run("retry_budget.max_tokens", func(t *testing.T) {
		t.Parallel()
		off := reasons(t, "  breaker: {consecutive_failures: 0}\n  retry_budget: {max_tokens: 0}\n", "unavailable,unavailable,unavailable", 10)
		if off["retry_stopped=budget"] != 0 {
			t.Errorf("max_tokens 0: %v, want no retry refused by the budget", off)
		}
		on := reasons(t, "  breaker: {consecutive_failures: 0}\n", "unavailable,unavailable,unavailable", 10)
		if on["retry_stopped=budget"] == 0 {
			t.Errorf("default budget: %v, want retries refused by the budget", on)
		}
	})
	t.Run("validation.max_content_preview_length", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			yaml    string
			preview bool
		}{
			{"  validation: {max_content_preview_length: 0}\n", false},
			{"", true},
		} {
			c := client(t, parse(t, strings.Replace(fast, "llm_pipeline:\n", "llm_pipeline:\n"+tt.yaml, 1)))
			_, err := generatePlan(t, c, "malformed,malformed,malformed", nil)
			if got := detail(err).GetOutputPreview() != ""; got != tt.preview {
				t.Errorf("%q: output preview %q, want one: %v", tt.yaml, detail(err).GetOutputPreview(), tt.preview)
			}
		}
	})
}

// Close may run while Serve is ending, from another goroutine: each of
// what New opened is released once. The list of closers was read and
// cleared unguarded, so a Close racing Serve's own panicked (an index out
// of range) or, under the race detector, was reported. Serve may report
// the server closed under it (Close stops it abruptly); it must return.
func TestCloseWhileServeEnds(t *testing.T) {
	t.Parallel()
	cfg := parse(t, "server:\n  metrics_listen: \"\"\n  drain_delay_seconds: 0\n")
	a, err := app.New(t.Context(), cfg, app.Options{LogOutput: io.Discard, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, lis) }()
	// A call answered: Serve is past its start.
	conn := (&apptest.Server{Addr: lis.Addr().String(), App: a}).Dial(t)
	if _, err := guardgenv1.NewTargetServiceClient(conn).ListTargets(t.Context(), &guardgenv1.ListTargetsRequest{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { _ = a.Close() })
	}
	cancel()
	wg.Wait()
	select {
	case err := <-served:
		t.Logf("Serve: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return")
	}
}
