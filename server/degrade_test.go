package server_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/guardgen/guardgen/classifier"
	"github.com/guardgen/guardgen/config"

	// fallback is the recovery action constant in server_test.go.
	fb "github.com/guardgen/guardgen/fallback"
	examplesv1 "github.com/guardgen/guardgen/gen/guardgen/examples/v1"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/providers/synthetic"
	"github.com/guardgen/guardgen/server"
	"github.com/guardgen/guardgen/telemetry"
)

const incident = "guardgen.examples.v1.IncidentReport"

// routeEntry is a route entry for p behind a client chain of its own, as
// main wires one per configured provider: tiny backoff, and the breaker
// and retry budget off because parallel fault plans share the chain.
func routeEntry(name, model string, maxTokens uint32, p providerv1.ProviderServiceServer) server.RouteEntry {
	chain := mustChain(providers.ChainOptions{
		Provider: name,
		Model:    model,
		Policy:   providers.Policy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 20 * time.Second},
		Breaker:  providers.BreakerPolicy{Disabled: true},
		Budget:   providers.BudgetPolicy{Disabled: true},
	})
	return server.RouteEntry{
		Provider:        name,
		Client:          providerv1.NewProviderServiceClient(providers.InProcess(p, chain.Interceptors()...)),
		Model:           model,
		MaxOutputTokens: maxTokens,
	}
}

// agedCache is a memory cache whose entries were stored age ago, so the
// age a degraded answer reports can be checked against a known value.
func agedCache(age time.Duration) *fb.Memory {
	return newMemoryCache(func() time.Time { return time.Now().Add(-age) })
}

// wantDegraded checks resp is OK, degraded by reason, served by the named
// link of the degradation chain.
func wantDegraded(t *testing.T, resp *guardgenv1.GenerateResponse, err error, reason, link string) *guardgenv1.FailureDetail {
	t.Helper()
	if err != nil {
		t.Fatalf("Generate: %v, want OK degraded from %s", err, link)
	}
	d := resp.GetDegradation()
	if !resp.GetDegraded() || classifier.ReasonName(d.GetReason()) != reason || d.GetMetadata()["degradation"] != link {
		t.Fatalf("degraded = %v, degradation = %v; want degraded by %s from %s", resp.GetDegraded(), d, reason, link)
	}
	return d
}

// TestSchemaTwiceDegradesFromCache: a field rule broken twice is answered
// from the cache when an earlier clean answer to the same request is
// there, and is ABORTED with the violations when it is not.
func TestSchemaTwiceDegradesFromCache(t *testing.T) {
	t.Parallel()
	rec := &recording{inner: synthetic.New()}
	h := start(t, harnessOptions{provider: rec, set: func(o *server.Options) {
		o.Cache = newMemoryCache(nil)
		o.CacheBackend = "memory"
	}})
	req := &guardgenv1.GenerateRequest{Prompt: "I was charged twice for my subscription", TargetType: ticket}

	// One broken field rule is fixed by the re-ask: a real answer, not a
	// degraded one.
	fixed, err := generate(t, h, "schema,ok", &guardgenv1.GenerateRequest{Prompt: "The app logs me out every hour", TargetType: ticket})
	if err != nil || fixed.GetDegraded() || len(fixed.GetReport().GetAttempts()) != 2 {
		t.Fatalf("schema,ok: %v, degraded %v, %d attempts; want OK, not degraded, 2 attempts", err, fixed.GetDegraded(), len(fixed.GetReport().GetAttempts()))
	}

	_, err = generate(t, h, "schema,schema", req)
	if diff := cmp.Diff(outcome{Code: codes.Aborted, Reason: "RULE_VIOLATION", Domain: output, Action: retry, Recoverable: true, Calls: 2,
		Violations: []string{"priority int32.gte_lte"}}, observe(t, nil, err)); diff != "" {
		t.Errorf("before any clean answer (-want +got):\n%s", diff)
	}

	clean, err := generate(t, h, "", req)
	if err != nil || clean.GetDegraded() {
		t.Fatalf("clean request: %v, degraded %v", err, clean.GetDegraded())
	}
	resp, err := generate(t, h, "schema,schema", req)
	d := wantDegraded(t, resp, err, "RULE_VIOLATION", "cache")
	if resp.GetJson() != clean.GetJson() || !strings.Contains(d.GetMetadata()["cache_age_seconds"], ".") {
		t.Errorf("json = %s (want the cached %s), metadata = %v", resp.GetJson(), clean.GetJson(), d.GetMetadata())
	}
	if len(d.GetViolations()) == 0 || len(resp.GetReport().GetAttempts()) != 2 {
		t.Errorf("degradation lost the violations or the attempts: %v, %d attempts", d, len(resp.GetReport().GetAttempts()))
	}
	tc := &examplesv1.TicketClassification{}
	if err := resp.GetMessage().UnmarshalTo(tc); err != nil || tc.GetPriority() < 1 || tc.GetPriority() > 5 {
		t.Errorf("cached message = %v, %v", tc, err)
	}

	// Another prompt has no cached answer: the failure stands.
	_, err = generate(t, h, "schema,schema", &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: ticket})
	if status.Code(err) != codes.Aborted {
		t.Errorf("uncached prompt: %v, want Aborted", err)
	}
}

