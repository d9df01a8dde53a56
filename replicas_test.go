package main

// TestReplicasShareTheRedisCache proves issue 4's shared cache from the
// outside: two guardgen processes, built from this module and configured by
// one file with cache.backend redis, share a real redis-server, and each
// serves the other's last valid result when its own generation degrades.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/guardgen/guardgen/fallback/redistest"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

const replicaConfig = `
cache:
  backend: redis
  ttl_seconds: 600
  hmac_key_env: GUARDGEN_TEST_CACHE_KEY
  redis:
    address: %s
    key_prefix: "guardgen-replicas-test:"
server:
  drain_delay_seconds: 0
`

func TestReplicasShareTheRedisCache(t *testing.T) {
	t.Parallel()
	redisAddr := redistest.Start(t).Addr
	bin := buildPackage(t, "github.com/guardgen/guardgen")
	cfg := filepath.Join(t.TempDir(), "guardgen.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, replicaConfig, redisAddr), 0o600); err != nil {
		t.Fatal(err)
	}
	a, b := startReplica(t, bin, cfg), startReplica(t, bin, cfg)

	tests := []struct {
		name          string
		fill, degrade *replica
		prompt        string
	}{
		{"A fills, B serves", a, b, "The export button crashes the app on Safari"},
		{"B fills, A serves", b, a, "I was charged twice for my subscription this month"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &guardgenv1.GenerateRequest{Prompt: tt.prompt, TargetType: "guardgen.examples.v1.TicketClassification"}
			clean, err := tt.fill.client.Generate(replicaCallContext(t, ""), req)
			if err != nil || clean.GetDegraded() {
				t.Fatalf("clean request to %s: %v, degraded %v", tt.fill.addr, err, clean.GetDegraded())
			}
			// The write leaves the request path: it reaches Redis soon after
			// the answer, not before it.
			var resp *guardgenv1.GenerateResponse
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				resp, err = tt.degrade.client.Generate(replicaCallContext(t, "length"), req)
				if err == nil || time.Now().After(deadline) {
					break
				}
			}
			if err != nil {
				t.Fatalf("truncated request to %s: %v; want OK degraded from the other replica's cache\n%s", tt.degrade.addr, err, tt.degrade.log)
			}
			md := resp.GetDegradation().GetMetadata()
			if !resp.GetDegraded() || md["degradation"] != "cache" || md["cache_age_seconds"] == "" {
				t.Errorf("degraded %v, degradation %v; want served from the cache with its age", resp.GetDegraded(), resp.GetDegradation())
			}
			if age, err := strconv.ParseFloat(md["cache_age_seconds"], 64); err != nil || age < 0 || age > 60 {
				t.Errorf("cache_age_seconds = %q", md["cache_age_seconds"])
			}
			if resp.GetJson() != clean.GetJson() {
				t.Errorf("served %s, want the other replica's %s", resp.GetJson(), clean.GetJson())
			}
		})
	}
}

func replicaCallContext(t *testing.T, faults string) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	if faults != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "x-guardgen-synthetic-faults", faults)
	}
	return ctx
}

// replica is a guardgen process.
type replica struct {
	addr   string
	log    *pluginLog // stdout and stderr: JSON log lines
	client guardgenv1.GenerationServiceClient
}

// startReplica runs bin with the configuration file on a free loopback
// port (read back from its "serving" log line), metrics off, and stops it
// with SIGTERM at cleanup, expecting a clean exit.
func startReplica(t *testing.T, bin, cfg string) *replica {
	t.Helper()
	r := &replica{log: &pluginLog{}}
	cmd := exec.Command(bin, "--config", cfg, "--listen", "127.0.0.1:0", "--metrics-listen", "")
	cmd.Env = append(os.Environ(), "GUARDGEN_TEST_CACHE_KEY=replicas-share-this-test-key-of-32-bytes")
	cmd.Stdout, cmd.Stderr = r.log, r.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("guardgen exit: %v\n%s", err, r.log)
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("guardgen did not exit within 15 s of SIGTERM\n%s", r.log)
		}
	})
	deadline := time.After(15 * time.Second)
	for r.addr == "" {
		select {
		case err := <-exited:
			t.Fatalf("guardgen exited before serving: %v\n%s", err, r.log)
		case <-deadline:
			t.Fatalf("no serving log line within 15 s\n%s", r.log)
		case <-time.After(10 * time.Millisecond):
		}
		r.addr = servingAddr(r.log.String())
	}
	conn, err := grpc.NewClient(r.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	r.client = guardgenv1.NewGenerationServiceClient(conn)
	return r
}

// servingAddr returns the listen address of the "serving" log line in log,
// or "" before there is one.
func servingAddr(log string) string {
	for line := range strings.Lines(log) {
		var l struct {
			Msg    string `json:"msg"`
			Listen string `json:"listen"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "serving" {
			return l.Listen
		}
	}
	return ""
}
