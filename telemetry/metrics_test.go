package telemetry_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc/codes"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/telemetry"
)

// wantFamilies are the Prometheus families of the default prefix; the
// deploy/prometheus rules depend on these names.
var wantFamilies = []string{
	"llm_pipeline_requests_total",
	"llm_pipeline_request_duration_seconds",
	"llm_pipeline_requests_in_flight",
	"llm_pipeline_requests_shed_total",
	"llm_pipeline_provider_calls_total",
	"llm_pipeline_provider_call_duration_seconds",
	"llm_pipeline_provider_retries_total",
	"llm_pipeline_tokens_total",
	"llm_pipeline_reasks_total",
	"llm_pipeline_fallbacks_total",
	"llm_pipeline_cache_lookups_total",
	"llm_pipeline_cache_rejected_total",
	"llm_pipeline_cache_writes_total",
	"llm_pipeline_cache_breaker_state",
	"llm_pipeline_breaker_state",
	"llm_pipeline_alerts_total",
	"llm_pipeline_requests_rejected_total",
	"llm_pipeline_cost_total",
	"gen_ai_client_operation_duration_seconds",
	"gen_ai_client_token_usage",
}

// newMetrics is NewMetrics with config.Default's prefix when opts has
// none.
func newMetrics(t *testing.T, opts telemetry.Options) *telemetry.Metrics {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = "llm.pipeline"
	}
	m, err := telemetry.NewMetrics(opts)
	if err != nil {
		t.Fatalf("NewMetrics: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return m
}

// recordOneOfEach records every metric once.
func recordOneOfEach(ctx context.Context, m *telemetry.Metrics) {
	m.RecordRequest(ctx, telemetry.Request{
		Target:   "guardgen.examples.v1.TicketClassification",
		Outcome:  telemetry.OutcomeDegraded,
		Domain:   guardgenv1.FailureDomain_FAILURE_DOMAIN_OUTPUT_SEMANTIC,
		Action:   guardgenv1.RecoveryAction_RECOVERY_ACTION_FALLBACK_TO_CACHE,
		Reason:   guardgenv1.FailureReason_FAILURE_REASON_TRUNCATED,
		Duration: 1500 * time.Millisecond,
	})
	m.AddInFlight(ctx, 1)
	m.AddInFlight(ctx, 1) // still in flight at scrape time
	m.AddInFlight(ctx, -1)
	m.RecordShed(ctx, telemetry.ShedOverload)
	m.RecordProviderCall(ctx, &telemetry.ProviderCall{
		Provider: "synthetic", Model: "synthetic-1", Code: codes.OK,
		Duration: 20 * time.Millisecond, InputTokens: 120, OutputTokens: 40, Cost: 0.001, Priced: true,
	})
	m.RecordRejected(ctx, telemetry.RejectUnknownTarget)
	m.RecordProviderCall(ctx, &telemetry.ProviderCall{
		Provider: "synthetic", Model: "synthetic-1", Code: codes.Unavailable, Duration: 3 * time.Millisecond,
	})
	m.RecordRetry(ctx, "synthetic", guardgenv1.FailureReason_FAILURE_REASON_UPSTREAM_UNAVAILABLE)
	m.RecordReask(ctx, guardgenv1.FailureReason_FAILURE_REASON_SCHEMA_MISMATCH)
	m.RecordFallback(ctx, telemetry.FallbackCache)
	m.RecordCacheLookup(ctx, "memory", telemetry.CacheHit)
	m.RecordCacheLookup(ctx, "memory", telemetry.CacheMiss)
	m.RecordCacheRejected(ctx, "redis", "unauthenticated")
	m.RecordCacheWrite(ctx, "redis", "dropped")
	m.SetCacheBreakerState(ctx, "redis", telemetry.BreakerOpen)
	m.SetBreakerState(ctx, "synthetic", telemetry.BreakerOpen)
	m.RecordAlert(ctx, guardgenv1.FailureDomain_FAILURE_DOMAIN_OUTPUT_SEMANTIC)
}

// scrape serves one GET /metrics from h and returns the body.
func scrape(t *testing.T, h http.Handler) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}

