// Package apptest starts guardgen for tests through the one composition
// root, app.New, on a loopback port.
package apptest

import (
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/guardgen/guardgen/app"
	configv1 "github.com/guardgen/guardgen/gen/guardgen/config/v1"
)

// Server is guardgen started by Start.
type Server struct {
	// Addr is the gRPC address, 127.0.0.1:port.
	Addr string
	// App is the running guardgen, for its metrics.
	App *app.App
}

// Start runs guardgen from cfg on a free loopback port until the test ends,
// then stops it and checks that Serve returned cleanly. The metrics
// listener is turned off (read App.Metrics().Handler() instead) and so is
// the drain delay (no balancer watches a test's server); log lines go to
// the test's output unless opts.LogOutput says otherwise. cfg is changed
// in place.
func Start(t testing.TB, cfg *configv1.Config, opts app.Options) *Server {
	t.Helper()
	if cfg.Server == nil {
		cfg.Server = &configv1.Server{}
	}
	cfg.Server.MetricsListen = proto.String("")
	cfg.Server.DrainDelaySeconds = proto.Float64(0)
	if opts.LogOutput == nil {
		opts.LogOutput = t.Output()
	}
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	a, err := app.New(t.Context(), cfg, opts)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	t.Cleanup(func() { a.Close() }) // Serve closes it too; a failed Listen does not reach Serve
	addr, _ := Serve(t, a)
	return &Server{Addr: addr, App: a}
}

// Dial returns a client connection to s, closed when the test ends.
func (s *Server) Dial(t testing.TB, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	conn, err := grpc.NewClient(s.Addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
