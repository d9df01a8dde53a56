package server_test

import (
	"testing"

	"github.com/guardgen/guardgen/server"
)

// TestServeWithHTTPEndsCleanly stops servers that share their port with
// the HTTP protocols right after they start: closing the shared listener
// may reach gRPC's Serve before GracefulStop does, and Serve must still
// report a clean stop (the harness fails on any error Serve returns).
func TestServeWithHTTPEndsCleanly(t *testing.T) {
	for range 40 {
		h := start(t, harnessOptions{set: func(o *server.Options) { o.HTTP = server.HTTP{Enabled: true} }})
		h.stop()
	}
}
