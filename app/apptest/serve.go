package apptest

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/guardgen/guardgen/app"
	"github.com/guardgen/guardgen/config"
	configv1 "github.com/guardgen/guardgen/gen/guardgen/config/v1"
	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/schema"
	"github.com/guardgen/guardgen/server"
)

// ServerOptions returns the settings config.Default() gives a server
// (app.ServerSettings), with the drain delay off as Start has it: what a
// test that builds a server by hand starts from, so that it runs with the
// defaults config.proto documents.
func ServerOptions() server.Options {
	opts := app.ServerSettings(config.Default())
	opts.DrainDelay = 0
	return opts
}

// ResolverOptions returns the target resolver's options under
// config.Default: the bounds config.proto documents.
func ResolverOptions() schema.Options {
	return app.ResolverSettings(config.Default())
}

// Servable is what Serve runs: an *app.App or a *server.Server.
type Servable interface {
	Serve(ctx context.Context, lis net.Listener) error
}

// Serve runs s on a free loopback port until the test ends, then stops it
// and checks that Serve returned cleanly. It is the one way tests start
// guardgen: Start calls it for a whole app, server tests for a
// server.Server they built. stop stops it before the test ends; it is safe
// to call again, and the cleanup calls it.
func Serve(t testing.TB, s Servable) (addr string, stop func()) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, lis) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-served; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return lis.Addr().String(), stop
}

// ChainOptions returns the chain settings config.Default() gives a
// provider named name (app.ChainSettings): the retry policy, breaker and
// retry budget a test's chain starts from.
func ChainOptions(name string) providers.ChainOptions {
	return app.ChainSettings(config.Default(), &configv1.Provider{Name: name, Type: "synthetic"})
}
