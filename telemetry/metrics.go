package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/semconv/v1.41.0/genaiconv"
)

// DefaultMaxLabelValues is the distinct-value bound of each free-form label
// when Options.MaxLabelValues is zero.
const DefaultMaxLabelValues = 64

// DefaultLatencyBuckets are the histogram bounds, in seconds, of the request
// and provider-call latency histograms: 1 ms to 60 s, roughly 1-2.5-5 per
// decade, so both a cache hit and a slow model with retries land in a bucket.
var DefaultLatencyBuckets = []float64{
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10, 20, 30, 60,
}

// ConfidenceBuckets are the bounds of the field confidence histogram: finer
// near 1, where confident models put almost every value, and at the usual
// min_confidence thresholds.
var ConfidenceBuckets = []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999, 1}

// meterName is the instrumentation scope of guardgen's own instruments.
const meterName = "github.com/guardgen/guardgen/telemetry"

// Options configures NewMetrics. Prefix is required; the other zero
// values mean the defaults below.
type Options struct {
	// Prefix starts every instrument name; dots become underscores in
	// Prometheus. Required: config.Default's is "llm.pipeline".
	Prefix string
	// MaxLabelValues bounds the distinct values of each free-form label
	// (target, provider, model, backend); zero means DefaultMaxLabelValues.
	MaxLabelValues int
	// LatencyBuckets overrides DefaultLatencyBuckets.
	LatencyBuckets []float64
	// Registry receives the metrics; nil means a new registry of its own,
	// never prometheus.DefaultRegisterer.
	Registry *prometheus.Registry
	// NoRuntimeMetrics leaves the Go runtime and process collectors out of
	// a registry that NewMetrics creates.
	NoRuntimeMetrics bool
	// Readers receive the metrics besides the Prometheus registry, for
	// example an sdkmetric.ManualReader in tests.
	Readers []sdkmetric.Reader
}

func readers(rs []sdkmetric.Reader) []sdkmetric.Option {
	opts := make([]sdkmetric.Option, 0, len(rs)+2)
	for _, r := range rs {
		opts = append(opts, sdkmetric.WithReader(r))
	}
	return opts
}

// Metrics records guardgen's metrics. Its methods are safe for concurrent
// use and do nothing on a nil *Metrics.
type Metrics struct {
	provider *sdkmetric.MeterProvider
	registry *prometheus.Registry

	targets, providers, models, backends, servers *boundedLabel
	sets                                          attrSets

	// requests, providerCalls and tokens report the totals kept in sets
	// (see counted), inFlight the value of inFlightNow.
	requests         metric.Int64ObservableCounter
	requestDuration  metric.Float64Histogram
	inFlight         metric.Int64ObservableUpDownCounter
	inFlightNow      atomic.Int64
	shed             metric.Int64Counter
	providerCalls    metric.Int64ObservableCounter
	providerDuration metric.Float64Histogram
	retries          metric.Int64Counter
	tokens           metric.Int64ObservableCounter
	reasks           metric.Int64Counter
	fallbacks        metric.Int64Counter
	cacheLookups     metric.Int64Counter
	cacheRejected    metric.Int64Counter
	cacheWrites      metric.Int64Counter
	cacheBreaker     metric.Int64Gauge
	breakerState     metric.Int64Gauge
	alerts           metric.Int64Counter
	confidence       metric.Float64Histogram
	verifications    metric.Int64Counter
	cost             metric.Float64Counter
	rejected         metric.Int64Counter
	streams          streamInstruments
	genaiDuration    genaiconv.ClientOperationDuration
	genaiTokens      genaiconv.ClientTokenUsage
}

// GenAIDurationBuckets and GenAITokenBuckets are the bucket boundaries the
// GenAI semantic conventions give gen_ai.client.operation.duration
// (seconds) and gen_ai.client.token.usage (tokens).
var (
	GenAIDurationBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}
	GenAITokenBuckets    = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}
)

