package main

// TestReplicasShareTheRedisCache proves issue 4's shared cache from the
// outside: two guardgen processes, built from this module and configured by
// one file with cache.backend redis, share a real redis-server, and each
// serves the other's last valid result when its own generation degrades.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
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

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

const replicaConfig = `
cache:
  backend: redis
  ttl_seconds: 600
  redis:
    address: %s
    key_prefix: "guardgen-replicas-test:"
`

func TestReplicasShareTheRedisCache(t *testing.T) {
	t.Parallel()
	redisAddr := startRedisServer(t)
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
			resp, err := tt.degrade.client.Generate(replicaCallContext(t, "length"), req)
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

// startRedisServer starts redis-server from PATH on a free loopback port,
// persistence off, and returns its address once it answers PING; it stops
// at cleanup. Without redis-server the test is skipped, or fails when
// CI=true, where a missing server means a broken CI image.
func startRedisServer(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		const how = "redis-server not on PATH; install it with `apt-get install -y redis-server` (Debian package redis-server)"
		if os.Getenv("CI") == "true" {
			t.Fatal(how)
		}
		t.Skip(how)
	}
	var lastErr error
	for range 3 { // a free port can be taken before redis binds it
		addr, err := launchRedisServer(t, path)
		if err == nil {
			return addr
		}
		lastErr = err
	}
	t.Fatalf("start redis-server: %v", lastErr)
	return ""
}

func launchRedisServer(t *testing.T, path string) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	out := &pluginLog{}
	cmd := exec.Command(path, "--save", "", "--appendonly", "no",
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", t.TempDir())
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			return "", fmt.Errorf("redis-server exited: %v\n%s", err, out)
		default:
		}
		if redisPing(addr) == nil {
			t.Cleanup(stop)
			return addr, nil
		}
		if time.Now().After(deadline) {
			stop()
			return "", fmt.Errorf("redis-server on %s did not answer PING in 10 s\n%s", addr, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// redisPing sends an inline PING and expects +PONG.
func redisPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return errors.New("unexpected reply " + strconv.Quote(line))
	}
	return nil
}
