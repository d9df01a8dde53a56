package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/guardgen/guardgen/app"
	configv1 "github.com/guardgen/guardgen/gen/guardgen/config/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
)

// upstream starts the scripted OpenAI-compatible server, closed at cleanup.
func upstream(t *testing.T) *openaitest.Server {
	t.Helper()
	up := openaitest.New()
	t.Cleanup(up.Close)
	return up
}

// openAIConfig is the configuration --provider openai builds without a
// file, pointed at up.
func openAIConfig(t *testing.T, up *openaitest.Server) *configv1.Config {
	t.Helper()
	env := map[string]string{"OPENAI_API_KEY": "sk-test-not-a-secret", "OPENAI_BASE_URL": up.URL()}
	cfg, err := app.LoadConfig("", "openai", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestDefaultTimeouts: without a config file, every mode has a request
// timeout, an attempt timeout and a half-open probe timeout, from
// config.Default.
func TestDefaultTimeouts(t *testing.T) {
	t.Parallel()
	for _, provider := range []string{"synthetic", "openai"} {
		cfg, err := app.LoadConfig("", provider, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprintf("request %v, attempt %v, probe %v",
			cfg.GetServer().GetRequestTimeoutSeconds(),
			cfg.GetLlmPipeline().GetExecution().GetAttemptTimeoutSeconds(),
			cfg.GetServer().GetBreaker().GetProbeTimeoutSeconds())
		if want := "request 60, attempt 30, probe 10"; got != want {
			t.Errorf("--provider %s: %s, want %s", provider, got, want)
		}
	}
}

// TestHungUpstreamWithoutCallerDeadline: a caller that sends no deadline
// to a hung upstream gets a FailureDetail when the request timeout runs
// out, before the attempts would have; each attempt is cut by the attempt
// timeout and its HTTP request cancelled. The defaults are shortened here; the wiring is the one
// --provider openai uses.
func TestHungUpstreamWithoutCallerDeadline(t *testing.T) {
	t.Parallel()
	up := upstream(t)
	up.SetDefault(openaitest.Step{Hang: true})
	cfg := openAIConfig(t, up)
	cfg.Server.RequestTimeoutSeconds = proto.Float64(2) // room for ≥ 2 attempts on a loaded machine, not for the 6-call cap (2.4 s)
	cfg.LlmPipeline.Execution.AttemptTimeoutSeconds = proto.Float64(0.4)
	cfg.LlmPipeline.Execution.MaxAttempts = proto.Uint32(20) // 8 s of attempts: the request timeout must end them
	cfg.LlmPipeline.Execution.BaseDelaySeconds = proto.Float64(0.01)
	cfg.LlmPipeline.Execution.MaxDelaySeconds = proto.Float64(0.01)
	cfg.Server.RetryBudget.MaxTokens = proto.Float64(0)
	cfg.Server.Breaker.ConsecutiveFailures = proto.Uint32(0) // off: five cut attempts must not open it
	c := client(t, cfg)

	// No deadline from the caller; the test's own bound is far beyond the
	// request timeout, so only guardgen can end the call in time.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err := c.Generate(ctx, &guardgenv1.GenerateRequest{Prompt: "I was charged twice", TargetType: ticket})
	if status.Code(err) != codes.DeadlineExceeded || classifierReason(err) != "DEADLINE_EXCEEDED" {
		t.Fatalf("Generate = %v (detail %v), want DEADLINE_EXCEEDED with a FailureDetail", err, detail(err))
	}
	if n := up.Count(); n < 2 {
		t.Errorf("upstream saw %d requests, want the attempt timeout to cut them (≥ 2)", n)
	}
	for i := range up.Count() {
		if r, err := up.Wait(ctx, i); err != nil || !r.Cancelled {
			t.Errorf("upstream request %d: cancelled %v, %v; want cancelled", i, r.Cancelled, err)
		}
	}
}

// TestHalfOpenProbeTimeout: the one call a half-open breaker lets through
// hangs upstream; the probe timeout ends it long before the attempt
// timeout would, the breaker opens again, and once it half-opens the next
// probe finds the upstream back and closes it.
func TestHalfOpenProbeTimeout(t *testing.T) {
	t.Parallel()
	up := upstream(t)
	cfg := openAIConfig(t, up)
	cfg.LlmPipeline.Execution.MaxAttempts = proto.Uint32(1)
	cfg.LlmPipeline.Execution.AttemptTimeoutSeconds = proto.Float64(60)
	cfg.Server.Breaker = &configv1.Breaker{
		ConsecutiveFailures: proto.Uint32(1),
		OpenSeconds:         proto.Float64(0.2),
		ProbeTimeoutSeconds: proto.Float64(0.3),
	}
	c := client(t, cfg)
	call := func() error {
		// Well under the attempt timeout: only the probe timeout can end a
		// hung probe with guardgen's FailureDetail before this runs out.
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		_, err := c.Generate(ctx, &guardgenv1.GenerateRequest{Prompt: "I was charged twice", TargetType: ticket})
		return err
	}

	up.Enqueue(openaitest.ServerError(500))
	if err := call(); classifierReason(err) != "UPSTREAM_UNAVAILABLE" {
		t.Fatalf("first call = %v, want UPSTREAM_UNAVAILABLE (and the breaker open)", err)
	}
	// The probe: the breaker half-opens after 0.2 s and the hung upstream
	// holds it.
	up.Enqueue(openaitest.Step{Hang: true})
	var err error
	for err = call(); classifierReason(err) == "CIRCUIT_OPEN"; err = call() {
		time.Sleep(50 * time.Millisecond)
	}
	if got := classifierReason(err); got != "UPSTREAM_TIMEOUT" {
		t.Fatalf("probe = %v (%s), want UPSTREAM_TIMEOUT from the probe timeout", err, got)
	}
	up.SetDefault(openaitest.Reply(validTicket))
	for err = call(); classifierReason(err) == "CIRCUIT_OPEN"; err = call() {
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("after the upstream recovered: %v, want OK", err)
	}
}

// TestRetryAfterCapped: a Retry-After of 45 s, beyond max_delay_seconds
// (20 s by default), is not waited for: the call fails at once with
// RESOURCE_EXHAUSTED and the hint as RetryInfo, and nothing more goes
// upstream.
func TestRetryAfterCapped(t *testing.T) {
	t.Parallel()
	up := upstream(t)
	up.Enqueue(openaitest.RateLimited("45"))
	up.SetDefault(openaitest.Reply(validTicket))
	cfg := openAIConfig(t, up)
	cfg.Server.RequestTimeoutSeconds = proto.Float64(120) // room for the wait, were it made
	c := client(t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	_, err := c.Generate(ctx, &guardgenv1.GenerateRequest{Prompt: "I was charged twice", TargetType: ticket})
	if status.Code(err) != codes.ResourceExhausted || detail(err).GetMetadata()["retry_stopped"] != "retry_after" {
		t.Fatalf("Generate = %v (detail %v), want RESOURCE_EXHAUSTED stopped by the Retry-After cap", err, detail(err))
	}
	var delay time.Duration
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			delay = ri.GetRetryDelay().AsDuration()
		}
	}
	if delay != 45*time.Second {
		t.Errorf("RetryInfo delay = %v, want 45s", delay)
	}
	if n := up.Count(); n != 1 {
		t.Errorf("upstream requests = %d, want 1", n)
	}
}

// classifierReason is the reason of the attempt that failed err: the
// FailureDetail's, or for exhausted retries the last attempt's; "" for OK.
func classifierReason(err error) string {
	if err == nil {
		return ""
	}
	d := detail(err)
	if last := d.GetMetadata()["last_reason"]; last != "" {
		return last
	}
	return strings.TrimPrefix(d.GetReason().String(), "FAILURE_REASON_")
}

// TestHugeUpstreamAnswer: a 50 MiB 200 answer fails the call with
// OUTPUT_TOO_LARGE and its FailureDetail; the body is not read past
// server.max_provider_response_bytes (the memory it costs is measured in
// providers/openai's TestHugeResponseCostsLittleMemory).
func TestHugeUpstreamAnswer(t *testing.T) {
	t.Parallel()
	up := upstream(t)
	up.SetDefault(openaitest.Step{Content: validTicket, PadContent: 50 << 20})
	c := client(t, openAIConfig(t, up))
	_, err := generatePlan(t, c, "", nil)
	if status.Code(err) != codes.Aborted || classifierReason(err) != "OUTPUT_TOO_LARGE" {
		t.Fatalf("Generate = %v (detail %v), want ABORTED with OUTPUT_TOO_LARGE", err, detail(err))
	}
	if n := up.Count(); n != 1 {
		t.Errorf("upstream requests = %d, want 1 (not retried)", n)
	}
}
