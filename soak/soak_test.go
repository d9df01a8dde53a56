package soak_test

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/guardgen/guardgen/app"
	"github.com/guardgen/guardgen/config"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/soak"
)

var (
	soakDuration = flag.Duration("soak.duration", 0, "how long TestSoak sends load; 0 means $SOAK_DURATION, else 30s (10s with -short)")
	soakRate     = flag.Float64("soak.rate", 100, "TestSoak's requests per second")
	soakSeed     = flag.Uint64("soak.seed", 0, "seed of the chaos script; 0 picks one (logged)")
	soakStrict   = flag.Bool("soak.strict-deadline", true, "count calls ended by the caller's own deadline (no FailureDetail) as failures; guardgen keeps server.deadline_margin_seconds back so that it answers first")
)

const (
	ticketType  = "guardgen.examples.v1.TicketClassification"
	validTicket = `{"category":"billing","priority":3,"summary":"Customer was charged twice this month."}`
	// callDeadline is every soak call's deadline.
	callDeadline = 5 * time.Second
	// warmup calls, answered without faults, run before the baseline is
	// taken so that lazily built state (validators, connections, caches)
	// is part of it.
	warmup = 20
	// Tolerances of the return to baseline after the load.
	goroutineSlack = 5
	heapSlack      = 4 << 20
)

// prompts are the soak's prompts; few, so the result cache stays small.
var prompts = []string{
	"I was charged twice for my subscription this month",
	"The app crashes when I open settings",
	"Please change the email address on my account",
	"Payments API returned 503s from 09:12 to 09:40",
	"How do I export my data?",
}

// soakConfig is guardgen's configuration during the soak: the defaults,
// the OpenAI provider, retries short enough to fit in a call's deadline,
// and room for every call in flight.
const soakConfig = `
providers:
  - name: openai
    type: openai
    base_url: %s
    model: gpt-4o-mini
routes:
  - name: default
    entries:
      - provider: openai
llm_pipeline:
  execution:
    base_delay_seconds: 0.25
    max_delay_seconds: 2
    infra_errors: [RateLimitError, APITimeoutError, APIConnectionError, InternalServerError]
server:
  max_in_flight: 2000
  metrics_listen: ""
  # CI runs the soak under -race beside other test packages on two cores; a
  # margin above the 0.1 s default absorbs scheduling delay so that what is
  # checked is guardgen's behaviour (it answers before the caller's
  # deadline), not the host's load.
  deadline_margin_seconds: 1
  drain_delay_seconds: 0
`

func duration(t *testing.T) time.Duration {
	if d := flagOrEnv(t, *soakDuration, "SOAK_DURATION"); d > 0 {
		return d
	}
	if testing.Short() {
		return 10 * time.Second
	}
	return 30 * time.Second
}

// flagOrEnv is the duration a flag sets, else the one the environment
// variable env holds, else 0.
func flagOrEnv(t *testing.T, flagged time.Duration, env string) time.Duration {
	if flagged > 0 {
		return flagged
	}
	if v := os.Getenv(env); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s: %v", env, err)
		}
		return d
	}
	return 0
}

