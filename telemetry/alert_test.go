package telemetry_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/telemetry"
)

const (
	infra    = guardgenv1.FailureDomain_FAILURE_DOMAIN_INFRASTRUCTURE
	input    = guardgenv1.FailureDomain_FAILURE_DOMAIN_INPUT_CONSTRAINT
	semantic = guardgenv1.FailureDomain_FAILURE_DOMAIN_OUTPUT_SEMANTIC
	logic    = guardgenv1.FailureDomain_FAILURE_DOMAIN_PIPELINE_LOGIC
)

// articleThresholds are the alert_threshold values of the article's
// configuration template.
var articleThresholds = map[guardgenv1.FailureDomain]int{infra: 3, input: 1, semantic: 5, logic: 1}

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// clock is a settable clock for an Alerter.
type clock struct{ now atomic.Pointer[time.Time] }

func newClock() *clock {
	c := &clock{}
	c.set(epoch)
	return c
}

func (c *clock) set(t time.Time) { c.now.Store(&t) }
func (c *clock) Now() time.Time  { return *c.now.Load() }

// observation is one failure at an offset from epoch.
type observation struct {
	at     time.Duration
	domain guardgenv1.FailureDomain
}

func TestAlerterObserve(t *testing.T) {
	t.Parallel()
	s := time.Second
	tests := []struct {
		name       string
		thresholds map[guardgenv1.FailureDomain]int
		window     time.Duration
		obs        []observation
		want       []bool
	}{
		{
			name:       "fires when the count reaches the threshold",
			thresholds: articleThresholds,
			obs:        []observation{{0, infra}, {10 * s, infra}, {20 * s, infra}},
			want:       []bool{false, false, true},
		},
		{
			name:       "threshold 1 fires on the first failure",
			thresholds: articleThresholds,
			obs:        []observation{{0, logic}},
			want:       []bool{true},
		},
		{
			name:       "failures that left the window do not count",
			thresholds: articleThresholds,
			obs:        []observation{{0, infra}, {30 * s, infra}, {61 * s, infra}},
			want:       []bool{false, false, false},
		},
		{
			name:       "a failure exactly one window old has left it",
			thresholds: map[guardgenv1.FailureDomain]int{infra: 2},
			obs:        []observation{{0, infra}, {60 * s, infra}},
			want:       []bool{false, false},
		},
		{
			name:       "no re-fire within a window of the alert, then fire again",
			thresholds: articleThresholds,
			obs:        []observation{{0, logic}, {10 * s, logic}, {59 * s, logic}, {60 * s, logic}},
			want:       []bool{true, false, false, true},
		},
		{
			name:       "after the mute, the count must be reached again within the window",
			thresholds: map[guardgenv1.FailureDomain]int{infra: 2},
			obs:        []observation{{0, infra}, {1 * s, infra}, {2 * s, infra}, {70 * s, infra}, {75 * s, infra}},
			want:       []bool{false, true, false, false, true},
		},
		{
			name:       "domains count apart",
			thresholds: articleThresholds,
			obs:        []observation{{0, infra}, {1 * s, semantic}, {2 * s, infra}, {3 * s, input}, {4 * s, infra}},
			want:       []bool{false, false, false, true, true},
		},
		{
			name:       "a domain without a threshold never alerts",
			thresholds: map[guardgenv1.FailureDomain]int{infra: 1, semantic: 0},
			obs:        []observation{{0, semantic}, {1 * s, input}, {2 * s, guardgenv1.FailureDomain_FAILURE_DOMAIN_UNSPECIFIED}},
			want:       []bool{false, false, false},
		},
		{
			name:       "custom window",
			thresholds: map[guardgenv1.FailureDomain]int{semantic: 2},
			window:     5 * time.Minute,
			obs:        []observation{{0, semantic}, {4 * time.Minute, semantic}, {5 * time.Minute, semantic}, {9 * time.Minute, semantic}},
			want:       []bool{false, true, false, true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			window := tt.window
			if window == 0 {
				window = time.Minute // config.Default's
			}
			a := newAlerter(t, telemetry.AlertOptions{
				Thresholds: tt.thresholds,
				Window:     window,
				Now:        c.Now,
				Logger:     slog.New(slog.DiscardHandler),
			})
			var got []bool
			for _, o := range tt.obs {
				c.set(epoch.Add(o.at))
				got = append(got, a.Observe(t.Context(), o.domain, guardgenv1.FailureReason_FAILURE_REASON_INTERNAL))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("fired (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAlertEvent checks the log line and the counter of one alert.
func TestAlertEvent(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	m := newMetrics(t, telemetry.Options{Prefix: "llm.pipeline", NoRuntimeMetrics: true})
	c := newClock()
	a := newAlerter(t, telemetry.AlertOptions{
		Thresholds: articleThresholds,
		Window:     time.Minute,
		Now:        c.Now,
		Logger:     slog.New(slog.NewJSONHandler(&buf, nil)),
		Metrics:    m,
	})
	for i := range 5 {
		c.set(epoch.Add(time.Duration(i) * time.Second))
		a.Observe(t.Context(), semantic, guardgenv1.FailureReason_FAILURE_REASON_SCHEMA_MISMATCH)
	}

	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("want one JSON log line, got %q: %v", buf.String(), err)
	}
	delete(line, "time")
	delete(line, "msg")
	want := map[string]any{
		"level":     "ERROR",
		"alert":     true,
		"domain":    "OUTPUT_SEMANTIC",
		"reason":    "SCHEMA_MISMATCH",
		"count":     float64(5),
		"window":    float64(time.Minute),
		"threshold": float64(5),
	}
	if diff := cmp.Diff(want, line); diff != "" {
		t.Errorf("alert log line (-want +got):\n%s", diff)
	}

	families := parse(t, scrape(t, m.Handler()))
	if got, _ := value(families["llm_pipeline_alerts_total"], map[string]string{"domain": "OUTPUT_SEMANTIC"}); got != 1 {
		t.Errorf("llm_pipeline_alerts_total{domain=OUTPUT_SEMANTIC} = %v, want 1", got)
	}
}

// TestAlerterConcurrent: many goroutines at one instant fire exactly one
// alert per domain.
func TestAlerterConcurrent(t *testing.T) {
	t.Parallel()
	var fired atomic.Int64
	a := newAlerter(t, telemetry.AlertOptions{
		Thresholds: articleThresholds,
		Window:     time.Minute,
		Now:        newClock().Now,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for _, d := range []guardgenv1.FailureDomain{infra, input, semantic, logic} {
				for range 10 {
					if a.Observe(t.Context(), d, guardgenv1.FailureReason_FAILURE_REASON_INTERNAL) {
						fired.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	if got := fired.Load(); got != 4 {
		t.Errorf("alerts fired = %d, want 4 (one per domain)", got)
	}
}

func TestNilAlerter(t *testing.T) {
	t.Parallel()
	var a *telemetry.Alerter
	if a.Observe(t.Context(), logic, guardgenv1.FailureReason_FAILURE_REASON_INTERNAL) {
		t.Error("nil Alerter fired")
	}
}

func newAlerter(t *testing.T, opts telemetry.AlertOptions) *telemetry.Alerter {
	t.Helper()
	a, err := telemetry.NewAlerter(opts)
	if err != nil {
		t.Fatalf("NewAlerter: %v", err)
	}
	return a
}

// TestAlerterNeedsAWindow: a threshold without a window is an error, not
// a default window; without thresholds no window is needed.
func TestAlerterNeedsAWindow(t *testing.T) {
	t.Parallel()
	if _, err := telemetry.NewAlerter(telemetry.AlertOptions{Thresholds: articleThresholds}); err == nil {
		t.Error("NewAlerter with thresholds and no window succeeded")
	}
	if _, err := telemetry.NewAlerter(telemetry.AlertOptions{}); err != nil {
		t.Errorf("NewAlerter without thresholds: %v", err)
	}
}
