// Command plugin is a small external guardgen provider: a process of its
// own that serves guardgen.provider.v1.ProviderService over gRPC. Copy it
// and replace [provider.generate] with a call to your model.
//
// Run it, then point guardgen at it with a provider of type grpc:
//
//	go run ./examples/plugin --listen 127.0.0.1:50052
//
//	# guardgen.yaml
//	providers:
//	  - name: example-plugin
//	    type: grpc
//	    address: 127.0.0.1:50052
//	routes:
//	  - name: default
//	    entries:
//	      - provider: example-plugin
//
//	go run . --config guardgen.yaml
//
// guardgen does the rest: its client interceptor chain retries, backs off,
// breaks the circuit and enforces deadlines for a plug-in exactly as for a
// built-in provider, so a plug-in only answers one call at a time. The
// contract it must keep (proto/guardgen/provider/v1/provider.proto):
//
//   - answer with the model's text in content and a finish reason (LENGTH
//     when the output was cut off: guardgen never parses truncated text);
//   - report faults as gRPC statuses: UNAVAILABLE for a transient upstream
//     failure, RESOURCE_EXHAUSTED (with google.rpc.RetryInfo when the
//     upstream says how long to wait) for rate limits, DEADLINE_EXCEEDED for
//     upstream timeouts, FAILED_PRECONDITION for content filters and
//     INVALID_ARGUMENT for requests the model cannot take. guardgen
//     classifies them; a plug-in never retries on its own;
//   - honour the call's context: guardgen's caller has a deadline.
//
// This plug-in does not implement CompleteStream: guardgen's
// GenerateStream then asks it with Complete and streams the answer as one
// chunk. A plug-in that streams implements CompleteStream too, sending
// the model's text as it comes and the finish reason and usage last, and
// stops when the call's context is cancelled: guardgen cancels it when a
// complete field breaks its rule.
//
// This example's model is guardgen's built-in synthetic provider, which
// answers with a valid instance of the requested JSON Schema and follows
// the fault plan in the x-guardgen-synthetic-faults request metadata
// (guardgen forwards its callers' x-guardgen-* metadata to providers), so
// `-H 'x-guardgen-synthetic-faults: unavailable,ok'` on a guardgen call
// makes this plug-in fail once with UNAVAILABLE and guardgen retry it.
//
// Every call is logged as one JSON line on stderr with its running number,
// so the number of calls guardgen made is visible from outside.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/providers/synthetic"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "plugin:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("plugin", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:50052", "gRPC listen address (port 0 picks a free one; the address is printed on stdout)")
	model := fs.String("model", "example-plugin-1", "model name reported when a request names none")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))

	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	providerv1.RegisterProviderServiceServer(srv, &provider{model: *model, synthetic: synthetic.New(), logger: logger})
	hs := health.NewServer() // lets guardgen's operators probe the plug-in
	healthpb.RegisterHealthServer(srv, hs)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	// The first line on stdout is the address, for scripts and tests that
	// listen on port 0.
	fmt.Printf("listening on %s\n", lis.Addr())
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	// Drain in-flight calls for a bounded time, as guardgen itself does.
	hs.Shutdown()
	drained := make(chan struct{})
	go func() { srv.GracefulStop(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(10 * time.Second):
		srv.Stop()
		<-drained
	}
	return <-served
}

// provider implements guardgen.provider.v1.ProviderService.
type provider struct {
	providerv1.UnimplementedProviderServiceServer

	model     string
	synthetic *synthetic.Provider
	logger    *slog.Logger
	calls     atomic.Int64
}

// Complete answers one provider call: guardgen's messages and output schema
// in, the model's text and finish reason out, or a fault as a status.
func (p *provider) Complete(ctx context.Context, req *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
	n := p.calls.Add(1)
	start := time.Now()
	resp, err := p.complete(ctx, req)
	p.logger.Info("complete", slog.Int64("call", n), slog.String("code", status.Code(err).String()),
		slog.Duration("latency", time.Since(start)))
	return resp, err
}

func (p *provider) complete(ctx context.Context, req *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
	if req.GetOutputSchema().GetJsonSchema() == "" {
		return nil, status.Error(codes.InvalidArgument, "output_schema.json_schema is required")
	}
	if req.GetModel() == "" {
		req.Model = p.model
	}
	resp, err := p.generate(ctx, req)
	if err != nil {
		if _, ok := status.FromError(err); ok {
			return nil, err // already a status in the contract's terms
		}
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		// An error the model client did not classify: transient unless
		// you know better.
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	return resp, nil
}

// generate is the model call. Replace it with yours: build the prompt from
// req.Messages, ask for JSON that follows req.OutputSchema.JsonSchema, and
// map the model's stop reason to a FinishReason.
func (p *provider) generate(ctx context.Context, req *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
	return p.synthetic.Complete(ctx, req)
}