// TestSoak sends steady load at guardgen (in process, OpenAI provider)
// while a scripted upstream in another process injects chaos, then checks
// that every call got exactly one terminal status, none UNKNOWN, every
// non-OK one with a FailureDetail, that goroutines and heap return to their
// baseline, and that nothing panicked.
func TestSoak(t *testing.T) {
	d := duration(t)
	seed := *soakSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("soak: %s at %.0f rps, call deadline %s, seed %d (-soak.seed to replay)", d, *soakRate, callDeadline, seed)

	// The upstream runs in a process of its own: it records every request,
	// and that memory must not count as guardgen's.
	calls := int(*soakRate * d.Seconds())
	script := filepath.Join(t.TempDir(), "chaos.json")
	f, err := os.Create(script)
	if err != nil {
		t.Fatal(err)
	}
	warm := soak.Chaos(rand.New(rand.NewPCG(seed, 0)), warmup, validTicket, soak.Mix{})
	chaos := soak.Chaos(rand.New(rand.NewPCG(seed, 1)), 3*calls, validTicket, soak.DefaultMix)
	if err := soak.WriteScript(f, append(warm, chaos...)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	upstream := start(t, buildBinary(t, "github.com/guardgen/guardgen/cmd/openai-testserver"),
		"--listen", "127.0.0.1:0", "--script", script, "--default-content", validTicket)
	baseURL := strings.TrimSpace(strings.Fields(strings.TrimPrefix(upstream.waitLine(t, "OPENAI_BASE_URL=", 30*time.Second), "OPENAI_BASE_URL="))[0])

	logFile := filepath.Join(t.TempDir(), "guardgen.log")
	addr, closeIdle, stop := serve(t, fmt.Sprintf(soakConfig, baseURL), logFile)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	gen := guardgenv1.NewGenerationServiceClient(conn)
	var retried atomic.Int64
	var degraded sync.Map // degradation reason → *atomic.Int64
	call := func(ctx context.Context, i int) error {
		resp, err := gen.Generate(ctx, &guardgenv1.GenerateRequest{Prompt: prompts[i%len(prompts)], TargetType: ticketType})
		if resp.GetDegraded() {
			n, _ := degraded.LoadOrStore(resp.GetDegradation().GetReason().String(), new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
		}
		if len(resp.GetReport().GetAttempts()) > 1 {
			retried.Add(1)
		}
		return err
	}

	for i := range warmup {
		ctx, cancel := context.WithTimeout(t.Context(), callDeadline)
		err := call(ctx, i)
		cancel()
		if err != nil {
			t.Fatalf("warm-up call %d: %v", i, err)
		}
	}
	time.Sleep(time.Second)
	closeIdle()
	baseG, baseHeap := settled()
	t.Logf("baseline: %d goroutines, heap %.1f MiB", baseG, mib(baseHeap))

	report := soak.Run(t.Context(), soak.Options{Rate: *soakRate, Duration: d, Deadline: callDeadline, Call: call})
	var deg []string
	degraded.Range(func(k, v any) bool {
		deg = append(deg, fmt.Sprintf("%s=%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	slices.Sort(deg)
	t.Logf("soak report:\n%s  OK after more than one provider call: %d; degraded OK by reason: %s", report, retried.Load(), strings.Join(deg, " "))
	if err := report.Check(*soakStrict); err != nil {
		t.Error(err)
	}
	if report.CallerDeadline > 0 {
		t.Logf("%d of %d calls (%.2f %%) ended by the caller's own deadline before guardgen answered (no FailureDetail)",
			report.CallerDeadline, report.Completed, 100*float64(report.CallerDeadline)/float64(max(report.Completed, 1)))
	}
	if report.Codes[codes.OK] == 0 {
		t.Errorf("no call succeeded")
	}

	// Back to baseline: everything the load started has ended. Idle
	// keep-alive connections to the upstream (two goroutines each, as many
	// as calls were in flight at the peak, kept for reuse until the
	// transport's idle timeout) are a bounded pool, not a leak: they are
	// counted, then released as they are at the baseline.
	idleG, _ := settled()
	var g int
	var heap uint64
	until := time.Now().Add(20 * time.Second)
	for {
		closeIdle()
		g, heap = settled()
		if (g <= baseG+goroutineSlack && heap <= baseHeap+heapSlack) || time.Now().After(until) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("after the load: %d goroutines (baseline %d; %d before idle upstream connections were closed), heap %.1f MiB (baseline %.1f MiB)",
		g, baseG, idleG, mib(heap), mib(baseHeap))
	if g > baseG+goroutineSlack {
		var b strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
		t.Errorf("goroutines did not return to baseline: %d > %d + %d\n%s", g, baseG, goroutineSlack, b.String())
	}
	if heap > baseHeap+heapSlack {
		t.Errorf("heap did not return to baseline: %.1f MiB > %.1f MiB + %.0f MiB", mib(heap), mib(baseHeap), mib(heapSlack))
	}

	conn.Close()
	stop()
	panics, lines := scanLog(t, logFile)
	t.Logf("guardgen logged %d lines", lines)
	for _, p := range panics {
		t.Errorf("guardgen logged a panic: %s", p)
	}
}

// settled returns the goroutine count and live heap after garbage
// collection.
func settled() (int, uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return runtime.NumGoroutine(), ms.HeapAlloc
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// serve runs guardgen in process from the YAML configuration through the
// composition root, logging to logFile, and returns its address, a function
// that closes the provider's idle upstream connections, and a stop function
// (also run at cleanup).
func serve(t *testing.T, yaml, logFile string) (addr string, closeIdle, stop func()) {
	t.Helper()
	cfg, err := config.Parse("soak.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	lf, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(t.Context(), cfg, app.Options{LogOutput: lf, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, lis) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		_ = lf.Close()
	}
	t.Cleanup(stop)
	return lis.Addr().String(), a.CloseIdleConnections, stop
}

// scanLog returns the log lines that mention a panic, and the line count.
func scanLog(t *testing.T, file string) ([]string, int) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var panics []string
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		n++
		if strings.Contains(strings.ToLower(sc.Text()), "panic") && len(panics) < 10 {
			panics = append(panics, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return panics, n
}
