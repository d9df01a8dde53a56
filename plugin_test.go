package main

// TestExternalPlugin proves issue 3's external providers from the outside:
// the example plug-in (examples/plugin) runs as a process of its own, and a
// guardgen server built from a configuration file through the real wiring
// (config.Load → build → server.New → Serve) reaches it over gRPC with its
// client interceptor chain.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/guardgen/guardgen/app"
	"github.com/guardgen/guardgen/app/apptest"
	"github.com/guardgen/guardgen/config"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers/providertest"
	"github.com/guardgen/guardgen/providers/synthetic"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

const pluginConfig = `
providers:
  - name: example-plugin
    type: grpc
    address: %s
routes:
  - name: default
    entries:
      - provider: example-plugin
llm_pipeline:
  execution:
    base_delay_seconds: 0.01
    max_delay_seconds: 0.05
server:
  metrics_listen: ""
`

// The example plug-in, reached over gRPC in a process of its own, passes
// the provider conformance suite like the built-in providers (its model is
// the synthetic provider, scripted by the fault plan it is forwarded).
func TestPluginConformance(t *testing.T) {
	plugin := startPlugin(t, buildPackage(t, "./examples/plugin"))
	conn, err := grpc.NewClient(plugin.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	faults := map[providertest.Behavior]string{
		providertest.Answer:          "ok",
		providertest.RateLimited:     "rate_limit",
		providertest.Unavailable:     "unavailable",
		providertest.Truncated:       "length",
		providertest.ContentFiltered: "content_filter",
		providertest.Refused:         "refusal",
		providertest.Hang:            "hang",
	}
	providertest.Run(t, providertest.Harness{
		Client: providerv1.NewProviderServiceClient(conn),
		Script: func(ctx context.Context, _ *testing.T, b providertest.Behavior) context.Context {
			return metadata.AppendToOutgoingContext(ctx, synthetic.FaultsMetadataKey, faults[b])
		},
	})
}

func TestExternalPlugin(t *testing.T) {
	plugin := startPlugin(t, buildPackage(t, "./examples/plugin"))

	file := filepath.Join(t.TempDir(), "guardgen.yaml")
	if err := os.WriteFile(file, fmt.Appendf(nil, pluginConfig, plugin.addr), 0o600); err != nil {
		t.Fatal(err)
	}
	gen := serveConfigFile(t, file)
	req := &guardgenv1.GenerateRequest{Prompt: "I was charged twice for my subscription this month", TargetType: "guardgen.examples.v1.TicketClassification"}

	t.Run("served by the plug-in", func(t *testing.T) {
		before := plugin.lastCall()
		resp, err := gen.Generate(pluginCallContext(t, ""), req)
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		attempts := resp.GetReport().GetAttempts()
		if len(attempts) != 1 || attempts[0].GetProvider() != "example-plugin" || attempts[0].GetModel() != "example-plugin-1" ||
			attempts[0].GetFailure() != nil {
			t.Errorf("report.attempts = %v; want one successful attempt by example-plugin / example-plugin-1", attempts)
		}
		if !strings.Contains(resp.GetJson(), `"category"`) {
			t.Errorf("json = %s", resp.GetJson())
		}
		if got := len(plugin.callsAfter(t, before)); got != 1 {
			t.Errorf("plug-in calls = %d, want 1", got)
		}
	})

	t.Run("UNAVAILABLE is retried by guardgen", func(t *testing.T) {
		before := plugin.lastCall()
		resp, err := gen.Generate(pluginCallContext(t, "unavailable,unavailable,ok"), req)
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		attempts := resp.GetReport().GetAttempts()
		var reasons []string
		for _, a := range attempts {
			reasons = append(reasons, a.GetFailure().GetReason().String())
		}
		want := []string{"FAILURE_REASON_UPSTREAM_UNAVAILABLE", "FAILURE_REASON_UPSTREAM_UNAVAILABLE", "FAILURE_REASON_UNSPECIFIED"}
		if fmt.Sprint(reasons) != fmt.Sprint(want) {
			t.Errorf("attempt failures = %v, want %v", reasons, want)
		}
		if got := codesOf(plugin.callsAfter(t, before)); got != "Unavailable Unavailable OK" {
			t.Errorf("plug-in answered %q, want two UNAVAILABLE, then OK", got)
		}
	})

	t.Run("a stream is one chunk of Complete", func(t *testing.T) {
		// The plug-in has no CompleteStream: guardgen asks it with
		// Complete, and streams the answer as one chunk, in one attempt.
		for range 2 {
			before := plugin.lastCall()
			stream, err := gen.GenerateStream(pluginCallContext(t, ""), req)
			if err != nil {
				t.Fatal(err)
			}
			var partials int
			var resp *guardgenv1.GenerateResponse
			for {
				ev, err := stream.Recv()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("GenerateStream: %v", err)
				}
				if ev.GetPartial() != nil {
					partials++
				}
				resp = ev.GetResponse()
			}
			if attempts := resp.GetReport().GetAttempts(); partials != 1 || len(attempts) != 1 || attempts[0].GetFailure() != nil {
				t.Errorf("%d partials, attempts %v; want one partial and one successful attempt", partials, attempts)
			}
			if got := len(plugin.callsAfter(t, before)); got != 1 {
				t.Errorf("plug-in Complete calls = %d, want 1", got)
			}
		}
	})

	t.Run("content filter is not retried", func(t *testing.T) {
		before := plugin.lastCall()
		_, err := gen.Generate(pluginCallContext(t, "content_filter"), req)
		st := status.Convert(err)
		var detail *guardgenv1.FailureDetail
		for _, d := range st.Details() {
			if fd, ok := d.(*guardgenv1.FailureDetail); ok {
				detail = fd
			}
		}
		if st.Code() != codes.FailedPrecondition || detail.GetDomain() != guardgenv1.FailureDomain_FAILURE_DOMAIN_INPUT_CONSTRAINT {
			t.Errorf("Generate = %v, detail %v; want FAILED_PRECONDITION, INPUT_CONSTRAINT", err, detail)
		}
		if got := len(plugin.callsAfter(t, before)); got != 1 {
			t.Errorf("plug-in calls = %d, want 1", got)
		}
	})
}