// TestTruncationDegradationChain walks the chain for finish_reason =
// length: the cache first (with the entry's age), then the route's
// fallback entry, then the type's template; with none of them, ABORTED.
func TestTruncationDegradationChain(t *testing.T) {
	t.Parallel()
	req := &guardgenv1.GenerateRequest{Prompt: "The export button crashes the app", TargetType: ticket}
	templates, err := fb.NewTemplates(map[string]string{
		ticket: `{"category": "other", "priority": 3, "summary": "Fallback: could not classify the ticket"}`,
	})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("cache", func(t *testing.T) {
		t.Parallel()
		const age = 90 * time.Second
		h := start(t, harnessOptions{set: func(o *server.Options) {
			o.Cache = agedCache(age)
			o.CacheBackend = "memory"
			o.Templates = templates
		}})
		clean, err := generate(t, h, "", req)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := generate(t, h, "length", req)
		d := wantDegraded(t, resp, err, "TRUNCATED", "cache")
		seconds, perr := strconv.ParseFloat(d.GetMetadata()["cache_age_seconds"], 64)
		if perr != nil || seconds < age.Seconds() || seconds > age.Seconds()+30 {
			t.Errorf("cache_age_seconds = %q, want about %v", d.GetMetadata()["cache_age_seconds"], age.Seconds())
		}
		if resp.GetJson() != clean.GetJson() || d.GetAction() != fallback || d.GetDomain() != output {
			t.Errorf("json %s, degradation %v; want the cached answer, OUTPUT_SEMANTIC / FALLBACK_TO_CACHE", resp.GetJson(), d)
		}
		if n := len(resp.GetReport().GetAttempts()); n != 1 {
			t.Errorf("attempts = %d, want 1: a cached answer costs no provider call", n)
		}
	})

	t.Run("route fallback entry", func(t *testing.T) {
		t.Parallel()
		small, large := &recording{inner: synthetic.New()}, &recording{inner: synthetic.New()}
		h := start(t, harnessOptions{routes: []server.Route{{Name: "default", Entries: []server.RouteEntry{
			routeEntry("synthetic-small", "synthetic-1", 1024, small),
			routeEntry("synthetic-large", "synthetic-large", 4096, large),
		}}}, set: func(o *server.Options) {
			// No cache entry for this request, and a template the chain must
			// not reach: the route's entry comes first.
			o.Cache = newMemoryCache(nil)
			o.Templates = templates
		}})
		resp, err := generate(t, h, "length", req)
		wantDegraded(t, resp, err, "TRUNCATED", "route")
		if len(small.requests) != 1 || len(large.requests) != 1 {
			t.Fatalf("calls: first entry %d, fallback entry %d; want 1 and 1", len(small.requests), len(large.requests))
		}
		if got := large.requests[0].GetSampling().GetMaxOutputTokens(); got != 4096 || large.requests[0].GetModel() != "synthetic-large" {
			t.Errorf("fallback request: model %q, max tokens %d; want the entry's synthetic-large, 4096", large.requests[0].GetModel(), got)
		}
		attempts := resp.GetReport().GetAttempts()
		if len(attempts) != 2 || attempts[0].GetFailure().GetReason() != guardgenv1.FailureReason_FAILURE_REASON_TRUNCATED ||
			attempts[1].GetProvider() != "synthetic-large" || attempts[1].GetFailure() != nil {
			t.Errorf("report = %v; want a truncated call, then the fallback entry's answer", attempts)
		}
		tc := &examplesv1.TicketClassification{}
		if err := protojson.Unmarshal([]byte(resp.GetJson()), tc); err != nil || strings.HasPrefix(tc.GetSummary(), "Fallback:") {
			t.Errorf("answer %s is not the fallback entry's: %v", resp.GetJson(), err)
		}
	})

	t.Run("route fallback entry past a down one", func(t *testing.T) {
		t.Parallel()
		metrics, err := telemetry.NewMetrics(telemetry.Options{Prefix: "llm.pipeline", NoRuntimeMetrics: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { metrics.Shutdown(context.Background()) })
		h := start(t, harnessOptions{routes: []server.Route{{Name: "default", Entries: []server.RouteEntry{
			routeEntry("synthetic-small", "synthetic-1", 1024, synthetic.New()),
			routeEntry("down", "down-1", 4096, unavailable{}),
			routeEntry("synthetic-large", "synthetic-large", 4096, synthetic.New()),
		}}}, set: func(o *server.Options) {
			o.Cache = newMemoryCache(nil)
			o.Metrics = metrics
		}})
		resp, err := generate(t, h, "length", req)
		wantDegraded(t, resp, err, "TRUNCATED", "route")
		// One degraded answer from a route entry is one route fallback,
		// though it took the entry after the next.
		families := parseMetrics(t, scrapeMetrics(t, metrics))
		if got, _ := metricValue(families["llm_pipeline_fallbacks_total"], map[string]string{"kind": "route"}); got != 1 {
			t.Errorf(`llm_pipeline_fallbacks_total{kind="route"} = %v, want 1`, got)
		}
	})

	t.Run("template", func(t *testing.T) {
		t.Parallel()
		h := start(t, harnessOptions{set: func(o *server.Options) {
			o.Cache = newMemoryCache(nil)
			o.Templates = templates
		}})
		resp, err := generate(t, h, "length", req)
		wantDegraded(t, resp, err, "TRUNCATED", "template")
		tc := &examplesv1.TicketClassification{}
		if err := resp.GetMessage().UnmarshalTo(tc); err != nil || tc.GetSummary() != "Fallback: could not classify the ticket" {
			t.Errorf("message = %v, %v; want the template", tc, err)
		}
	})

	t.Run("nothing", func(t *testing.T) {
		t.Parallel()
		h := start(t, harnessOptions{set: func(o *server.Options) {
			o.Cache = newMemoryCache(nil)
		}})
		_, err := generate(t, h, "length", req)
		if diff := cmp.Diff(outcome{Code: codes.Aborted, Reason: "TRUNCATED", Domain: output, Action: fallback, Recoverable: true, Calls: 1}, observe(t, nil, err)); diff != "" {
			t.Errorf("outcome (-want +got):\n%s", diff)
		}
	})
}

// TestBusinessRuleHaltsAndAlerts: an IncidentReport resolved before it was
// detected breaks a message-level CEL rule. guardgen makes one provider
// call, does not re-ask, serves nothing from the cache (though a clean
// answer to the same request is there), answers ABORTED with the
// violation, and counts an OUTPUT_SEMANTIC alert.
func TestBusinessRuleHaltsAndAlerts(t *testing.T) {
	t.Parallel()
	metrics, err := telemetry.NewMetrics(telemetry.Options{Prefix: "llm.pipeline", NoRuntimeMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { metrics.Shutdown(context.Background()) })
	rec := &recording{inner: synthetic.New()}
	templates, err := fb.NewTemplates(map[string]string{incident: `{"title": "fallback"}`})
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, harnessOptions{provider: rec, set: func(o *server.Options) {
		o.Cache = newMemoryCache(nil)
		o.CacheBackend = "memory"
		o.Templates = templates
		o.Metrics = metrics
	}})
	req := &guardgenv1.GenerateRequest{Prompt: "Payments API returned 503s in eu-west-1 from 09:12 to 09:40", TargetType: incident}
	if _, err := generate(t, h, "", req); err != nil {
		t.Fatalf("clean request: %v", err)
	}
	before := len(rec.requests)

	_, err = generate(t, h, "business_rule", req)
	if diff := cmp.Diff(outcome{Code: codes.Aborted, Reason: "BUSINESS_RULE", Domain: output, Action: degrade, Recoverable: true, Calls: 1,
		Violations: []string{" incident.resolved_after_detected"}}, observe(t, nil, err)); diff != "" {
		t.Errorf("outcome (-want +got):\n%s", diff)
	}
	if n := len(rec.requests) - before; n != 1 {
		t.Errorf("provider calls = %d, want exactly 1", n)
	}

	families := parseMetrics(t, scrapeMetrics(t, metrics))
	if got, ok := metricValue(families["llm_pipeline_alerts_total"], map[string]string{"domain": "OUTPUT_SEMANTIC"}); !ok || got < 1 {
		t.Errorf(`llm_pipeline_alerts_total{domain="OUTPUT_SEMANTIC"} = %v (present %v), want >= 1`, got, ok)
	}
	if got, _ := metricValue(families["llm_pipeline_fallbacks_total"], map[string]string{"kind": "cache"}); got != 0 {
		t.Errorf("a cache fallback was recorded for a business rule: %v", got)
	}
}

// TestProviderCallCap: total provider calls per request, transport retries
// and re-asks together, never pass the cap, and the failure says so.
func TestProviderCallCap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cap  int
		plan string
		want int
	}{
		{"re-asks past a cap of 2", 2, "malformed,malformed,ok", 2},
		{"retries past a cap of 2", 2, "rate_limit,rate_limit,ok", 2},
		// Three generations of three transport attempts would be 9 calls.
		{"default cap of 6", int(config.Default().GetServer().GetMaxProviderCalls()), "rate_limit,rate_limit,malformed,rate_limit,rate_limit,malformed,rate_limit,rate_limit,ok", 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recording{inner: synthetic.New(synthetic.WithRetryDelay(time.Millisecond))}
			h := start(t, harnessOptions{provider: rec, set: func(o *server.Options) {
				o.MaxProviderCalls = tt.cap
			}})
			_, err := generate(t, h, tt.plan, &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: ticket})
			if len(rec.requests) != tt.want {
				t.Errorf("provider saw %d calls, want %d", len(rec.requests), tt.want)
			}
			if err == nil {
				t.Fatal("Generate succeeded past the cap")
			}
			fd, _ := failureOf(t, err)
			if !strings.Contains(fd.GetMessage(), "cap of "+strconv.Itoa(tt.want)+" provider calls") || int(fd.GetAttempts()) != tt.want {
				t.Errorf("failure = %v (%v); want it to name the cap of %d and count %d attempts", fd, status.Code(err), tt.want, tt.want)
			}
		})
	}
}

