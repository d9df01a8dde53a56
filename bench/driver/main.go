// Command driver runs guardgen's load benchmark: it starts each server under
// test on 127.0.0.1, drives it with ghz (closed loop for max throughput, open
// loop at a fixed rate), reads the server's CPU time and peak RSS from /proc,
// and writes a markdown report. bench/run.sh builds everything and calls it;
// see bench/README.md.
//
// Scenarios, each on fresh processes per run so every row's peak RSS is its
// own:
//
//	baseline   bench/baseline: bare grpc-go, fixed pre-built response
//	synthetic  guardgen, built-in synthetic provider
//	openai-0ms guardgen → OpenAI provider → bench/upstream (openaitest), no delay,
//	           plus the upstream measured directly over HTTP at the same rate
//	openai-1s  the same with a 1 s upstream delay; closed loop at --inflight
//	           and at --inflight-max
//	overload   openai-1s with server.max_in_flight=L, offered 0.8·L and 2·L in flight
//
// With --before BIN (bench/run.sh --compare REV) every guardgen run is made
// twice, with BIN and then with the guardgen under test, in the same
// invocation, and the report ends with the after/before ratios.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const request = `{"prompt":"I was charged twice for my subscription this month","target_type":"guardgen.examples.v1.TicketClassification"}`

type settings struct {
	quick          bool
	duration       time.Duration
	warmup         time.Duration
	conc, conns    int
	rps            int
	openConc       int
	openConns      int
	inflight       int
	inflightMax    int
	inflightConns  int
	slowDelay      time.Duration
	holdDelay      time.Duration
	overloadLimit  int
	only           map[string]bool
	bin, ghz       string
	guardgen       string
	guardgenRev    string
	ghzVersion     string
	protoDir       string
	out            string
	cmdline        string
	keep           bool
	work           string
	legacyGuardgen bool // the guardgen binary has no --config flag
	// before is the guardgen binary to compare with (--before), "" for none.
	before, beforeRev string
	// tag marks the rows of the runs in progress: "" for the guardgen under
	// test, "before" for the one compared with.
	tag string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	killAll()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	var s settings
	var only string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.BoolVar(&s.quick, "quick", false, "CI mode: short runs (under a minute in all); explicit flags still win")
	fs.DurationVar(&s.duration, "duration", 8*time.Second, "length of each measured run (quick: 1.5s)")
	fs.DurationVar(&s.warmup, "warmup", time.Second, "unrecorded closed-loop warm-up before each measured run (quick: 0.3s)")
	fs.IntVar(&s.conc, "concurrency", 32, "closed-loop concurrency for max throughput")
	fs.IntVar(&s.conns, "connections", 4, "gRPC connections for the closed-loop runs")
	fs.IntVar(&s.rps, "rps", 1000, "open-loop rate (requests per second)")
	fs.IntVar(&s.openConc, "open-concurrency", 50, "ghz workers in the open-loop runs (with --async each sends without waiting)")
	fs.IntVar(&s.openConns, "open-connections", 10, "gRPC connections for the open-loop runs")
	fs.IntVar(&s.inflight, "inflight", 5000, "closed-loop concurrency against the slow provider")
	fs.IntVar(&s.inflightMax, "inflight-max", 10000, "closed-loop concurrency of the largest run against the slow provider (and of the --hold-delay wave); 0 skips it")
	fs.IntVar(&s.inflightConns, "inflight-connections", 50, "gRPC connections for the --inflight run (twice as many for --inflight-max)")
	fs.DurationVar(&s.slowDelay, "slow-delay", time.Second, "upstream latency of the slow-provider scenarios")
	fs.DurationVar(&s.holdDelay, "hold-delay", 10*time.Second, "upstream latency of the extra run that holds --inflight requests at once (one wave of --inflight calls), so peak RSS is measured with all of them inside guardgen even when the machine cannot sustain --inflight/1s RPS; 0 skips it (quick: 0)")
	fs.IntVar(&s.overloadLimit, "overload-limit", 250, "server.max_in_flight in the overload scenario")
	fs.StringVar(&only, "only", "", "comma-separated scenarios to run (baseline,synthetic,openai-0ms,openai-1s,overload); default all")
	fs.StringVar(&s.bin, "bin", "bench/.bin", "directory with the baseline and upstream binaries")
	fs.StringVar(&s.ghz, "ghz", "bench/.bin/ghz", "ghz binary")
	fs.StringVar(&s.ghzVersion, "ghz-version", "", "ghz version, for the report")
	fs.StringVar(&s.guardgen, "guardgen", "bench/.bin/guardgen", "guardgen binary")
	fs.StringVar(&s.guardgenRev, "guardgen-rev", "", "guardgen source revision, for the report")
	fs.StringVar(&s.protoDir, "proto", "proto", "proto import path holding guardgen/v1/generation.proto")
	fs.StringVar(&s.out, "out", "bench/results/latest.md", "markdown report to write")
	fs.StringVar(&s.cmdline, "cmdline", "", "the command line that ran the benchmark, for the report")
	fs.BoolVar(&s.keep, "keep", false, "keep the work directory (configs, logs, raw ghz JSON)")
	fs.StringVar(&s.before, "before", "", "a second guardgen binary to run every guardgen scenario with first, for before/after ratios (bench/run.sh --compare REV builds it)")
	fs.StringVar(&s.beforeRev, "before-rev", "", "the --before binary's source revision, for the report")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if s.quick {
		if !set["duration"] {
			s.duration = 1500 * time.Millisecond
		}
		if !set["warmup"] {
			s.warmup = 300 * time.Millisecond
		}
		if !set["hold-delay"] {
			s.holdDelay = 0
		}
	}
	if only != "" {
		s.only = map[string]bool{}
		for _, o := range strings.Split(only, ",") {
			s.only[strings.TrimSpace(o)] = true
		}
	}
	if s.cmdline == "" {
		s.cmdline = strings.Join(os.Args, " ")
	}
	s.legacyGuardgen = isLegacy(s.guardgen)

	work, err := os.MkdirTemp("", "guardgen-bench-")
	if err != nil {
		return err
	}
	s.work = work
	if !s.keep {
		defer os.RemoveAll(work)
	} else {
		fmt.Fprintln(os.Stderr, "work directory:", work)
	}

	started := time.Now()
	r := &report{s: &s, inflight: -1, inflightMax: -1, hold: -1, overRef: -1, over: -1, load0: loadavg()}
	steps := []struct {
		name string
		fn   func(context.Context, *settings, *report) error
	}{
		{"baseline", runBaseline},
		{"synthetic", runSynthetic},
		{"openai-0ms", runOpenAIFast},
		{"openai-1s", runOpenAISlow},
		{"overload", runOverload},
	}
	for _, st := range steps {
		if s.only != nil && !s.only[st.name] {
			continue
		}
		if s.before != "" && st.name != "baseline" {
			// The revision compared with runs first, each scenario just
			// before the same one under test, so both see the same machine.
			sb := s
			sb.guardgen, sb.legacyGuardgen, sb.tag = s.before, isLegacy(s.before), "before"
			saved := *r
			if err := st.fn(ctx, &sb, r); err != nil {
				return fmt.Errorf("%s (before): %w", st.name, err)
			}
			// The targets are judged on the guardgen under test alone.
			r.inflight, r.inflightMax, r.hold, r.overRef, r.over, r.direct = saved.inflight, saved.inflightMax, saved.hold, saved.overRef, saved.over, saved.direct
		}
		if err := st.fn(ctx, &s, r); err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
	}
	r.elapsed = time.Since(started)
	md := r.markdown()
	fmt.Print(md)
	if err := os.MkdirAll(filepath.Dir(s.out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(s.out, []byte(md), 0o644)
}

// isLegacy reports a guardgen binary without --config.
func isLegacy(bin string) bool {
	help, _ := exec.Command(bin, "--help").CombinedOutput()
	return !bytes.Contains(help, []byte("-config"))
}

// ---------------------------------------------------------------- processes

var (
	procMu sync.Mutex
	procs  = map[int]*exec.Cmd{}
)

type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// start runs a server binary with its output in a log file and waits until
// addr accepts connections.
func start(ctx context.Context, s *settings, name, addr string, env []string, bin string, args ...string) (*proc, error) {
	logName := filepath.Join(s.work, fmt.Sprintf("%s-%d.log", name, time.Now().UnixNano()))
	f, err := os.Create(logName)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &proc{name: name, cmd: cmd, log: logName, done: make(chan struct{})}
	procMu.Lock()
	procs[cmd.Process.Pid] = cmd
	procMu.Unlock()
	go func() {
		p.err = cmd.Wait()
		f.Close()
		procMu.Lock()
		delete(procs, cmd.Process.Pid)
		procMu.Unlock()
		close(p.done)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited before listening (%v):\n%s", name, p.err, tail(logName, 20))
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s did not listen on %s within 60s", name, addr)
		}
	}
}

// stop sends SIGTERM, then SIGKILL after 20 s.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func killAll() {
	procMu.Lock()
	defer procMu.Unlock()
	for _, c := range procs {
		_ = c.Process.Kill()
	}
}

