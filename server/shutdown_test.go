package server_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/server"
)

// blockingProvider holds every call: those whose prompt is "stuck" ignore
// their context until release closes (a handler computing without
// checking for cancellation), the others wait for their context. entered
// receives one value per call that reached it.
type blockingProvider struct {
	providerv1.UnimplementedProviderServiceServer
	entered chan string
	release chan struct{}
}

func (p *blockingProvider) Complete(ctx context.Context, req *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
	prompt := req.GetMessages()[len(req.GetMessages())-1].GetContent()
	p.entered <- prompt
	if prompt == "stuck" {
		<-p.release
		return nil, status.Error(codes.Unavailable, "released")
	}
	<-ctx.Done()
	return nil, status.FromContextError(ctx.Err()).Err()
}

// TestShutdownEndsStuckHandlers: SIGTERM (the Serve context) while one
// handler waits on its provider and another computes without looking at
// its context. When the shutdown timeout runs out, the first answers
// UNAVAILABLE with a SHUTTING_DOWN FailureDetail, the second is cut off
// with its connection, and Serve returns within the timeout plus 1 s
// rather than waiting for it for ever.
func TestShutdownEndsStuckHandlers(t *testing.T) {
	t.Parallel()
	const shutdownTimeout = 500 * time.Millisecond
	p := &blockingProvider{entered: make(chan string, 2), release: make(chan struct{})}
	t.Cleanup(func() { close(p.release) }) // let the stuck goroutine end before goleak looks
	h := start(t, harnessOptions{routes: []server.Route{{Name: "default", Entries: []server.RouteEntry{routeEntry("blocking", "m", 0, p)}}}, set: func(o *server.Options) {
		// The stuck handler ends, and logs its call, only when the cleanup
		// releases it, after the test: not into the test's output.
		o.Logger = slog.New(slog.DiscardHandler)
		o.ShutdownTimeout = shutdownTimeout
	}})

	type result struct {
		prompt string
		err    error
	}
	results := make(chan result, 2)
	for _, prompt := range []string{"stuck", "waits"} {
		go func() {
			// No deadline of the caller's could end these in time.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := h.gen.Generate(ctx, &guardgenv1.GenerateRequest{Prompt: prompt, TargetType: ticket})
			results <- result{prompt, err}
		}()
	}
	<-p.entered
	<-p.entered

	start := time.Now()
	h.stop() // cancels Serve's context and waits for Serve to return
	if d := time.Since(start); d > shutdownTimeout+time.Second {
		t.Errorf("Serve returned %v after shutdown began, want within %v", d, shutdownTimeout+time.Second)
	}
	got := map[string]error{}
	for range 2 {
		r := <-results
		got[r.prompt] = r.err
	}
	if d, _ := failureOf(t, got["waits"]); status.Code(got["waits"]) != codes.Unavailable ||
		d.GetReason() != guardgenv1.FailureReason_FAILURE_REASON_SHUTTING_DOWN {
		t.Errorf("call waiting on its context = %v, want UNAVAILABLE with a SHUTTING_DOWN FailureDetail", got["waits"])
	}
	if status.Code(got["stuck"]) != codes.Unavailable {
		t.Errorf("call ignoring its context = %v, want UNAVAILABLE (its connection closed)", got["stuck"])
	}
}

// TestDrainDelayShowsNotServingFirst: on shutdown, health turns NOT_SERVING
// while the listener still takes new connections and calls; only after the
// drain delay are new calls refused.
func TestDrainDelayShowsNotServingFirst(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{set: func(o *server.Options) {
		o.DrainDelay = 2 * time.Second
		o.ShutdownTimeout = 5 * time.Second
	}})
	watchCtx, stopWatch := context.WithCancel(t.Context())
	defer stopWatch()
	watch, err := h.health.Watch(watchCtx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if first, err := watch.Recv(); err != nil || first.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health before shutdown: %v, %v", first, err)
	}
	stopped := make(chan struct{})
	go func() {
		h.stop()
		close(stopped)
	}()
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health after shutdown began: %v, %v; want NOT_SERVING", resp, err)
	}
	stopWatch() // an open stream would hold the graceful stop

	// NOT_SERVING is visible; the listener must still take a new
	// connection and serve on it.
	call := func() error {
		conn, err := grpc.NewClient(h.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		_, err = guardgenv1.NewGenerationServiceClient(conn).Generate(ctx, &guardgenv1.GenerateRequest{Prompt: "drain", TargetType: ticket})
		return err
	}
	if err := call(); err != nil {
		t.Errorf("a new call after NOT_SERVING, within the drain delay = %v, want OK", err)
	}
	<-stopped
	if err := call(); status.Code(err) != codes.Unavailable {
		t.Errorf("a new call after shutdown = %v, want UNAVAILABLE (listener closed)", err)
	}
}
