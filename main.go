// Command guardgen serves guarded structured generation over gRPC: a prompt
// and a protobuf message type in, a message that passed protovalidate (or a
// classified FailureDetail) out.
//
// main is flags only: it parses them, loads the configuration and hands it
// to the composition root, package app.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/protobuf/proto"

	"github.com/guardgen/guardgen/app"
	"github.com/guardgen/guardgen/config"
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

	cfg, err := app.LoadConfig(*configFile, *providerName, getenv)
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

	a, err := app.New(ctx, cfg, app.Options{Getenv: getenv, LogOutput: stderr, Pprof: *pprofOn})
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", cfg.GetServer().GetListen())
	if err != nil {
		a.Close()
		return err
	}
	return a.Serve(ctx, lis)
}
