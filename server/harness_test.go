package server_test

import (
	"log/slog"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/guardgen/guardgen/app/apptest"
	"github.com/guardgen/guardgen/config"
	fb "github.com/guardgen/guardgen/fallback"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/providers/synthetic"
	"github.com/guardgen/guardgen/schema"
	"github.com/guardgen/guardgen/server"
)

// harness is a guardgen server on a loopback port and a client of it.
type harness struct {
	addr    string
	gen     guardgenv1.GenerationServiceClient
	targets guardgenv1.TargetServiceClient
	health  healthpb.HealthClient
	// stop stops the server before the test ends (the cleanup stops it
	// otherwise); it is safe to call again.
	stop func()
}

// harnessOptions say what start serves. The zero value serves the
// synthetic provider on one route, "default", with the settings
// config.Default gives.
type harnessOptions struct {
	// provider answers the default route's one entry, behind the quick
	// chain; nil means synthetic.New(). Ignored when routes is set.
	provider providerv1.ProviderServiceServer
	// routes replace that route.
	routes []server.Route
	// set changes the server options after the defaults
	// (apptest.ServerOptions) are in and before server.New.
	set func(*server.Options)
	// tracer, when set, makes both the server's and the chain's spans.
	tracer trace.TracerProvider
}

// start is the one way this package's tests start guardgen: server.New
// from config.Default's settings changed by ho.set, served by
// apptest.Serve (which app tests use too) until the test ends.
func start(t testing.TB, ho harnessOptions) *harness {
	t.Helper()
	resolver, err := schema.NewResolver(apptest.ResolverOptions())
	if err != nil {
		t.Fatal(err)
	}
	opts := apptest.ServerOptions()
	opts.Resolver = resolver
	opts.TracerProvider = ho.tracer
	opts.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	opts.Routes = ho.routes
	if opts.Routes == nil {
		provider := ho.provider
		if provider == nil {
			provider = synthetic.New()
		}
		chain := quickSyntheticChain(ho.tracer)
		client := providerv1.NewProviderServiceClient(chain.InProcess(provider))
		// A request may set max_output_tokens up to config's default.
		opts.Routes = []server.Route{{Name: "default", MaxOutputTokens: config.RouteMaxOutputTokens,
			Entries: []server.RouteEntry{{Provider: "synthetic", Client: client}}}}
	}
	if ho.set != nil {
		ho.set(&opts)
	}
	srv, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := apptest.Serve(t, srv)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() }) // before the server stops: cleanups run last-in first-out
	return &harness{
		addr:    addr,
		gen:     guardgenv1.NewGenerationServiceClient(conn),
		targets: guardgenv1.NewTargetServiceClient(conn),
		health:  healthpb.NewHealthClient(conn),
		stop:    stop,
	}
}

// quickSyntheticChain is the default route's chain: the default three
// attempts with millisecond backoff (and the default cap, so RetryInfo
// hints are waited for), and no breaker or budget, since parallel fault
// plans share it (both have tests of their own).
func quickSyntheticChain(tp trace.TracerProvider) *providers.Chain {
	opts := providers.ChainOptions{
		Provider: "synthetic",
		Model:    "synthetic-1",
		Policy:   providers.Policy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 20 * time.Second},
		Breaker:  providers.BreakerPolicy{Disabled: true},
		Budget:   providers.BudgetPolicy{Disabled: true},
	}
	if tp != nil {
		opts.Tracer = tp.Tracer("test")
	}
	return mustChain(opts)
}

// mustChain is providers.NewChain for options a test wrote out in full:
// an error is a bug in the test.
func mustChain(opts providers.ChainOptions) *providers.Chain {
	chain, err := providers.NewChain(opts)
	if err != nil {
		panic(err)
	}
	return chain
}

// newMemoryCache is a memory cache of config.Default's size and TTL on
// the clock now (nil: time.Now).
func newMemoryCache(now func() time.Time) *fb.Memory {
	c := config.Default().GetCache()
	m, err := fb.NewMemory(fb.MemoryOptions{MaxEntries: int(c.GetMaxEntries()), TTL: config.Seconds(c.GetTtlSeconds()), Now: now})
	if err != nil {
		panic(err) // config.Default's bounds are valid
	}
	return m
}
