package telemetry_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/telemetry"
)

func ExampleAlerter() {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	a, err := telemetry.NewAlerter(telemetry.AlertOptions{
		Thresholds: map[guardgenv1.FailureDomain]int{guardgenv1.FailureDomain_FAILURE_DOMAIN_INFRASTRUCTURE: 3},
		Window:     time.Minute,
		Now:        func() time.Time { return now },
		Logger:     logger,
	})
	if err != nil {
		panic(err)
	}
	for range 4 {
		now = now.Add(5 * time.Second)
		a.Observe(context.Background(), guardgenv1.FailureDomain_FAILURE_DOMAIN_INFRASTRUCTURE,
			guardgenv1.FailureReason_FAILURE_REASON_RETRIES_EXHAUSTED)
	}
	// Output:
	// level=ERROR msg="failure alert threshold reached" alert=true domain=INFRASTRUCTURE reason=RETRIES_EXHAUSTED count=3 window=1m0s threshold=3
}

func ExampleMetrics() {
	m, err := telemetry.NewMetrics(telemetry.Options{Prefix: "llm.pipeline", NoRuntimeMetrics: true})
	if err != nil {
		panic(err)
	}
	defer m.Shutdown(context.Background())

	ctx := context.Background()
	m.RecordRequest(ctx, telemetry.Request{
		Target:   "guardgen.examples.v1.TicketClassification",
		Outcome:  telemetry.OutcomeFailed,
		Domain:   guardgenv1.FailureDomain_FAILURE_DOMAIN_INFRASTRUCTURE,
		Action:   guardgenv1.RecoveryAction_RECOVERY_ACTION_ALERT_AND_DEGRADE,
		Reason:   guardgenv1.FailureReason_FAILURE_REASON_RETRIES_EXHAUSTED,
		Duration: 7 * time.Second,
	})

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "llm_pipeline_requests_total") {
			fmt.Println(sc.Text())
		}
	}
	// Output:
	// llm_pipeline_requests_total{action="ALERT_AND_DEGRADE",domain="INFRASTRUCTURE",outcome="failed",reason="RETRIES_EXHAUSTED",target="guardgen.examples.v1.TicketClassification"} 1
}
