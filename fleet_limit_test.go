package main

// TestFleetRateLimit proves issue 13's fleet-wide limits from the outside:
// two guardgen processes configured with server.rate_limit.redis share one
// real redis-server and enforce one per-caller limit between them; with
// Redis gone, each falls back to a limit of its own.

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/guardgen/guardgen/fallback/redistest"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

const fleetLimitConfig = `
cache:
  backend: none
server:
  rate_limit:
    requests_per_second: 0.01
    burst: 3
    redis:
      address: %s
      key_prefix: "guardgen-fleet-test:"
`

func TestFleetRateLimit(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	bin := buildPackage(t, "github.com/guardgen/guardgen")
	cfg := filepath.Join(t.TempDir(), "guardgen.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, fleetLimitConfig, redis.Addr), 0o600); err != nil {
		t.Fatal(err)
	}
	a, b := startReplica(t, bin, cfg), startReplica(t, bin, cfg)
	req := &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: "guardgen.examples.v1.TicketClassification"}

	// count sends calls alternately to the replicas (the same caller: one
	// peer address) and counts the admitted ones; every refusal must name
	// the scope that decided it.
	count := func(calls int, scope string) int {
		t.Helper()
		admitted := 0
		for i := range calls {
			r := []*replica{a, b}[i%2]
			_, err := r.client.Generate(replicaCallContext(t, ""), req)
			switch status.Code(err) {
			case codes.OK:
				admitted++
			case codes.ResourceExhausted:
				if got := failureMetadata(err)["scope"]; got != scope {
					t.Errorf("call %d refused by scope %q, want %q", i, got, scope)
				}
			default:
				t.Fatalf("call %d to %s: %v\n%s", i, r.addr, err, r.log)
			}
		}
		return admitted
	}
	if n := count(8, "fleet"); n != 3 {
		t.Errorf("with Redis: %d of 8 calls admitted across both replicas, want the one shared burst of 3", n)
	}

	// Redis gone: each replica decides alone, with a burst of its own.
	redis.Stop()
	if n := count(8, "replica"); n != 6 {
		t.Errorf("without Redis: %d of 8 calls admitted, want 3 per replica", n)
	}
}

// failureMetadata is the FailureDetail metadata of err's status.
func failureMetadata(err error) map[string]string {
	for _, d := range status.Convert(err).Details() {
		if fd, ok := d.(*guardgenv1.FailureDetail); ok {
			return fd.GetMetadata()
		}
	}
	return nil
}