// usage is a process's CPU time so far and its peak resident set.
type usage struct {
	cpu    time.Duration
	hwmKiB int64
}

func (p *proc) usage() usage {
	var u usage
	pid := p.cmd.Process.Pid
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// Fields after the parenthesised command: state is field 3, utime 14, stime 15.
		if i := bytes.LastIndexByte(b, ')'); i > 0 {
			f := strings.Fields(string(b[i+1:]))
			if len(f) > 12 {
				ut, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				u.cpu = time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ is 100 on Linux
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
				u.hwmKiB, _ = strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			}
		}
	}
	return u
}

// selfCPU is the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func tail(name string, n int) string {
	b, _ := os.ReadFile(name)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ---------------------------------------------------------------- servers

type target struct {
	procs   []*proc
	server  *proc // the process whose CPU and RSS are reported
	addr    string
	up      string // upstream base URL, when there is one
	metrics string // guardgen's /metrics URL, when it has one
}

// sampleInFlight polls guardgen's llm_pipeline_requests_in_flight gauge
// until stop is closed and returns the largest value seen.
func sampleInFlight(url string, stop <-chan struct{}) <-chan int {
	out := make(chan int, 1)
	go func() {
		peak := 0
		client := &http.Client{Timeout: time.Second}
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if resp, err := client.Get(url); err == nil {
				sc := bufio.NewScanner(resp.Body)
				sc.Buffer(make([]byte, 64<<10), 1<<20)
				sum, seen := 0.0, false
				for sc.Scan() {
					line := sc.Text()
					if !strings.HasPrefix(line, "llm_pipeline_requests_in_flight") {
						continue
					}
					f := strings.Fields(line)
					if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
						sum, seen = sum+v, true
					}
				}
				resp.Body.Close()
				if seen {
					peak = max(peak, int(sum))
				}
			}
			select {
			case <-stop:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

func (t *target) stop() {
	for i := len(t.procs) - 1; i >= 0; i-- {
		t.procs[i].stop()
	}
}

func startBaseline(ctx context.Context, s *settings) (*target, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p, err := start(ctx, s, "baseline", addr, nil, filepath.Join(s.bin, "baseline"), "--listen", addr)
	if err != nil {
		return nil, err
	}
	return &target{procs: []*proc{p}, server: p, addr: addr}, nil
}

func startUpstream(ctx context.Context, s *settings, delay time.Duration, dump string) (*proc, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	args := []string{"--listen", addr, "--delay", delay.String()}
	if dump != "" {
		args = append(args, "--dump-request", dump)
	}
	p, err := start(ctx, s, "upstream", addr, nil, filepath.Join(s.bin, "upstream"), args...)
	if err != nil {
		return nil, "", err
	}
	return p, "http://" + addr + "/v1", nil
}

// startGuardgen starts guardgen; provider is "synthetic" or "openai" (then
// upstream is the base URL). maxInFlight 0 leaves the configured default.
func startGuardgen(ctx context.Context, s *settings, provider, upstream string, maxInFlight int) (*proc, string, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", "", err
	}
	var metricsURL string
	env := []string{"OPENAI_API_KEY=sk-bench", "OPENAI_BASE_URL=" + upstream, "OPENAI_MODEL=gpt-4o-mini"}
	var args []string
	if s.legacyGuardgen {
		// A guardgen without --config: flags and environment only, no
		// in-flight limit and no metrics listener to configure.
		args = []string{"--listen", addr, "--provider", provider}
	} else {
		maddr, err := freeAddr()
		if err != nil {
			return nil, "", "", err
		}
		metricsURL = "http://" + maddr + "/metrics"
		var b strings.Builder
		fmt.Fprintf(&b, "# written by bench/driver\nserver:\n  listen: %q\n  metrics_listen: %q\n", addr, maddr)
		if maxInFlight > 0 {
			fmt.Fprintf(&b, "  max_in_flight: %d\n", maxInFlight)
		}
		if provider == "openai" {
			fmt.Fprintf(&b, "providers:\n  - name: openai\n    type: openai\n    model: gpt-4o-mini\n    base_url: %q\n    api_key_env: OPENAI_API_KEY\n", upstream)
			b.WriteString("routes:\n  - name: default\n    entries:\n      - provider: openai\ndefault_route: default\n")
		}
		cfg := filepath.Join(s.work, fmt.Sprintf("guardgen-%s-%d.yaml", provider, time.Now().UnixNano()))
		if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
			return nil, "", "", err
		}
		args = []string{"--config", cfg}
	}
	p, err := start(ctx, s, "guardgen", addr, env, s.guardgen, args...)
	if err != nil {
		return nil, "", "", err
	}
	return p, addr, metricsURL, nil
}

