// Command guardgen serves guarded structured generation over gRPC: a prompt
// and a protobuf message type in, a message that passed protovalidate (or a
// classified FailureDetail) out.
//
// main is wiring only: flags → provider → server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/providers/openai"
	"github.com/guardgen/guardgen/providers/synthetic"
	"github.com/guardgen/guardgen/schema"
	"github.com/guardgen/guardgen/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "guardgen:", err)
		os.Exit(1)
	}
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("guardgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		listen         = fs.String("listen", ":50051", "gRPC listen address")
		providerName   = fs.String("provider", "synthetic", "provider without a config file: synthetic or openai (OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL)")
		logFormat      = fs.String("log-format", "json", "log format: json or text")
		shutdown       = fs.Duration("shutdown-timeout", 15*time.Second, "how long in-flight calls may drain on SIGTERM")
		descriptorSets listFlag
	)
	fs.Var(&descriptorSets, "descriptor-set", "FileDescriptorSet file whose messages become targets (repeatable; `buf build -o FILE`)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger, err := newLogger(*logFormat, stderr)
	if err != nil {
		return err
	}
	resolver, err := schema.NewResolver(schema.Options{DescriptorFiles: descriptorSets})
	if err != nil {
		return err
	}
	provider, err := newProvider(*providerName, getenv)
	if err != nil {
		return err
	}
	routes := []server.Route{{Name: "default", Entries: []server.RouteEntry{{Provider: *providerName, Client: provider}}}}
	srv, err := server.New(server.Options{
		Resolver:        resolver,
		Routes:          routes,
		Logger:          logger,
		ShutdownTimeout: *shutdown,
	})
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	logger.Info("serving", slog.String("listen", lis.Addr().String()), slog.String("provider", *providerName))
	return srv.Serve(ctx, lis)
}

func newLogger(format string, w io.Writer) (*slog.Logger, error) {
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is not json or text", format)
}

// newProvider builds the named built-in provider behind the providers
// client interceptor chain.
func newProvider(name string, getenv func(string) string) (providerv1.ProviderServiceClient, error) {
	var (
		impl  providerv1.ProviderServiceServer
		model string
	)
	switch name {
	case "synthetic":
		impl, model = synthetic.New(), synthetic.Model
	case "openai":
		opts := openai.OptionsFromEnv(getenv)
		p, err := openai.New(opts)
		if err != nil {
			return nil, err
		}
		impl, model = p, opts.Model
	default:
		return nil, fmt.Errorf("--provider: %q is not one of synthetic, openai", name)
	}
	chain := providers.NewChain(providers.ChainOptions{Provider: name, Model: model})
	var conn grpc.ClientConnInterface = providers.InProcess(impl, chain.Interceptors()...)
	return providerv1.NewProviderServiceClient(conn), nil
}
