package app_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/guardgen/guardgen/app"
	"github.com/guardgen/guardgen/app/apptest"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// TestStripMarkdownFences: llm_pipeline.validation.strip_markdown_fences
// on (the default), a fenced answer is unwrapped and accepted with the
// repair listed; off, it is malformed, as strict JSON would find it, and
// re-asked.
func TestStripMarkdownFences(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		yaml     string
		attempts int
		reason   guardgenv1.FailureReason
	}{
		{"", 1, guardgenv1.FailureReason_FAILURE_REASON_UNSPECIFIED},
		{"llm_pipeline:\n  validation:\n    strip_markdown_fences: false\n", 2, guardgenv1.FailureReason_FAILURE_REASON_MALFORMED_JSON},
	} {
		c := client(t, parse(t, tt.yaml))
		resp, err := generatePlan(t, c, "fence,ok", nil)
		if err != nil {
			t.Fatalf("%q: %v", tt.yaml, err)
		}
		attempts := resp.GetReport().GetAttempts()
		if len(attempts) != tt.attempts || attempts[0].GetFailure().GetReason() != tt.reason {
			t.Errorf("%q: attempts %v; want %d, the first failed with %v", tt.yaml, attempts, tt.attempts, tt.reason)
		}
		stripped := false
		for _, r := range resp.GetReport().GetRepairs() {
			stripped = stripped || r.GetKind() == "strip_fence"
		}
		if stripped != (tt.attempts == 1) {
			t.Errorf("%q: repairs %v; a strip_fence repair only when fences are stripped", tt.yaml, resp.GetReport().GetRepairs())
		}
	}
}

// TestRoutingAction: llm_pipeline.routing.<domain>.action says what a
// domain's failures come to once their decision-matrix row's retries and
// re-asks are spent. reject_and_fix fails at once where the default
// (fallback_to_cache for output_semantic) serves the cached answer, and
// alert_and_degrade alerts at the first such failure where the default
// waits for alert_threshold.
func TestRoutingAction(t *testing.T) {
	t.Parallel()
	const prompt = "I was charged twice this month"
	t.Run("reject_and_fix", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			yaml     string
			degraded bool
		}{
			{"", true},
			{"llm_pipeline:\n  routing:\n    output_semantic: {action: reject_and_fix}\n", false},
		} {
			call := caller(t, client(t, parse(t, tt.yaml)))
			if _, err := call(prompt, "ok"); err != nil { // the cached answer
				t.Fatal(err)
			}
			resp, err := call(prompt, "length")
			if got := resp.GetDegraded(); got != tt.degraded {
				t.Errorf("%q: truncated output with a cached answer: degraded %v (%v), want %v", tt.yaml, got, err, tt.degraded)
			}
			if !tt.degraded && (status.Code(err) != codes.Aborted || detail(err).GetReason() != guardgenv1.FailureReason_FAILURE_REASON_TRUNCATED) {
				t.Errorf("%q: %v, want ABORTED / TRUNCATED", tt.yaml, err)
			}
		}
	})
	t.Run("alert_and_degrade", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			yaml  string
			alert bool
		}{
			{"", false},
			{"llm_pipeline:\n  routing:\n    output_semantic: {action: alert_and_degrade, alert_threshold: 5}\n", true},
		} {
			var logs syncBuffer
			srv := apptest.Start(t, parse(t, tt.yaml), app.Options{LogOutput: &logs})
			_, err := generatePlan(t, guardgenv1.NewGenerationServiceClient(srv.Dial(t)), "schema,schema", nil)
			if detail(err).GetReason() != guardgenv1.FailureReason_FAILURE_REASON_RULE_VIOLATION {
				t.Fatalf("%q: %v, want RULE_VIOLATION", tt.yaml, err)
			}
			srv.App.SyncLogs()
			if got := strings.Contains(logs.String(), `"alert":true`); got != tt.alert {
				t.Errorf("%q: one RULE_VIOLATION alerted: %v, want %v", tt.yaml, got, tt.alert)
			}
		}
	})
}

// TestAlertThreshold: routing.<domain>.alert_threshold failures of a
// domain within the alert window raise one alert, fewer raise none.
func TestAlertThreshold(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		domain, plan string
	}{
		{"output_semantic", "schema,schema"},
	} {
		t.Run(tt.domain, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			yaml := "llm_pipeline:\n  routing:\n    " + tt.domain + ": {action: fallback_to_cache, alert_threshold: 3}\n"
			srv := apptest.Start(t, parse(t, yaml), app.Options{LogOutput: &logs})
			c := guardgenv1.NewGenerationServiceClient(srv.Dial(t))
			for i := 1; i <= 3; i++ {
				if _, err := generatePlan(t, c, tt.plan, nil); err == nil {
					t.Fatalf("failure %d: the plan %s succeeded", i, tt.plan)
				}
				srv.App.SyncLogs()
				if got, want := strings.Count(logs.String(), `"alert":true`), i/3; got != want {
					t.Fatalf("after %d failures with alert_threshold 3: %d alerts, want %d\n%s", i, got, want, logs.String())
				}
			}
		})
	}
}
