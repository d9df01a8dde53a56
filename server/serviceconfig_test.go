package server_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers/synthetic"
	"github.com/guardgen/guardgen/server"
)

// TestServiceConfigHonoursPushback: a real grpc-go client using the
// published service config is rate-limited, waits the pushback guardgen
// sends with its RetryInfo, and retries into the next token; without the
// service config the same call fails. A failure guardgen has already
// retried upstream carries pushback -1 and is not retried.
func TestServiceConfigHonoursPushback(t *testing.T) {
	t.Parallel()
	const perSecond = 4 // a token every 250 ms
	h := start(t, harnessOptions{set: func(o *server.Options) {
		o.RateLimit = server.RateLimit{PerSecond: perSecond, Burst: 1}
	}})
	plain, retrying := dialBoth(t, h.addr)

	var md metadata.MD
	if err := callGenerate(t, plain, "", &md); err != nil {
		t.Fatalf("first call: %v", err)
	}
	err := callGenerate(t, plain, "", &md)
	if status.Code(err) != codes.ResourceExhausted || len(md.Get(server.PushbackTrailer)) != 1 {
		t.Fatalf("second call without the service config: %v, trailer %v; want RESOURCE_EXHAUSTED with %s", err, md, server.PushbackTrailer)
	}
	start := time.Now()
	if err := callGenerate(t, retrying, "", &md); err != nil {
		t.Fatalf("with the service config: %v; want the retry after the pushback to pass", err)
	}
	// The retry waited for the pushback: a lower bound, which a slow
	// machine cannot break.
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Errorf("retried after %v; the pushback asked for about %v", waited, time.Second/perSecond)
	}
}

// TestPushbackStopsClientRetries: a failure guardgen already retried
// upstream (retries exhausted: UNAVAILABLE, ALERT_AND_DEGRADE) carries
// pushback -1, and a client with the service config does not retry it.
func TestPushbackStopsClientRetries(t *testing.T) {
	t.Parallel()
	counter := &countingProvider{ProviderServiceServer: synthetic.New()}
	h := start(t, harnessOptions{provider: counter})
	_, retrying := dialBoth(t, h.addr)
	var md metadata.MD
	err := callGenerate(t, retrying, "unavailable,unavailable,unavailable", &md)
	if status.Code(err) != codes.Unavailable || len(md.Get(server.PushbackTrailer)) != 1 || md.Get(server.PushbackTrailer)[0] != "-1" {
		t.Errorf("retries exhausted: %v, pushback %v; want UNAVAILABLE with -1", err, md.Get(server.PushbackTrailer))
	}
	if n := counter.calls.Load(); n != 3 {
		t.Errorf("%d provider calls, want 3 (one Generate, its three upstream attempts, no client retry)", n)
	}
}

// countingProvider counts Complete calls.
type countingProvider struct {
	providerv1.ProviderServiceServer
	calls atomic.Int64
}

func (c *countingProvider) Complete(ctx context.Context, req *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
	c.calls.Add(1)
	return c.ProviderServiceServer.Complete(ctx, req)
}

// dialBoth returns a client without and one with the published service
// config.
func dialBoth(t *testing.T, addr string) (plain, retrying guardgenv1.GenerationServiceClient) {
	t.Helper()
	dial := func(opts ...grpc.DialOption) guardgenv1.GenerationServiceClient {
		conn, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return guardgenv1.NewGenerationServiceClient(conn)
	}
	return dial(), dial(grpc.WithDefaultServiceConfig(server.ServiceConfig))
}

func callGenerate(t *testing.T, c guardgenv1.GenerationServiceClient, plan string, trailer *metadata.MD) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if plan != "" {
		ctx = withFaults(ctx, plan)
	}
	_, err := c.Generate(ctx, &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: ticket}, grpc.Trailer(trailer))
	return err
}
