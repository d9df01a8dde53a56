package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// maxWindowEvents bounds the failures an Alerter remembers per domain (or
// the threshold, when larger). Past it the oldest are forgotten, so in a
// storm the reported count saturates but firing is unaffected.
const maxWindowEvents = 10_000

// AlertOptions configures NewAlerter; the zero value alerts on nothing.
type AlertOptions struct {
	// Thresholds is the number of failures of a domain within Window that
	// raises an alert: the config's routing.<domain>.alert_threshold. A
	// domain that is absent or has a threshold below 1 never alerts.
	Thresholds map[guardgenv1.FailureDomain]int
	// Window is the sliding window; positive whenever a threshold is set
	// (config.Default's is a minute).
	Window time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives the alert events; nil means slog.Default().
	Logger *slog.Logger
	// Metrics counts the alert events; nil counts nothing.
	Metrics *Metrics
}

// Alerter raises an alert event when a failure domain's failures within a
// sliding window reach the domain's threshold. An alert event is one ERROR
// log line with alert=true, domain, reason (of the failure that tipped it),
// count, window and threshold, plus one increment of the alerts counter.
//
// De-duplication: after an alert for a domain at time T, that domain does
// not alert again before T+Window. Failures in between are still counted,
// so the first failure at or after T+Window that finds the threshold
// reached within its own window fires again: a sustained storm raises about
// one alert per window, and a storm that ends raises none after it.
//
// An Alerter is safe for concurrent use; a nil *Alerter observes nothing.
type Alerter struct {
	thresholds map[guardgenv1.FailureDomain]int
	window     time.Duration
	now        func() time.Time
	logger     *slog.Logger
	metrics    *Metrics

	mu      sync.Mutex
	domains map[guardgenv1.FailureDomain]*domainWindow
}

// domainWindow is the recent failures of one domain.
type domainWindow struct {
	times      []time.Time // ascending, all within the window after pruning
	mutedUntil time.Time
}

// NewAlerter returns an Alerter configured by opts, or an error when a
// threshold is set without a window to count it in.
func NewAlerter(opts AlertOptions) (*Alerter, error) {
	if opts.Window <= 0 {
		for domain, n := range opts.Thresholds {
			if n >= 1 {
				return nil, fmt.Errorf("telemetry: alert threshold %d for %v needs a positive window, got %v", n, domain, opts.Window)
			}
		}
	}
	a := &Alerter{
		thresholds: maps.Clone(opts.Thresholds),
		window:     opts.Window,
		now:        opts.Now,
		logger:     opts.Logger,
		metrics:    opts.Metrics,
		domains:    make(map[guardgenv1.FailureDomain]*domainWindow),
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.logger == nil {
		a.logger = slog.Default()
	}
	return a, nil
}

// Observe records one failure of domain for reason and reports whether it
// raised an alert event.
func (a *Alerter) Observe(ctx context.Context, domain guardgenv1.FailureDomain, reason guardgenv1.FailureReason) bool {
	if a == nil {
		return false
	}
	threshold := a.thresholds[domain]
	if threshold < 1 {
		return false
	}
	count, fired := a.record(domain, threshold)
	if !fired {
		return false
	}
	a.logger.LogAttrs(ctx, slog.LevelError, "failure alert threshold reached",
		slog.Bool("alert", true),
		slog.String("domain", DomainLabel(domain)),
		slog.String("reason", ReasonLabel(reason)),
		slog.Int("count", count),
		slog.Duration("window", a.window),
		slog.Int("threshold", threshold),
	)
	a.metrics.RecordAlert(ctx, domain)
	return true
}

// record adds a failure at now and returns the failures within the window
// and whether they fire an alert.
func (a *Alerter) record(domain guardgenv1.FailureDomain, threshold int) (count int, fire bool) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	w := a.domains[domain]
	if w == nil {
		w = &domainWindow{}
		a.domains[domain] = w
	}
	// The window is (now-window, now]: a failure exactly one window old
	// has left it.
	start := now.Add(-a.window)
	i := 0
	for i < len(w.times) && !w.times[i].After(start) {
		i++
	}
	w.times = append(w.times[i:], now)
	if limit := max(threshold, maxWindowEvents); len(w.times) > limit {
		w.times = w.times[len(w.times)-limit:]
	}
	count = len(w.times)
	if count < threshold || now.Before(w.mutedUntil) {
		return count, false
	}
	w.mutedUntil = now.Add(a.window)
	return count, true
}