func startGuardgenTarget(ctx context.Context, s *settings, provider string, delay time.Duration, maxInFlight int, dump string) (*target, error) {
	t := &target{}
	if provider == "openai" {
		up, url, err := startUpstream(ctx, s, delay, dump)
		if err != nil {
			return nil, err
		}
		t.procs = append(t.procs, up)
		t.up = url
	}
	g, addr, metricsURL, err := startGuardgen(ctx, s, provider, t.up, maxInFlight)
	if err != nil {
		t.stop()
		return nil, err
	}
	t.procs = append(t.procs, g)
	t.server, t.addr, t.metrics = g, addr, metricsURL
	return t, nil
}

// ---------------------------------------------------------------- ghz

type ghzResult struct {
	Count   int64   `json:"count"`
	Total   int64   `json:"total"` // ns
	RPS     float64 `json:"rps"`
	Details []struct {
		Latency int64  `json:"latency"` // ns
		Error   string `json:"error"`
		Status  string `json:"status"`
	} `json:"details"`
}

type load struct {
	closed      bool
	conc, conns int
	rps         int
	duration    time.Duration
	total       int // -n instead of -z when > 0
}

func (l load) String() string {
	if l.closed && l.total > 0 {
		return fmt.Sprintf("closed, c=%d, %d conns, n=%d", l.conc, l.conns, l.total)
	}
	if l.closed {
		return fmt.Sprintf("closed, c=%d, %d conns", l.conc, l.conns)
	}
	return fmt.Sprintf("open, %d rps", l.rps)
}

func ghz(ctx context.Context, s *settings, addr string, l load, out string) (*ghzResult, error) {
	r, _, err := ghzCPU(ctx, s, addr, l, out)
	if errors.Is(err, errGhzRace) {
		r, _, err = ghzCPU(ctx, s, addr, l, out)
	}
	return r, err
}

// errGhzRace: ghz v0.121.0 sometimes panics as a timed run ends ("send on
// closed channel" in its worker ticker). Such a run says nothing about the
// server; it is made again, once.
var errGhzRace = errors.New("ghz crashed as the run ended (its known race)")

// ghzCPU runs ghz and also returns the CPU time ghz itself used.
func ghzCPU(ctx context.Context, s *settings, addr string, l load, out string) (*ghzResult, time.Duration, error) {
	args := []string{
		"--insecure",
		"--proto", filepath.Join(s.protoDir, "guardgen/v1/generation.proto"),
		"--import-paths", s.protoDir,
		"--call", "guardgen.v1.GenerationService/Generate",
		"--data", request,
		"--disable-template-functions", "--disable-template-data",
		"--concurrency", strconv.Itoa(l.conc),
		"--connections", strconv.Itoa(l.conns),
		"--timeout", "30s",
		"--cpus", strconv.Itoa(runtime.NumCPU()),
		"--format", "json", "--output", out,
	}
	if l.total > 0 {
		args = append(args, "--total", strconv.Itoa(l.total))
	} else {
		args = append(args, "--duration", l.duration.String(), "--duration-stop", "wait")
	}
	if !l.closed {
		args = append(args, "--rps", strconv.Itoa(l.rps), "--async")
	}
	args = append(args, addr)
	cmd := exec.CommandContext(ctx, s.ghz, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Run(); err != nil {
		if strings.Contains(stderr.String(), "send on closed channel") {
			return nil, 0, errGhzRace
		}
		return nil, 0, fmt.Errorf("ghz %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, 0, err
	}
	var r ghzResult
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", out, err)
	}
	if !s.keep {
		_ = os.Remove(out)
	}
	return &r, cpu, nil
}

// busyCPU is the machine's total non-idle CPU time so far, from /proc/stat.
func busyCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest time is already in user
			break
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * 10 * time.Millisecond
}