// NewMetrics creates the instruments and a Prometheus exporter that feeds
// them into a dedicated registry, served by Handler.
func NewMetrics(opts Options) (*Metrics, error) {
	prefix, err := metricPrefix(opts.Prefix)
	if err != nil {
		return nil, err
	}
	maxValues := opts.MaxLabelValues
	if maxValues <= 0 {
		maxValues = DefaultMaxLabelValues
	}
	buckets := opts.LatencyBuckets
	if len(buckets) == 0 {
		buckets = DefaultLatencyBuckets
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		if !opts.NoRuntimeMetrics {
			if err := reg.Register(collectors.NewGoCollector()); err != nil {
				return nil, fmt.Errorf("telemetry: register go collector: %w", err)
			}
			if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
				return nil, fmt.Errorf("telemetry: register process collector: %w", err)
			}
		}
	}
	// Scope labels and target_info would add series that say nothing a
	// scrape job's own labels do not.
	exporter, err := otelprom.New(
		otelprom.WithRegisterer(reg),
		otelprom.WithoutScopeInfo(),
		otelprom.WithoutTargetInfo(),
	)
	if err != nil {
		return nil, fmt.Errorf("telemetry: prometheus exporter: %w", err)
	}
	m := &Metrics{
		provider: sdkmetric.NewMeterProvider(append(readers(opts.Readers),
			sdkmetric.WithReader(exporter),
			sdkmetric.WithResource(resource.Empty()),
		)...),
		registry:  reg,
		targets:   newBoundedLabel(maxValues),
		providers: newBoundedLabel(maxValues),
		models:    newBoundedLabel(maxValues),
		backends:  newBoundedLabel(maxValues),
		servers:   newBoundedLabel(maxValues),
	}
	if err := m.instruments(m.provider.Meter(meterName), prefix, buckets); err != nil {
		return nil, errors.Join(err, m.provider.Shutdown(context.Background()))
	}
	return m, nil
}

