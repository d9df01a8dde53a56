// Command guardgen serves guarded structured generation over gRPC: a prompt
// and a protobuf message type in, a message that passed protovalidate (or a
// classified FailureDetail) out.
//
// main is wiring only: flags and config → providers → server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"
	"google.golang.org/protobuf/proto"

	"github.com/guardgen/guardgen/config"
	configv1 "github.com/guardgen/guardgen/gen/guardgen/config/v1"
	"github.com/guardgen/guardgen/providers/openai"
	"github.com/guardgen/guardgen/server"
	"github.com/guardgen/guardgen/telemetry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "guardgen:", err)
		os.Exit(1)
	}
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return fmt.Sprint(*l) }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("guardgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		configFile     = fs.String("config", "", "YAML configuration file (schema: proto/guardgen/config/v1/config.proto); without it, built-in defaults")
		checkConfig    = fs.String("check-config", "", "validate this configuration file and exit")
		listen         = fs.String("listen", ":50051", "gRPC listen address (overrides server.listen)")
		metricsListen  = fs.String("metrics-listen", ":9464", "HTTP listen address for Prometheus /metrics (overrides server.metrics_listen); empty disables it")
		providerName   = fs.String("provider", "synthetic", "without --config: synthetic, or openai (reads OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL)")
		logFormat      = fs.String("log-format", "", "json or text (overrides telemetry.log_format)")
		pprofOn        = fs.Bool("pprof", false, "serve net/http/pprof under /debug/pprof/ on the metrics listener (for profiling; keep it off the public network)")
		descriptorSets listFlag
	)
	fs.Var(&descriptorSets, "descriptor-set", "FileDescriptorSet file whose messages become targets (repeatable; `buf build -o FILE`)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *checkConfig != "" {
		if _, err := config.Load(*checkConfig); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: ok\n", *checkConfig)
		return nil
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	cfg, err := loadConfig(*configFile, *providerName, getenv)
	if err != nil {
		return err
	}
	// Flags given explicitly win over the file.
	if set["listen"] || cfg.GetServer().Listen == nil {
		cfg.Server.Listen = proto.String(*listen)
	}
	if set["metrics-listen"] || cfg.GetServer().MetricsListen == nil {
		cfg.Server.MetricsListen = proto.String(*metricsListen)
	}
	if set["log-format"] {
		cfg.Telemetry.LogFormat = proto.String(*logFormat)
	}
	cfg.Targets.DescriptorSets = append(cfg.Targets.DescriptorSets, descriptorSets...)

	logger, err := newLogger(cfg.GetTelemetry().GetLogFormat(), cfg.GetTelemetry().GetLogLevel(), stderr)
	if err != nil {
		return err
	}
	tp, err := telemetry.NewTracerProvider(ctx, telemetry.TraceOptions{
		OTLPEndpoint: cfg.GetTelemetry().GetOtlpEndpoint(),
		Insecure:     cfg.GetTelemetry().GetOtlpInsecure(),
		ServiceName:  cfg.GetTelemetry().GetServiceName(),
	})
	if err != nil {
		return err
	}
	defer tp.Shutdown(context.Background())
	if cfg.GetTelemetry().GetOtlpEndpoint() != "" {
		// Without an exporter spans would be built for nobody: the global
		// no-op provider stays, and tracing costs nothing.
		otel.SetTracerProvider(tp)
	}

	c, err := build(cfg, getenv, logger)
	if err != nil {
		return err
	}
	defer c.close()
	srv, err := server.New(c.opts)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", cfg.GetServer().GetListen())
	if err != nil {
		return err
	}
	if addr := cfg.GetServer().GetMetricsListen(); addr != "" {
		stopMetrics, err := serveMetrics(addr, c.metrics.Handler(), *pprofOn, logger)
		if err != nil {
			lis.Close()
			return err
		}
		defer stopMetrics()
	}
	logger.Info("serving", slog.String("listen", lis.Addr().String()), slog.String("metrics", cfg.GetServer().GetMetricsListen()),
		slog.String("default_route", cfg.GetDefaultRoute()))
	return srv.Serve(ctx, lis)
}

// loadConfig returns the file's configuration, or without one the
// defaults with the provider --provider names.
func loadConfig(file, provider string, getenv func(string) string) (*configv1.Config, error) {
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

// serveMetrics serves /metrics on addr until the returned stop is called.
func serveMetrics(addr string, h http.Handler, pprofOn bool, logger *slog.Logger) (stop func(), err error) {
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
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
	}, nil
}
