package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/guardgen/guardgen/config"
	configv1 "github.com/guardgen/guardgen/gen/guardgen/config/v1"
	"github.com/guardgen/guardgen/internal/linebatch"
	"github.com/guardgen/guardgen/providers/openai"
	"github.com/guardgen/guardgen/server"
	"github.com/guardgen/guardgen/telemetry"
)

// Options are what a running guardgen needs besides its Config. The zero
// value means the process environment and a logger built from the
// configuration's telemetry section writing to standard error.
type Options struct {
	// Getenv reads the environment variables the configuration names for
	// secrets (API keys, tokens, passwords); nil means os.Getenv.
	Getenv func(string) string
	// LogOutput receives the log lines, from a goroutine of the App's own
	// (see SyncLogs); nil means os.Stderr.
	LogOutput io.Writer
	// Pprof serves net/http/pprof under /debug/pprof/ on the metrics
	// listener. Keep it off the public network.
	Pprof bool
	// SpanProcessors receive every span guardgen makes, for example a
	// tracetest.SpanRecorder in tests.
	SpanProcessors []sdktrace.SpanProcessor
}

// App is guardgen assembled from a Config: the gRPC server, its provider
// chains and routes, the cache, telemetry and the metrics endpoint.
type App struct {
	cfg     *configv1.Config
	opts    Options
	logger  *slog.Logger
	server  *server.Server
	metrics *telemetry.Metrics
	tracer  *sdktrace.TracerProvider
	// propagator carries trace context in and out: W3C traceparent,
	// tracestate and baggage.
	propagator propagation.TextMapPropagator
	// lines writes the log lines to Options.LogOutput.
	lines *linebatch.Writer
	// closers release what New opened, last first (see close).
	closeMu sync.Mutex
	closers []func(context.Context) error
	// idle close the providers' idle upstream connections.
	idle []func() error
}

// New assembles guardgen from a validated configuration. Secrets are read
// through opts.Getenv from the variables the configuration names, never from
// the file. Call Serve to run it, or Close to release what New opened.
func New(ctx context.Context, cfg *configv1.Config, opts Options) (*App, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.LogOutput == nil {
		opts.LogOutput = os.Stderr
	}
	tel := cfg.GetTelemetry()
	// Log lines are written by a goroutine of their own, many to a write
	// under load, instead of one system call per line inside slog's lock on
	// every call's path. Closed last, after everything else has logged.
	lines := linebatch.New(opts.LogOutput)
	logger, err := newLogger(tel.GetLogFormat(), tel.GetLogLevel(), lines)
	if err != nil {
		_ = lines.Close()
		return nil, err
	}
	a := &App{cfg: cfg, opts: opts, logger: logger, lines: lines, propagator: telemetry.Propagator()}
	a.closers = append(a.closers, func(context.Context) error { return lines.Close() })
	release := tuneGC(cfg.GetServer().GetGcHeapThresholdBytes())
	a.closers = append(a.closers, func(context.Context) error { release(); return nil })
	tp, err := telemetry.NewTracerProvider(ctx, telemetry.TraceOptions{
		OTLPEndpoint:   tel.GetOtlpEndpoint(),
		Insecure:       tel.GetOtlpInsecure(),
		ServiceName:    tel.GetServiceName(),
		SampleRatio:    tel.GetTraceSampleRatio(),
		SpanProcessors: opts.SpanProcessors,
	})
	if err != nil {
		return nil, err
	}
	a.tracer = tp
	a.closers = append(a.closers, tp.Shutdown)
	if tel.GetOtlpEndpoint() != "" {
		// Without an exporter spans would be built for nobody: the global
		// no-op provider stays, and tracing costs nothing.
		otel.SetTracerProvider(tp)
	}
	sopts, err := a.build()
	if err != nil {
		_ = a.Close()
		return nil, err
	}
	a.server, err = server.New(sopts)
	if err != nil {
		_ = a.Close()
		return nil, err
	}
	// An App closed without being served still ends the server's
	// goroutines; closers run last first, so this runs before the
	// providers close.
	a.closers = append(a.closers, func(context.Context) error {
		a.server.Close()
		return nil
	})
	return a, nil
}

// Metrics returns the metrics guardgen records, for the /metrics handler.
func (a *App) Metrics() *telemetry.Metrics { return a.metrics }

// closeBudget bounds what Serve does after the server has stopped: the
// metrics listener, the cache's pending writes, the tracer's last spans.
// With the server's own bound it keeps shutdown within
// server.shutdown_timeout_seconds + 1 s.
const closeBudget = 400 * time.Millisecond