// instruments creates every instrument; names are prefix + "." + name.
func (m *Metrics) instruments(meter metric.Meter, prefix string, buckets []float64) error {
	name := func(s string) string { return prefix + "." + s }
	var errs []error
	counter := func(n, unit, desc string) metric.Int64Counter {
		c, err := meter.Int64Counter(name(n), metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	counted := func(n, unit, desc string) metric.Int64ObservableCounter {
		c, err := meter.Int64ObservableCounter(name(n), metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	seconds := func(n, desc string) metric.Float64Histogram {
		h, err := meter.Float64Histogram(name(n), metric.WithUnit("s"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(buckets...))
		errs = append(errs, err)
		return h
	}

	m.requests = counted("requests", "{request}",
		"Generate requests by outcome (ok, degraded, failed) and the failure domain, recovery action and reason that decided it.")
	m.requestDuration = seconds("request.duration", "Generate latency, from the first byte in to the answer out.")
	var err error
	m.inFlight, err = meter.Int64ObservableUpDownCounter(name("requests.in_flight"), metric.WithUnit("{request}"),
		metric.WithDescription("Generate requests being served now."))
	errs = append(errs, err)
	m.shed = counter("requests.shed", "{request}",
		"Requests refused at once with RESOURCE_EXHAUSTED, by reason (overload, rate_limit).")
	m.providerCalls = counted("provider.calls", "{call}",
		"Provider calls (each transport attempt) by provider, model and outcome (ok or the gRPC code).")
	m.providerDuration = seconds("provider.call.duration", "Latency of one provider call, by outcome (ok or error).")
	m.retries = counter("provider.retries", "{retry}",
		"Transport retries of provider calls by the retry interceptor, by the reason of the failed attempt.")
	m.tokens = counted("tokens", "{token}", "Tokens reported by providers, by model and direction (input, output).")
	m.reasks = counter("reasks", "{reask}",
		"Re-asks: further provider calls that carry the previous output's parse error or violations.")
	m.fallbacks = counter("fallbacks", "{fallback}", "Degraded answers served, by fallback kind (cache, route, template, partial).")
	m.cacheLookups = counter("cache.lookups", "{lookup}",
		"Fallback cache lookups by backend and result (hit, miss, error, off: breaker open, rejected: entry refused).")
	m.cacheRejected = counter("cache.rejected", "{entry}",
		"Cache entries refused instead of served, by backend and reason (corrupt, unauthenticated, too_large, type, undecodable, invalid, expired, future).")
	m.cacheWrites = counter("cache.writes", "{write}",
		"Fallback cache writes by backend and result (stored, failed, dropped: queue full, skipped: breaker open).")
	// No unit: "1" would make the exporter append "_ratio".
	m.breakerState, err = meter.Int64Gauge(name("breaker.state"),
		metric.WithDescription("Circuit breaker state per provider: 0 closed, 1 half-open, 2 open."))
	errs = append(errs, err)
	m.cacheBreaker, err = meter.Int64Gauge(name("cache.breaker.state"),
		metric.WithDescription("Circuit breaker state per cache backend: 0 closed, 1 half-open, 2 open."))
	errs = append(errs, err)
	m.alerts = counter("alerts", "{alert}", "Alert events fired, by failure domain.")
	// No unit, as for the breaker gauge: confidence is a probability.
	m.confidence, err = meter.Float64Histogram(name("field.confidence"),
		metric.WithDescription("Confidence of each measured output value (the product of its tokens' probabilities), by target."),
		metric.WithExplicitBucketBoundaries(ConfidenceBuckets...))
	errs = append(errs, err)
	m.verifications = counter("verifications", "{verification}",
		"Verifier checks of candidate answers, by target and outcome (supported, not_supported, rejected, skipped).")
	m.cost, err = meter.Float64Counter(name("cost"), metric.WithUnit("{currency}"),
		metric.WithDescription("Cost of provider calls by the configured price tables, by provider and model."))
	errs = append(errs, err)
	m.rejected = counter("requests.rejected", "{request}",
		"Requests refused before any generation, by reason (invalid_argument, unknown_target, unauthenticated, rate_limit, overload).")
	m.streams, err = newStreamInstruments(meter, name, buckets)
	errs = append(errs, err)
	// The GenAI semantic conventions' client metrics, under their own
	// names (no prefix) and with the specification's buckets.
	m.genaiDuration, err = genaiconv.NewClientOperationDuration(meter, metric.WithExplicitBucketBoundaries(GenAIDurationBuckets...))
	errs = append(errs, err)
	m.genaiTokens, err = genaiconv.NewClientTokenUsage(meter, metric.WithExplicitBucketBoundaries(GenAITokenBuckets...))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	_, err = meter.RegisterCallback(m.observe, m.requests, m.providerCalls, m.tokens, m.inFlight)
	return err
}

// observe reports the counters guardgen keeps itself (see counted) and
// the requests in flight; the SDK calls it at every collection.
func (m *Metrics) observe(_ context.Context, o metric.Observer) error {
	m.sets.observe(o, m.countedInstrument)
	o.ObserveInt64(m.inFlight, m.inFlightNow.Load())
	return nil
}

// countedInstrument is the instrument of a counted use.
func (m *Metrics) countedInstrument(use uint8) metric.Int64Observable {
	switch use {
	case useRequest:
		return m.requests
	case useProviderCall:
		return m.providerCalls
	case useTokens:
		return m.tokens
	}
	panic("telemetry: no counted instrument for this use")
}

// Handler serves the Prometheus exposition of the registry at any path;
// mount it at /metrics. A nil *Metrics serves 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// MeterProvider is the provider behind the metrics, for other
// instrumentation that should land in the same registry (for example
// otelgrpc.WithMeterProvider). A nil *Metrics returns a no-op provider.
func (m *Metrics) MeterProvider() metric.MeterProvider {
	if m == nil {
		return noop.NewMeterProvider()
	}
	return m.provider
}

// Shutdown stops the meter provider; later records are dropped.
func (m *Metrics) Shutdown(ctx context.Context) error {
	if m == nil {
		return nil
	}
	return m.provider.Shutdown(ctx)
}