// ---------------------------------------------------------------- measurement

type stats struct {
	n                   int
	p50, p90, p99, p999 time.Duration
	max, mean           time.Duration
}

func summarize(lat []time.Duration) stats {
	if len(lat) == 0 {
		return stats{}
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(lat)))) - 1
		return lat[max(0, min(i, len(lat)-1))]
	}
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	return stats{n: len(lat), p50: q(.50), p90: q(.90), p99: q(.99), p999: q(.999), max: lat[len(lat)-1], mean: sum / time.Duration(len(lat))}
}

type row struct {
	scenario string
	// tag is "before" for a run of the guardgen compared with (--before).
	tag      string
	load     load
	what     string // free-form load description when not ghz
	count    int
	okRPS    float64
	ok       stats            // latencies of OK responses
	byStatus map[string]stats // latencies per non-OK status
	errors   map[string]int
	cpuPerOp time.Duration // server CPU per request; 0 if not measured
	rssMiB   float64
	note     string
	// otherCores is CPU used by processes outside the benchmark during the
	// run, in cores: other work on a shared machine.
	otherCores float64
	offered    int // requests an open-loop run should have sent; 0 for closed loop
	upPeak     int // the upstream's peak in-flight, when it reported one
	ggPeak     int // guardgen's peak requests_in_flight gauge, sampled every 50 ms
}

func (r row) errCount() int {
	n := 0
	for _, c := range r.errors {
		n += c
	}
	return n
}