func parse(t *testing.T, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse exposition: %v\n%s", err, body)
	}
	return families
}

// value returns the value of the family's series whose labels include
// labels, and whether there is one.
func value(f *dto.MetricFamily, labels map[string]string) (float64, bool) {
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		matched := 0
		for _, lp := range m.GetLabel() {
			if v, ok := labels[lp.GetName()]; ok && v == lp.GetValue() {
				matched++
			}
		}
		if matched != len(labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func TestHandlerExposesEveryFamily(t *testing.T) {
	t.Parallel()
	m := newMetrics(t, telemetry.Options{})
	recordOneOfEach(t.Context(), m)
	body := scrape(t, m.Handler())
	families := parse(t, body)

	for _, name := range wantFamilies {
		if families[name] == nil {
			t.Errorf("family %s missing from the scrape", name)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", body)
	}
	checkMetricsWithPromtool(t, body)
}

// checkMetricsWithPromtool pipes a scrape into `promtool check metrics`.
// Without promtool the check is skipped, except in CI (CI=true) where it
// fails.
func checkMetricsWithPromtool(t *testing.T, body []byte) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("promtool not on PATH in CI (apt-get install prometheus): %v", err)
		}
		t.Skipf("promtool not on PATH: %v", err)
	}
	cmd := exec.CommandContext(t.Context(), promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestRecordedValues(t *testing.T) {
	t.Parallel()
	m := newMetrics(t, telemetry.Options{Prefix: "llm.pipeline", NoRuntimeMetrics: true})
	recordOneOfEach(t.Context(), m)
	families := parse(t, scrape(t, m.Handler()))

	tests := []struct {
		family string
		labels map[string]string
		want   float64
	}{
		{"llm_pipeline_requests_total", map[string]string{
			"outcome": "degraded", "domain": "OUTPUT_SEMANTIC", "action": "FALLBACK_TO_CACHE",
			"reason": "TRUNCATED", "target": "guardgen.examples.v1.TicketClassification",
		}, 1},
		{"llm_pipeline_request_duration_seconds", map[string]string{"outcome": "degraded"}, 1},
		{"llm_pipeline_requests_in_flight", nil, 1},
		{"llm_pipeline_requests_shed_total", map[string]string{"reason": "overload"}, 1},
		{"llm_pipeline_provider_calls_total", map[string]string{"provider": "synthetic", "model": "synthetic-1", "outcome": "ok"}, 1},
		{"llm_pipeline_provider_calls_total", map[string]string{"outcome": "UNAVAILABLE"}, 1},
		{"llm_pipeline_provider_call_duration_seconds", map[string]string{"outcome": "error"}, 1},
		{"llm_pipeline_provider_retries_total", map[string]string{"provider": "synthetic", "reason": "UPSTREAM_UNAVAILABLE"}, 1},
		{"llm_pipeline_tokens_total", map[string]string{"provider": "synthetic", "direction": "input"}, 120},
		{"llm_pipeline_tokens_total", map[string]string{"direction": "output"}, 40},
		{"llm_pipeline_reasks_total", map[string]string{"reason": "SCHEMA_MISMATCH"}, 1},
		{"llm_pipeline_fallbacks_total", map[string]string{"kind": "cache"}, 1},
		{"llm_pipeline_cache_lookups_total", map[string]string{"backend": "memory", "result": "hit"}, 1},
		{"llm_pipeline_cache_lookups_total", map[string]string{"backend": "memory", "result": "miss"}, 1},
		{"llm_pipeline_cache_rejected_total", map[string]string{"backend": "redis", "reason": "unauthenticated"}, 1},
		{"llm_pipeline_cache_writes_total", map[string]string{"backend": "redis", "result": "dropped"}, 1},
		{"llm_pipeline_cache_breaker_state", map[string]string{"backend": "redis"}, 2},
		{"llm_pipeline_breaker_state", map[string]string{"provider": "synthetic"}, 2},
		{"llm_pipeline_alerts_total", map[string]string{"domain": "OUTPUT_SEMANTIC"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.family, func(t *testing.T) {
			t.Parallel()
			got, ok := value(families[tt.family], tt.labels)
			if !ok || got != tt.want {
				t.Errorf("%s%v = %v (present %v), want %v", tt.family, tt.labels, got, ok, tt.want)
			}
		})
	}
}

func TestLatencyBuckets(t *testing.T) {
	t.Parallel()
	m := newMetrics(t, telemetry.Options{Prefix: "llm.pipeline", NoRuntimeMetrics: true})
	m.RecordRequest(t.Context(), telemetry.Request{Target: "t", Duration: time.Millisecond})
	f := parse(t, scrape(t, m.Handler()))["llm_pipeline_request_duration_seconds"]
	var bounds []float64
	for _, b := range f.GetMetric()[0].GetHistogram().GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
	}
	want := append(slices.Clone(telemetry.DefaultLatencyBuckets), math.Inf(1))
	if !slices.Equal(bounds, want) {
		t.Errorf("bucket bounds = %v, want %v", bounds, want)
	}
}

func TestCustomPrefix(t *testing.T) {
	t.Parallel()
	m := newMetrics(t, telemetry.Options{Prefix: "guardgen.gen", NoRuntimeMetrics: true})
	m.RecordAlert(t.Context(), guardgenv1.FailureDomain_FAILURE_DOMAIN_PIPELINE_LOGIC)
	families := parse(t, scrape(t, m.Handler()))
	if families["guardgen_gen_alerts_total"] == nil {
		t.Errorf("guardgen_gen_alerts_total missing; families: %v", keys(families))
	}
}

func TestInvalidPrefix(t *testing.T) {
	t.Parallel()
	_, err := telemetry.NewMetrics(telemetry.Options{Prefix: "9lives"})
	if !errors.Is(err, telemetry.ErrInvalidPrefix) {
		t.Errorf("NewMetrics error = %v, want ErrInvalidPrefix", err)
	}
}

// TestBoundedCardinality: caller-chosen targets and models beyond the
// bound collapse into "other".
func TestBoundedCardinality(t *testing.T) {
	t.Parallel()
	m := newMetrics(t, telemetry.Options{MaxLabelValues: 2, NoRuntimeMetrics: true})
	for _, target := range []string{"a.A", "b.B", "c.C", "d.D", "a.A"} {
		m.RecordRequest(t.Context(), telemetry.Request{Target: target})
	}
	f := parse(t, scrape(t, m.Handler()))["llm_pipeline_requests_total"]
	got := map[string]float64{}
	for _, s := range f.GetMetric() {
		for _, lp := range s.GetLabel() {
			if lp.GetName() == "target" {
				got[lp.GetValue()] = s.GetCounter().GetValue()
			}
		}
	}
	want := map[string]float64{"a.A": 2, "b.B": 1, "other": 2}
	if !maps.Equal(got, want) {
		t.Errorf("requests by target = %v, want %v", got, want)
	}
}

// TestNilMetrics: every method is a no-op on nil, so callers need no
// branches.
func TestNilMetrics(t *testing.T) {
	t.Parallel()
	var m *telemetry.Metrics
	recordOneOfEach(t.Context(), m)
	if err := m.Shutdown(t.Context()); err != nil {
		t.Errorf("Shutdown on nil: %v", err)
	}
	if m.MeterProvider() == nil {
		t.Error("MeterProvider on nil is nil, want a no-op provider")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("nil Handler status = %d, want 404", rec.Code)
	}
}

// TestMeterProviderSharesRegistry: instruments of other libraries made
// from MeterProvider appear in the same scrape.
func TestMeterProviderSharesRegistry(t *testing.T) {
	t.Parallel()
	m := newMetrics(t, telemetry.Options{Prefix: "llm.pipeline", NoRuntimeMetrics: true})
	c, err := m.MeterProvider().Meter("other").Int64Counter("rpc.things")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(t.Context(), 3)
	if f := parse(t, scrape(t, m.Handler()))["rpc_things_total"]; f == nil {
		t.Error("rpc_things_total missing from the scrape")
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// oneRequest is metrics of their own and what one request through an
// OpenAI provider call records.
func oneRequest(tb testing.TB) (*telemetry.Metrics, telemetry.ProviderCall, telemetry.Request) {
	tb.Helper()
	m, err := telemetry.NewMetrics(telemetry.Options{Prefix: "llm.pipeline", NoRuntimeMetrics: true})
	if err != nil {
		tb.Fatal(err)
	}
	call := telemetry.ProviderCall{Provider: "openai", Model: "gpt-4o-mini", RequestModel: "gpt-4o-mini", Code: codes.OK,
		Duration: time.Second, InputTokens: 120, OutputTokens: 30, GenAI: telemetry.GenAIEndpoint{ServerAddress: "api.openai.com", ServerPort: 443}}
	req := telemetry.Request{Target: "guardgen.examples.v1.TicketClassification", Outcome: telemetry.OutcomeOK, Duration: time.Second}
	return m, call, req
}

// TestRecordingAllocatesNothing: once a combination of labels has been
// seen, recording a request or a provider call (guardgen's and the GenAI
// instruments) allocates nothing: the attribute sets come from the cache, found
// without boxing their keys.
func TestRecordingAllocatesNothing(t *testing.T) {
	m, call, req := oneRequest(t)
	ctx := context.Background()
	for name, record := range map[string]func(){
		"RecordProviderCall": func() { m.RecordProviderCall(ctx, &call) },
		"RecordRequest":      func() { m.RecordRequest(ctx, req) },
	} {
		record()
		if n := testing.AllocsPerRun(200, record); n > 0 {
			t.Errorf("%s allocates %.0f times per call once warm, want 0", name, n)
		}
	}
}

// TestCountsSurviveConcurrentFirstUse: guardgen keeps the request,
// provider-call and token counters itself, one total per label set. Many
// requests recording a label set none has recorded before must all land
// in that one total, and recordings keep counting between scrapes.
func TestCountsSurviveConcurrentFirstUse(t *testing.T) {
	m := newMetrics(t, telemetry.Options{Prefix: "llm.pipeline", NoRuntimeMetrics: true})
	const workers, each = 8, 500
	record := func(target string) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range workers {
			wg.Go(func() {
				<-start
				for range each {
					m.RecordRequest(t.Context(), telemetry.Request{Target: target, Outcome: telemetry.OutcomeOK, Duration: time.Millisecond})
					m.RecordProviderCall(t.Context(), &telemetry.ProviderCall{Provider: "synthetic", Model: target, Code: codes.OK, InputTokens: 2})
				}
			})
		}
		close(start)
		wg.Wait()
	}
	for round, target := range []string{"a.v1.First", "a.v1.Second"} {
		record(target)
		families := parse(t, scrape(t, m.Handler()))
		for _, tt := range []struct {
			family string
			labels map[string]string
			want   float64
		}{
			{"llm_pipeline_requests_total", map[string]string{"target": target}, workers * each},
			{"llm_pipeline_provider_calls_total", map[string]string{"model": target}, workers * each},
			{"llm_pipeline_tokens_total", map[string]string{"model": target, "direction": "input"}, 2 * workers * each},
		} {
			if got, ok := value(families[tt.family], tt.labels); !ok || got != tt.want {
				t.Errorf("round %d: %s%v = %v (present %v), want %v", round, tt.family, tt.labels, got, ok, tt.want)
			}
		}
	}
}

// BenchmarkRecord is what a request through one provider call records:
// in flight up and down, the provider call, the request.
func BenchmarkRecord(b *testing.B) {
	m, call, req := oneRequest(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.AddInFlight(ctx, 1)
			m.RecordProviderCall(ctx, &call)
			m.RecordRequest(ctx, req)
			m.AddInFlight(ctx, -1)
		}
	})
}
