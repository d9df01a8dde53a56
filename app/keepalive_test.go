package app_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/guardgen/guardgen/app"
	"github.com/guardgen/guardgen/app/apptest"
	"github.com/guardgen/guardgen/config"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// TestConnectionsRotate: with server.keepalive.max_connection_age set,
// guardgen sends GOAWAY to old connections and the client dials anew, so
// that clients spread over new replicas.
func TestConnectionsRotate(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse("test.yaml", []byte(`
server:
  keepalive:
    max_connection_age_seconds: 0.2
    max_connection_age_grace_seconds: 5
`))
	if err != nil {
		t.Fatal(err)
	}
	srv := apptest.Start(t, cfg, app.Options{})
	var dials atomic.Int32
	conn := srv.Dial(t, grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}))
	gen := guardgenv1.NewGenerationServiceClient(conn)
	req := &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: ticketType}
	for deadline := time.Now().Add(15 * time.Second); dials.Load() < 2; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("one connection after 15 s; max_connection_age 0.2 s should have rotated it")
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		_, err := gen.Generate(ctx, req)
		cancel()
		if err != nil {
			t.Fatalf("Generate across a rotation: %v", err)
		}
	}
}