// measure warms the target up, then runs one measured ghz run.
func measure(ctx context.Context, s *settings, scenario string, t *target, l load, warm load) (row, error) {
	if warm.duration > 0 || warm.total > 0 {
		if _, err := ghz(ctx, s, t.addr, warm, filepath.Join(s.work, "warmup.json")); err != nil {
			return row{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	rw, err := measureOnce(ctx, s, scenario, t, l)
	if errors.Is(err, errGhzRace) {
		fmt.Fprintln(os.Stderr, "bench:", err, "- measuring again")
		rw, err = measureOnce(ctx, s, scenario, t, l)
	}
	return rw, err
}

// measureOnce is one measured ghz run against a warm target.
func measureOnce(ctx context.Context, s *settings, scenario string, t *target, l load) (row, error) {
	before := t.server.usage()
	var ours0 time.Duration
	for _, p := range t.procs {
		ours0 += p.usage().cpu
	}
	busy0, wall0 := busyCPU(), time.Now()
	var peak <-chan int
	stopSampling := make(chan struct{})
	if t.metrics != "" {
		peak = sampleInFlight(t.metrics, stopSampling)
	}
	res, ghzCPUTime, err := ghzCPU(ctx, s, t.addr, l, filepath.Join(s.work, fmt.Sprintf("%s-%d.json", scenario, time.Now().UnixNano())))
	close(stopSampling)
	if err != nil {
		return row{}, err
	}
	ggPeak := 0
	if peak != nil {
		ggPeak = <-peak
	}
	busy1, wall := busyCPU(), time.Since(wall0)
	after := t.server.usage()
	var ours1 time.Duration
	for _, p := range t.procs {
		ours1 += p.usage().cpu
	}
	rw := row{scenario: scenario, tag: s.tag, load: l, count: int(res.Count), errors: map[string]int{}, byStatus: map[string]stats{}, ggPeak: ggPeak}
	if foreign := (busy1 - busy0) - (ours1 - ours0) - ghzCPUTime; wall > 0 {
		rw.otherCores = max(0, foreign.Seconds()/wall.Seconds())
	}
	if !l.closed {
		rw.offered = int(float64(l.rps) * l.duration.Seconds())
	}
	var ok []time.Duration
	other := map[string][]time.Duration{}
	for _, d := range res.Details {
		if d.Status == "OK" && d.Error == "" {
			ok = append(ok, time.Duration(d.Latency))
			continue
		}
		st := d.Status
		if st == "" {
			st = "Error"
		}
		rw.errors[st]++
		other[st] = append(other[st], time.Duration(d.Latency))
	}
	rw.ok = summarize(ok)
	for st, lat := range other {
		rw.byStatus[st] = summarize(lat)
	}
	if res.Total > 0 {
		rw.okRPS = float64(len(ok)) / (float64(res.Total) / 1e9)
	}
	if res.Count > 0 {
		rw.cpuPerOp = (after.cpu - before.cpu) / time.Duration(res.Count)
	}
	rw.rssMiB = float64(after.hwmKiB) / 1024
	if len(res.Details) != int(res.Count) {
		rw.note = fmt.Sprintf("ghz details hold %d of %d requests", len(res.Details), res.Count)
	}
	return rw, nil
}

func (s *settings) closedLoad() load {
	return load{closed: true, conc: s.conc, conns: s.conns, duration: s.duration}
}
func (s *settings) openLoad(rps int) load {
	return load{rps: rps, conc: s.openConc, conns: s.openConns, duration: s.duration}
}
func (s *settings) warmLoad() load {
	return load{closed: true, conc: s.conc, conns: s.conns, duration: s.warmup}
}

// each runs fn on a fresh target per load, so peak RSS is per run.
func each(ctx context.Context, s *settings, r *report, scenario string, newTarget func() (*target, error), loads []load, warm func(load) load) error {
	for _, l := range loads {
		t, err := newTarget()
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bench: %-10s %s, %s ...\n", scenario, l, durationOf(l))
		rw, err := measure(ctx, s, scenario, t, l, warm(l))
		t.stop()
		if err != nil {
			return err
		}
		for _, p := range t.procs {
			if p.name == "upstream" {
				rw.upPeak = parsePeak(p.log)
			}
		}
		r.rows = append(r.rows, rw)
	}
	return nil
}

func parsePeak(log string) int {
	b, _ := os.ReadFile(log)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "peak_in_flight "); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

func durationOf(l load) string {
	if l.total > 0 {
		return fmt.Sprintf("%d requests", l.total)
	}
	return l.duration.String()
}

func runBaseline(ctx context.Context, s *settings, r *report) error {
	return each(ctx, s, r, "baseline", func() (*target, error) { return startBaseline(ctx, s) },
		[]load{s.closedLoad(), s.openLoad(s.rps)}, func(load) load { return s.warmLoad() })
}

func runSynthetic(ctx context.Context, s *settings, r *report) error {
	return each(ctx, s, r, "synthetic", func() (*target, error) {
		return startGuardgenTarget(ctx, s, "synthetic", 0, 100000, "")
	}, []load{s.closedLoad(), s.openLoad(s.rps)}, func(load) load { return s.warmLoad() })
}

func runOpenAIFast(ctx context.Context, s *settings, r *report) error {
	dump := filepath.Join(s.work, "chat-request.json")
	err := each(ctx, s, r, "openai-0ms", func() (*target, error) {
		return startGuardgenTarget(ctx, s, "openai", 0, 100000, dump)
	}, []load{s.closedLoad(), s.openLoad(s.rps)}, func(load) load { return s.warmLoad() })
	if err != nil || s.tag != "" {
		return err
	}
	// The upstream alone, at the same rate, with the body guardgen sent
	// (once: it does not depend on the guardgen compared).
	body, err := os.ReadFile(dump)
	if err != nil {
		return fmt.Errorf("the upstream did not record guardgen's request: %w", err)
	}
	up, url, err := startUpstream(ctx, s, 0, "")
	if err != nil {
		return err
	}
	defer up.stop()
	fmt.Fprintf(os.Stderr, "bench: %-10s direct HTTP to the upstream, open, %d rps, %s ...\n", "openai-0ms", s.rps, s.duration)
	_, _ = directHTTP(ctx, url, body, s.rps, s.warmup) // warm-up
	before := up.usage()
	self0, busy0, wall0 := selfCPU(), busyCPU(), time.Now()
	rw, err := directHTTP(ctx, url, body, s.rps, s.duration)
	if err != nil {
		return err
	}
	after := up.usage()
	foreign := (busyCPU() - busy0) - (after.cpu - before.cpu) - (selfCPU() - self0)
	rw.otherCores = max(0, foreign.Seconds()/time.Since(wall0).Seconds())
	rw.offered = int(float64(s.rps) * s.duration.Seconds())
	if rw.count > 0 {
		rw.cpuPerOp = (after.cpu - before.cpu) / time.Duration(rw.count)
	}
	rw.rssMiB = float64(after.hwmKiB) / 1024
	r.direct = &rw
	r.rows = append(r.rows, rw)
	return nil
}

func runOpenAISlow(ctx context.Context, s *settings, r *report) error {
	newT := func() (*target, error) {
		return startGuardgenTarget(ctx, s, "openai", s.slowDelay, s.inflight+1000, "")
	}
	scen := "openai-" + s.slowDelay.String()
	warm := func(l load) load {
		if s.quick {
			return load{}
		}
		// One round of a few hundred calls opens the connections.
		return load{closed: true, conc: 200, conns: l.conns, total: 200}
	}
	// -n, not -z: every request sent is counted, none is cut off at the end.
	rounds := 2
	if s.quick {
		rounds = 1
	}
	inflight := load{closed: true, conc: s.inflight, conns: s.inflightConns, total: rounds * s.inflight}
	if err := each(ctx, s, r, scen, newT, []load{inflight}, warm); err != nil {
		return err
	}
	r.inflight = len(r.rows) - 1
	if s.inflightMax > 0 {
		newMax := func() (*target, error) {
			return startGuardgenTarget(ctx, s, "openai", s.slowDelay, s.inflightMax+1000, "")
		}
		most := load{closed: true, conc: s.inflightMax, conns: 2 * s.inflightConns, total: rounds * s.inflightMax}
		if err := each(ctx, s, r, scen, newMax, []load{most}, warm); err != nil {
			return err
		}
		r.inflightMax = len(r.rows) - 1
	}
	if err := each(ctx, s, r, scen, newT, []load{s.openLoad(s.rps)}, warm); err != nil {
		return err
	}
	if s.holdDelay <= 0 {
		return nil
	}
	held := max(s.inflight, s.inflightMax)
	hold := func() (*target, error) {
		return startGuardgenTarget(ctx, s, "openai", s.holdDelay, held+1000, "")
	}
	wave := load{closed: true, conc: held, conns: 2 * s.inflightConns, total: held}
	if err := each(ctx, s, r, "openai-"+s.holdDelay.String(), hold, []load{wave}, func(load) load { return load{} }); err != nil {
		return err
	}
	r.hold = len(r.rows) - 1
	return nil
}

func runOverload(ctx context.Context, s *settings, r *report) error {
	if s.legacyGuardgen {
		r.notes = append(r.notes, "overload: skipped, this guardgen binary has no --config, so server.max_in_flight cannot be set")
		return nil
	}
	L := s.overloadLimit
	newT := func() (*target, error) { return startGuardgenTarget(ctx, s, "openai", s.slowDelay, L, "") }
	perSec := float64(L) / s.slowDelay.Seconds() // rate that keeps L in flight
	ref := s.openLoad(int(0.8 * perSec))
	over := s.openLoad(int(2 * perSec))
	dur := max(s.duration, 2*s.slowDelay)
	if s.quick {
		dur = max(s.duration, s.slowDelay*3/2)
	}
	ref.duration, over.duration = dur, dur
	warm := func(load) load {
		if s.quick {
			return load{}
		}
		return load{closed: true, conc: min(L/2, 100), conns: s.openConns, total: min(L/2, 100)}
	}
	n := len(r.rows)
	if err := each(ctx, s, r, "overload", newT, []load{ref, over}, warm); err != nil {
		return err
	}
	r.overRef, r.over = n, n+1
	r.rows[n].note = fmt.Sprintf("max_in_flight=%d, offered ≈ %d in flight", L, int(0.8*float64(L)))
	r.rows[n+1].note = fmt.Sprintf("max_in_flight=%d, offered ≈ %d in flight", L, 2*L)
	return nil
}

// directHTTP sends body to the upstream's chat completions endpoint at a
// fixed rate (open loop: one goroutine per request, started on schedule)
// and times each request from send to fully read response.
func directHTTP(ctx context.Context, baseURL string, body []byte, rps int, d time.Duration) (row, error) {
	tr := &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	url := baseURL + "/chat/completions"
	interval := time.Second / time.Duration(rps)
	var (
		mu   sync.Mutex
		lat  []time.Duration
		errs = map[string]int{}
		wg   sync.WaitGroup
	)
	begin := time.Now()
	for i := 0; ; i++ {
		at := begin.Add(time.Duration(i) * interval)
		if at.Sub(begin) >= d {
			break
		}
		if w := time.Until(at); w > 0 {
			select {
			case <-time.After(w):
			case <-ctx.Done():
				return row{}, ctx.Err()
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer sk-bench")
			resp, err := client.Do(req)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("HTTP %d", resp.StatusCode)
				}
			}
			el := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				var ne net.Error
				k := "error"
				if errors.As(err, &ne) && ne.Timeout() {
					k = "timeout"
				} else if strings.HasPrefix(err.Error(), "HTTP ") {
					k = err.Error()
				}
				errs[k]++
				return
			}
			lat = append(lat, el)
		}()
	}
	wg.Wait()
	total := time.Since(begin)
	rw := row{scenario: "openai-0ms", what: fmt.Sprintf("direct HTTP to upstream, open, %d rps", rps), errors: errs, byStatus: map[string]stats{}}
	rw.count = len(lat)
	for _, c := range errs {
		rw.count += c
	}
	rw.ok = summarize(lat)
	rw.okRPS = float64(len(lat)) / total.Seconds()
	rw.load = load{rps: rps, duration: d}
	return rw, nil
}

// ---------------------------------------------------------------- report

type report struct {
	s           *settings
	rows        []row
	direct      *row // not in rows' backing array: set once
	inflight    int  // indexes into rows; -1 when not run
	inflightMax int
	hold        int
	overRef     int
	over        int
	notes       []string
	elapsed     time.Duration
	load0       string
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func ms(d time.Duration) string {
	switch {
	case d == 0:
		return "–"
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f", float64(d)/1e6)
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1f", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.2f", float64(d)/1e6)
	}
}

func errString(m map[string]int) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func (r *report) find(scenario string, closed bool) *row {
	for i := range r.rows {
		rw := &r.rows[i]
		if rw.scenario == scenario && rw.tag == "" && rw.what == "" && rw.load.closed == closed {
			return rw
		}
	}
	return nil
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "unknown"
}

func (r *report) markdown() string {
	s := r.s
	var b strings.Builder
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	fmt.Fprintf(&b, "# guardgen load benchmark\n\n")
	fmt.Fprintf(&b, "- command: `%s`\n", strings.TrimSpace(s.cmdline))
	fmt.Fprintf(&b, "- date: %s; wall time %s; load average at start %s, at end %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), r.elapsed.Round(time.Second), r.load0, loadavg())
	fmt.Fprintf(&b, "- machine: %d × %s, Linux %s, %s; load generator and servers share these CPUs\n", runtime.NumCPU(), cpuModel(), strings.TrimSpace(string(kernel)), runtime.Version())
	fmt.Fprintf(&b, "- guardgen: %s", orDash(s.guardgenRev))
	if s.legacyGuardgen {
		b.WriteString(" (no --config: flags and environment, no in-flight limit)")
	}
	fmt.Fprintf(&b, "; ghz %s\n", orDash(s.ghzVersion))
	fmt.Fprintf(&b, "- runs: %s each after a %s warm-up, fresh server processes per run; closed loop c=%d over %d connections; open loop %d rps (`--rps --async`)\n\n",
		s.duration, s.warmup, s.conc, s.conns, s.rps)

	base := r.find("baseline", true)
	baseOpen := r.find("baseline", false)
	b.WriteString("Latencies in ms, of OK responses, measured by the client (ghz, or the Go HTTP loop for the direct row). ")
	b.WriteString("Server CPU is the server process's user+system time over the run divided by requests; CPU vs baseline divides it by the bare grpc-go server's under the same kind of load (closed or open loop), the figure that stays put on a shared machine. ")
	b.WriteString("vs baseline: closed loop = RPS ratio; open loop = p99 ratio. ")
	b.WriteString("Requests \"x of y\": an open-loop run that sent fewer than rate × duration could not keep the rate. ")
	b.WriteString("Other load: CPU used during the run by processes outside the benchmark (the machine is shared); above ~0.2 cores the run's numbers are disturbed.")
	if s.before != "" {
		fmt.Fprintf(&b, " Rows marked (before) are guardgen %s, each run just before the same run of the guardgen under test.", orDash(s.beforeRev))
	}
	b.WriteString("\n\n")
	b.WriteString("| scenario | load | requests | RPS (OK) | p50 | p90 | p99 | p99.9 | errors | server CPU/req | CPU vs baseline | server peak RSS | vs baseline | other load |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n")
	for _, rw := range r.rows {
		desc := rw.what
		if desc == "" {
			desc = rw.load.String()
		}
		if rw.note != "" {
			desc += "; " + rw.note
		}
		vs := "–"
		switch {
		case rw.scenario == "baseline":
			vs = "1"
		case rw.what == "" && rw.load.closed && rw.load.conc == s.conc && base != nil && base.okRPS > 0:
			vs = fmt.Sprintf("%.2f× RPS", rw.okRPS/base.okRPS)
		case rw.what == "" && !rw.load.closed && rw.load.rps == s.rps && baseOpen != nil && baseOpen.ok.p99 > 0:
			vs = fmt.Sprintf("%.1f× p99", float64(rw.ok.p99)/float64(baseOpen.ok.p99))
		}
		cpu, cpuVs := "–", "–"
		if rw.cpuPerOp > 0 {
			cpu = fmt.Sprintf("%d µs", rw.cpuPerOp.Microseconds())
			if ref := base; rw.what == "" && ref != nil && ref.cpuPerOp > 0 {
				if !rw.load.closed {
					ref = baseOpen
				}
				if ref != nil && ref.cpuPerOp > 0 {
					cpuVs = fmt.Sprintf("%.2f×", float64(rw.cpuPerOp)/float64(ref.cpuPerOp))
				}
			}
		}
		server := ""
		if rw.what != "" {
			server = " (upstream)"
		}
		count := strconv.Itoa(rw.count)
		if rw.offered > 0 {
			count = fmt.Sprintf("%d of %d", rw.count, rw.offered)
		}
		if rw.ggPeak > 0 {
			desc += fmt.Sprintf("; guardgen peak %d in flight", rw.ggPeak)
		}
		if rw.upPeak > 0 {
			desc += fmt.Sprintf("; upstream peak %d", rw.upPeak)
		}
		name := rw.scenario
		if rw.tag != "" {
			name += " (" + rw.tag + ")"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.0f | %s | %s | %s | %s | %s | %s%s | %s | %.0f MiB%s | %s | %.1f cores |\n",
			name, desc, count, rw.okRPS, ms(rw.ok.p50), ms(rw.ok.p90), ms(rw.ok.p99), ms(rw.ok.p999),
			errString(rw.errors), cpu, server, cpuVs, rw.rssMiB, server, vs, rw.otherCores)
	}

	b.WriteString("\n## Targets (goals, not assertions)\n\n")
	b.WriteString("| target | measured | goal | status |\n| --- | --- | --- | --- |\n")
	syn := r.find("synthetic", true)
	if base != nil && syn != nil && base.okRPS > 0 && base.cpuPerOp > 0 {
		cpuRatio := float64(syn.cpuPerOp) / float64(base.cpuPerOp)
		fmt.Fprintf(&b, "| synthetic server CPU/req vs bare grpc-go (closed loop) | %d µs / %d µs = %.2f× | ≤ 2.0× | %s |\n",
			syn.cpuPerOp.Microseconds(), base.cpuPerOp.Microseconds(), cpuRatio, verdict(cpuRatio <= 2.0)+disturbed(base, syn))
		ratio := syn.okRPS / base.okRPS
		fmt.Fprintf(&b, "| synthetic max RPS vs bare grpc-go | %.0f / %.0f = %.2f× | ≥ 0.70× | %s |\n",
			syn.okRPS, base.okRPS, ratio, verdict(ratio >= 0.7)+disturbed(base, syn))
	}
	if oc := r.find("openai-0ms", true); oc != nil && oc.cpuPerOp > 0 {
		fmt.Fprintf(&b, "| OpenAI provider at 0 ms: server CPU/req (closed loop) | %d µs | ≤ 150 µs | %s |\n",
			oc.cpuPerOp.Microseconds(), verdict(oc.cpuPerOp <= 150*time.Microsecond && oc.errCount() == 0)+disturbed(oc))
	}
	oa := r.find("openai-0ms", false)
	if oa != nil && r.direct != nil {
		added, added50 := oa.ok.p99-r.direct.ok.p99, oa.ok.p50-r.direct.ok.p50
		fmt.Fprintf(&b, "| added p99 at 0 ms, %d rps open loop | %s − %s = %s ms | ≤ 2 ms at 1,000 rps | %s |\n",
			s.rps, ms(oa.ok.p99), ms(r.direct.ok.p99), ms(added),
			verdict(added <= 2*time.Millisecond && s.rps >= 1000 && oa.errCount() == 0)+disturbed(oa, r.direct))
		fmt.Fprintf(&b, "| added p50 at 0 ms, %d rps open loop | %s − %s = %s ms | ≤ 0.3 ms at 1,000 rps | %s |\n",
			s.rps, ms(oa.ok.p50), ms(r.direct.ok.p50), ms(added50),
			verdict(added50 <= 300*time.Microsecond && s.rps >= 1000 && oa.errCount() == 0)+disturbed(oa, r.direct))
	}
	inflightRow := func(in *row, n int, goal string, ok bool) {
		held := fmt.Sprintf("upstream held at most %d at once", in.upPeak)
		if in.ggPeak > 0 {
			held = fmt.Sprintf("guardgen's in-flight gauge peaked at %d, the upstream's at %d", in.ggPeak, in.upPeak)
		}
		fmt.Fprintf(&b, "| %d in flight, %s provider | %d requests, errors: %s; guardgen peak RSS %.0f MiB; p50 %s ms; %s | %s | %s |\n",
			n, s.slowDelay, in.count, errString(in.errors), in.rssMiB, ms(in.ok.p50), held, goal, verdict(ok)+disturbed(in))
	}
	reached := func(in *row, n int) bool { return max(in.ggPeak, in.upPeak) >= n*9/10 }
	if r.inflightMax >= 0 {
		in := &r.rows[r.inflightMax]
		inflightRow(in, s.inflightMax, "zero errors, RSS ≤ 512 MiB",
			in.errCount() == 0 && in.count == in.load.total && in.rssMiB <= 512 && reached(in, s.inflightMax))
	}
	if r.inflight >= 0 {
		in := &r.rows[r.inflight]
		inflightRow(in, s.inflight, fmt.Sprintf("zero errors, p50 ≤ %s ms", ms(s.slowDelay*11/10)),
			in.errCount() == 0 && in.count == in.load.total && in.ok.p50 <= s.slowDelay*11/10 && reached(in, s.inflight))
	}
	if r.hold >= 0 {
		h := &r.rows[r.hold]
		n := h.load.total
		fmt.Fprintf(&b, "| %d held at once (%s provider, one wave) | %d requests, errors: %s; guardgen peak RSS %.0f MiB; in-flight gauge peak %d, upstream peak %d | zero errors, RSS ≤ 512 MiB | %s |\n",
			n, s.holdDelay, h.count, errString(h.errors), h.rssMiB, h.ggPeak, h.upPeak,
			verdict(h.errCount() == 0 && h.count == h.load.total && h.rssMiB <= 512 && reached(h, n))+disturbed(h))
	}
	if r.over >= 0 && r.overRef >= 0 {
		over, ref := &r.rows[r.over], &r.rows[r.overRef]
		re := over.byStatus["ResourceExhausted"]
		others := 0
		for k, v := range over.errors {
			if k != "ResourceExhausted" {
				others += v
			}
		}
		rejOK := re.n > 0 && re.p99 <= 5*time.Millisecond && others == 0
		keep := over.ok.p99 <= ref.ok.p99+ref.ok.p99/10
		fmt.Fprintf(&b, "| overload: excess shed fast (issue 5) | %d RESOURCE_EXHAUSTED, their p50 %s / p99 %s / max %s ms; other errors %d | p99 ≤ 5 ms | %s |\n",
			re.n, ms(re.p50), ms(re.p99), ms(re.max), others, verdict(rejOK)+disturbed(over))
		fmt.Fprintf(&b, "| overload: admitted keep latency (issue 5) | admitted p50/p99 %s/%s ms at 2× vs %s/%s ms at 0.8× the limit | p99 within +10 %% | %s |\n",
			ms(over.ok.p50), ms(over.ok.p99), ms(ref.ok.p50), ms(ref.ok.p99), verdict(keep)+disturbed(over, ref))
	}
	r.comparison(&b)

	b.WriteString("\n## How to read this\n\n")
	fmt.Fprintf(&b, "- Added latency (c) = p99 of guardgen via the OpenAI provider (ghz → gRPC → guardgen → HTTP → upstream) minus p99 of the same upstream called directly over HTTP by a Go open-loop client at the same rate, replaying the exact chat-completion body guardgen sent. It includes the gRPC hop and ghz's client cost; the baseline open-loop row shows that hop alone. Differences of percentiles are not percentiles of differences: this is an estimate.\n")
	b.WriteString("- The upstream is package openaitest (bench/upstream), a test server that records every request in memory; its RSS is not guardgen's.\n")
	b.WriteString("- On a small machine ghz competes with the server for CPU, so max RPS understates every server alike; server CPU/req is the load-generator-independent cost.\n")
	for _, n := range r.notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	return b.String()
}

// comparison writes the after/before table of a --before run: every run of
// the guardgen under test next to the same run of the one compared with.
func (r *report) comparison(b *strings.Builder) {
	if r.s.before == "" {
		return
	}
	fmt.Fprintf(b, "\n## Before and after\n\nbefore: guardgen %s; after: guardgen %s. Ratios are after ÷ before (below 1 is less CPU, memory or latency; above 1 is more throughput).\n\n",
		orDash(r.s.beforeRev), orDash(r.s.guardgenRev))
	b.WriteString("| scenario | load | server CPU/req before → after | CPU ratio | RPS (OK) ratio | p50 before → after ms | p99 before → after ms | peak RSS before → after MiB | errors before / after |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
	used := map[int]bool{}
	for _, after := range r.rows {
		if after.tag != "" || after.scenario == "baseline" || after.what != "" {
			continue
		}
		for j, before := range r.rows {
			if used[j] || before.tag != "before" || before.scenario != after.scenario || before.load != after.load {
				continue
			}
			used[j] = true
			ratio := func(a, b float64) string {
				if b <= 0 {
					return "–"
				}
				return fmt.Sprintf("%.2f×", a/b)
			}
			fmt.Fprintf(b, "| %s | %s | %d → %d µs | %s | %s | %s → %s | %s → %s | %.0f → %.0f | %s / %s |\n",
				after.scenario, after.load, before.cpuPerOp.Microseconds(), after.cpuPerOp.Microseconds(),
				ratio(float64(after.cpuPerOp), float64(before.cpuPerOp)), ratio(after.okRPS, before.okRPS),
				ms(before.ok.p50), ms(after.ok.p50), ms(before.ok.p99), ms(after.ok.p99), before.rssMiB, after.rssMiB,
				errString(before.errors), errString(after.errors))
			break
		}
	}
}

// disturbed marks a verdict taken while other processes used the CPUs.
func disturbed(rows ...*row) string {
	worst := 0.0
	for _, r := range rows {
		if r != nil {
			worst = max(worst, r.otherCores)
		}
	}
	if worst > 0.25 {
		return fmt.Sprintf(" (disturbed: up to %.1f cores of other load)", worst)
	}
	return ""
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