// scrapeMetrics serves one GET /metrics from m's handler.
func scrapeMetrics(t *testing.T, m *telemetry.Metrics) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}

func parseMetrics(t *testing.T, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse exposition: %v\n%s", err, body)
	}
	return families
}

// metricValue returns the counter value of f's series whose labels include
// labels, and whether there is one.
func metricValue(f *dto.MetricFamily, labels map[string]string) (float64, bool) {
	for _, m := range f.GetMetric() {
		matched := 0
		for _, lp := range m.GetLabel() {
			if v, ok := labels[lp.GetName()]; ok && v == lp.GetValue() {
				matched++
			}
		}
		if matched == len(labels) {
			return m.GetCounter().GetValue(), true
		}
	}
	return 0, false
}

// TestRouteFallbackAfterExhaustedRetriesAlerts: when the first entry's
// retries are exhausted and the route's next entry answers, the answer is
// degraded, and the exhausted retries (INFRASTRUCTURE / ALERT_AND_DEGRADE)
// still reach an operator as an alert.
func TestRouteFallbackAfterExhaustedRetriesAlerts(t *testing.T) {
	t.Parallel()
	metrics, err := telemetry.NewMetrics(telemetry.Options{Prefix: "llm.pipeline", NoRuntimeMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { metrics.Shutdown(context.Background()) })
	primary, backup := &recording{inner: synthetic.New()}, &recording{inner: synthetic.New()}
	h := start(t, harnessOptions{routes: []server.Route{{Name: "default", Entries: []server.RouteEntry{
		routeEntry("primary", "synthetic-1", 0, primary),
		routeEntry("backup", "synthetic-backup", 0, backup),
	}}}, set: func(o *server.Options) {
		o.Metrics = metrics
	}})
	resp, err := generate(t, h, "unavailable,unavailable,unavailable", &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: ticket})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if d := resp.GetDegradation(); !resp.GetDegraded() || d.GetReason() != guardgenv1.FailureReason_FAILURE_REASON_RETRIES_EXHAUSTED || d.GetAction() != degrade {
		t.Errorf("degraded %v by %v; want RETRIES_EXHAUSTED / ALERT_AND_DEGRADE", resp.GetDegraded(), d)
	}
	if len(primary.requests) != 3 || len(backup.requests) != 1 {
		t.Errorf("calls: primary %d, backup %d; want 3 and 1", len(primary.requests), len(backup.requests))
	}
	families := parseMetrics(t, scrapeMetrics(t, metrics))
	if got, ok := metricValue(families["llm_pipeline_alerts_total"], map[string]string{"domain": "INFRASTRUCTURE"}); !ok || got != 1 {
		t.Errorf(`llm_pipeline_alerts_total{domain="INFRASTRUCTURE"} = %v (present %v), want 1`, got, ok)
	}
}

// unavailable is a provider that is down.
type unavailable struct {
	providerv1.UnimplementedProviderServiceServer
}

func (unavailable) Complete(context.Context, *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
	return nil, status.Error(codes.Unavailable, "down")
}