// Serve serves gRPC on lis, and /metrics on the configuration's
// metrics_listen when it is set, until ctx is done; then it drains
// gracefully (see server.Server.Serve) and closes everything New opened,
// within server.shutdown_timeout_seconds + 1 s of ctx being done.
func (a *App) Serve(ctx context.Context, lis net.Listener) error {
	stopMetrics := func(context.Context) {}
	if addr := a.cfg.GetServer().GetMetricsListen(); addr != "" {
		stop, err := serveMetrics(addr, a.metrics.Handler(), a.opts.Pprof, a.logger)
		if err != nil {
			lis.Close()
			_ = a.Close()
			return err
		}
		stopMetrics = stop
	}
	a.logger.Info("serving", slog.String("listen", lis.Addr().String()), slog.String("metrics", a.cfg.GetServer().GetMetricsListen()),
		slog.String("default_route", a.cfg.GetDefaultRoute()))
	err := a.server.Serve(ctx, lis)
	closeCtx, cancel := context.WithTimeout(context.Background(), closeBudget)
	defer cancel()
	stopMetrics(closeCtx)
	if cerr := a.close(closeCtx); cerr != nil {
		a.logger.Warn("closing", slog.Any("error", cerr))
	}
	return err
}

// Close releases what New opened (the server, provider connections, the
// cache, the metrics and tracer providers), last opened first, within a
// short bound. Serve calls it when it ends; it is safe to call again, and
// while Serve runs, which it then stops at once (Serve may report the server
// closed). To stop serving gracefully, cancel Serve's context instead.
func (a *App) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeBudget)
	defer cancel()
	return a.close(ctx)
}

func (a *App) close(ctx context.Context) error {
	// Serve's close and a caller's Close may run at once: each closer runs
	// once, in whichever call takes the list.
	a.closeMu.Lock()
	closers := a.closers
	a.closers = nil
	a.closeMu.Unlock()
	var errs []error
	for i := len(closers) - 1; i >= 0; i-- {
		errs = append(errs, closers[i](ctx))
	}
	return errors.Join(errs...)
}

// SyncLogs returns once every log line logged before it was called has
// reached Options.LogOutput (they are written by a goroutine of their own).
func (a *App) SyncLogs() { a.lines.Sync() }

// CloseIdleConnections closes the providers' idle upstream connections
// (kept for reuse after a burst of calls); calls in flight are not touched.
func (a *App) CloseIdleConnections() {
	for _, f := range a.idle {
		_ = f()
	}
}

// LoadConfig returns the configuration in file, or without a file the
// built-in defaults with the provider named: "synthetic", or "openai"
// configured by OPENAI_API_KEY, OPENAI_BASE_URL and OPENAI_MODEL.
func LoadConfig(file, provider string, getenv func(string) string) (*configv1.Config, error) {
	if file != "" {
		return config.Load(file)
	}
	cfg := config.Default()
	switch provider {
	case "synthetic":
	case "openai":
		env := openai.OptionsFromEnv(getenv)
		cfg.Providers = []*configv1.Provider{{
			Name: "openai", Type: "openai", Model: env.Model, BaseUrl: env.BaseURL, ApiKeyEnv: "OPENAI_API_KEY",
		}}
		cfg.Routes = []*configv1.Route{{Name: "default", Entries: []*configv1.RouteEntry{{Provider: "openai"}}}}
	default:
		return nil, fmt.Errorf("--provider: %q is not one of synthetic, openai", provider)
	}
	return cfg, config.Validate(cfg)
}

// serveMetrics serves /metrics on addr until the returned stop is called;
// stop waits for scrapes in progress until its context ends.
func serveMetrics(addr string, h http.Handler, pprofOn bool, logger *slog.Logger) (stop func(context.Context), err error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", h)
	if pprofOn {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := hs.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server", slog.Any("error", err))
		}
	}()
	return func(ctx context.Context) {
		if hs.Shutdown(ctx) != nil {
			hs.Close()
		}
	}, nil
}

// newLogger builds the process logger.
func newLogger(format, level string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("telemetry.log_level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json", "":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("telemetry.log_format: %q is not json or text", format)
}

// tracerProvider is the provider guardgen's spans come from: its own SDK
// provider when spans go somewhere (an OTLP exporter or span processors),
// else a no-op, so that spans are not built for nobody; the server then
// reads a caller's trace context without otelgrpc's stats handler
// (server.Options.TracerProvider), and the call still joins it.
func (a *App) tracerProvider() trace.TracerProvider {
	if a.cfg.GetTelemetry().GetOtlpEndpoint() != "" || len(a.opts.SpanProcessors) > 0 {
		return a.tracer
	}
	return noop.NewTracerProvider()
}