// pluginCallContext bounds a call and, when faults is set, sends the synthetic
// fault plan that the example plug-in follows.
func pluginCallContext(t *testing.T, faults string) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	if faults != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "x-guardgen-synthetic-faults", faults)
	}
	return ctx
}

// buildPackage builds the package at path (relative to the module root) into a
// temporary directory and returns the binary.
func buildPackage(t *testing.T, path string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(path))
	cmd := exec.Command("go", "build", "-o", bin, path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", path, err, out)
	}
	return bin
}

// serveConfigFile serves guardgen built from the configuration file on a
// loopback port, as the guardgen command does, and returns a client.
func serveConfigFile(t *testing.T, file string) guardgenv1.GenerationServiceClient {
	t.Helper()
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	return guardgenv1.NewGenerationServiceClient(apptest.Start(t, cfg, app.Options{}).Dial(t))
}

// pluginProcess is the example plug-in running as a child process.
type pluginProcess struct {
	addr string
	log  *pluginLog // its stderr: one JSON line per call
}

// startPlugin runs the plug-in binary on a free loopback port and stops it
// with SIGTERM at cleanup, expecting a clean exit.
func startPlugin(t *testing.T, bin string) *pluginProcess {
	t.Helper()
	p := &pluginProcess{log: &pluginLog{}}
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0")
	cmd.Stderr = p.log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("plug-in exit: %v\n%s", err, p.log.String())
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("plug-in did not exit within 15 s of SIGTERM")
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("plug-in stdout: %v\n%s", err, p.log.String())
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		t.Fatalf("plug-in printed %q", line)
	}
	p.addr = addr
	return p
}

// lastCall returns the number of the plug-in's last logged call, 0 before
// any. Read after callsAfter's barrier, it is exact.
func (p *pluginProcess) lastCall() int {
	last := 0
	for _, l := range p.lines() {
		last = max(last, l.Call)
	}
	return last
}

// codesOf returns the status codes of calls, space-separated.
func codesOf(calls []pluginCallLine) string {
	var out []string
	for _, l := range calls {
		out = append(out, l.Code)
	}
	return strings.Join(out, " ")
}

type pluginCallLine struct {
	Msg  string `json:"msg"`
	Call int    `json:"call"`
	Code string `json:"code"`
}

func (p *pluginProcess) lines() []pluginCallLine {
	var out []pluginCallLine
	for line := range strings.Lines(p.log.String()) {
		var l pluginCallLine
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "complete" {
			out = append(out, l)
		}
	}
	return out
}

// callsAfter returns the plug-in's calls numbered after mark, once every
// call guardgen made before now is in the log, without waiting for
// "long enough". The plug-in logs a call before it answers, so the calls of
// a Generate that has returned are logged; callsAfter then makes one
// marker call of its own (no output schema, so INVALID_ARGUMENT, which
// guardgen never causes) and waits for its line: the log is one pipe
// written in order, so every earlier line is in by then. The marker is
// not among the calls returned.
func (p *pluginProcess) callsAfter(t *testing.T, mark int) []pluginCallLine {
	t.Helper()
	conn, err := grpc.NewClient(p.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := providerv1.NewProviderServiceClient(conn).Complete(ctx, &providerv1.CompleteRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("marker call: %v, want INVALID_ARGUMENT", err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var calls []pluginCallLine
		for _, l := range p.lines() {
			if l.Call <= mark {
				continue
			}
			if l.Code == codes.InvalidArgument.String() {
				return calls
			}
			calls = append(calls, l)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the marker call's line did not reach the log in 5 s:\n%s", p.log.String())
		}
	}
}

// pluginLog is a bytes.Buffer safe for a writer and a reader at once.
type pluginLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *pluginLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *pluginLog) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
