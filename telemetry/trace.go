package telemetry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/credentials"
)

// TraceOptions configures NewTracerProvider; the zero value is a provider
// that exports nothing.
type TraceOptions struct {
	// OTLPEndpoint is the OTLP/gRPC collector, as host:port or as a URL
	// (http://host:4317 implies Insecure). Empty means no exporter: the
	// OTEL_EXPORTER_OTLP_* environment does not switch export on by itself.
	OTLPEndpoint string
	// Insecure sends spans without TLS.
	Insecure bool
	// TLS is the client TLS configuration (for example a client
	// certificate for mTLS); nil means the system roots. Ignored when
	// Insecure.
	TLS *tls.Config
	// Headers are sent with every export (for example a collector token).
	Headers map[string]string
	// ServiceName is the service.name resource attribute; required
	// (config.Default's is "guardgen").
	ServiceName string
	// SampleRatio is the share of new traces recorded, 0–1; a trace the
	// caller started keeps the caller's decision (a parent-based sampler).
	SampleRatio float64
	// SpanProcessors receive every span besides the exporter, for example
	// a tracetest.SpanRecorder in tests.
	SpanProcessors []sdktrace.SpanProcessor
}

// NewTracerProvider returns a tracer provider that batches spans to the
// OTLP/gRPC endpoint when one is configured. Without an endpoint it is
// still a real SDK provider, not a no-op: spans are created, sampled and
// handed to opts.SpanProcessors (or to processors registered later), so
// trace ids reach logs and in-process tests see spans. The connection is
// made lazily; an unreachable collector costs dropped spans, never a
// failed start. Call Shutdown to flush and stop it. The provider is not
// installed globally: that, and the propagator, are main's choice.
func NewTracerProvider(ctx context.Context, opts TraceOptions) (*sdktrace.TracerProvider, error) {
	name := opts.ServiceName
	if name == "" {
		return nil, errors.New("telemetry: empty service name")
	}
	res, err := resource.Merge(resource.Default(),
		resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(name)))
	if err != nil {
		return nil, fmt.Errorf("telemetry: trace resource: %w", err)
	}
	sampler := sdktrace.ParentBased(sdktrace.TraceIDRatioBased(opts.SampleRatio))
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSampler(sampler)}
	if opts.OTLPEndpoint != "" {
		exporter, err := otlptracegrpc.New(ctx, otlpOptions(opts)...)
		if err != nil {
			return nil, fmt.Errorf("telemetry: otlp trace exporter: %w", err)
		}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exporter))
	}
	for _, sp := range opts.SpanProcessors {
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(sp))
	}
	return sdktrace.NewTracerProvider(tpOpts...), nil
}

// Propagator returns the propagator guardgen reads from incoming calls and
// writes into outgoing ones: W3C Trace Context (traceparent, tracestate)
// and W3C Baggage.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// otlpOptions are the exporter options for opts.OTLPEndpoint.
func otlpOptions(opts TraceOptions) []otlptracegrpc.Option {
	var o []otlptracegrpc.Option
	if strings.Contains(opts.OTLPEndpoint, "://") {
		o = append(o, otlptracegrpc.WithEndpointURL(opts.OTLPEndpoint))
	} else {
		o = append(o, otlptracegrpc.WithEndpoint(opts.OTLPEndpoint))
	}
	switch {
	case opts.Insecure:
		o = append(o, otlptracegrpc.WithInsecure())
	case opts.TLS != nil:
		o = append(o, otlptracegrpc.WithTLSCredentials(credentials.NewTLS(opts.TLS)))
	}
	if len(opts.Headers) > 0 {
		o = append(o, otlptracegrpc.WithHeaders(opts.Headers))
	}
	return o
}

// NoSpan stands for the span of work that starts none (MakesNoSpans): it
// records nothing, and the work's context keeps the caller's span context,
// which is what a no-op tracer's Start would have left there.
var NoSpan trace.Span = tracenoop.Span{}

// MakesNoSpans reports whether t is a no-op tracer (the app's when
// tracing is off): its spans would only cost their building, so the
// server and the provider chain start none.
func MakesNoSpans(t trace.Tracer) bool {
	_, ok := t.(tracenoop.Tracer)
	return ok
}
