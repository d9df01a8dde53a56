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
//	bare-proxy bench/baseline --upstream: the same, forwarding one fixed chat
//	           completion request per call to bench/upstream through
//	           net/http, at 0 ms and with --inflight callers at 1 s: the
//	           floor of any gRPC-to-HTTP proxy on the machine
//	synthetic  guardgen, built-in synthetic provider
//	openai-0ms guardgen → OpenAI provider → bench/upstream (openaitest), no delay,
//	           plus the upstream measured directly over HTTP at the same rate
//	openai-tls the same over HTTPS (HTTP/2), closed loop, with the bare proxy
//	           over HTTPS beside it
//	openai-1s  the same with a 1 s upstream delay; closed loop at --inflight
//	           and at --inflight-max
//	overload   openai-1s with server.max_in_flight=L, offered 0.8·L and 2·L in flight
//
// With --before BIN (bench/run.sh --compare REV) every guardgen run is made
// twice, with BIN and then with the guardgen under test, in the same
// invocation, and the report ends with the after/before ratios.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
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
	// rounds is how many before/after pairs each guardgen scenario runs
	// with --before.
	rounds int
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

// parseSettings reads the flags; --quick shortens what the flags given
// leave at their defaults.
func parseSettings(args []string) (*settings, error) {
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
	fs.StringVar(&only, "only", "", "comma-separated scenarios to run (baseline,bare-proxy,synthetic,openai-0ms,openai-tls,openai-1s,overload); default all")
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
	fs.IntVar(&s.rounds, "rounds", 1, "with --before: run each guardgen scenario this many times, before and after alternating, and report every pair and the median ratios (one run moves ±20 % between invocations; the median of alternated pairs much less)")
	if err := fs.Parse(args); err != nil {
		return nil, err
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
	switch {
	case s.rounds < 1 || s.rounds > 20:
		return nil, fmt.Errorf("--rounds %d: want 1 to 20", s.rounds)
	case s.rounds > 1 && s.before == "":
		return nil, errors.New("--rounds needs --before (bench/run.sh --compare REV)")
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
	return &s, nil
}

// isLegacy reports a guardgen binary without --config.
func isLegacy(bin string) bool {
	help, _ := exec.Command(bin, "--help").CombinedOutput()
	return !bytes.Contains(help, []byte("-config"))
}

func run(ctx context.Context) error {
	s, err := parseSettings(os.Args[1:])
	if err != nil {
		return err
	}
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
	r := &report{s: s, inflight: -1, inflightMax: -1, hold: -1, overRef: -1, over: -1, proxy: -1, proxyOpen: -1, proxyInflight: -1, proxyTLS: -1, load0: loadavg()}
	steps := []struct {
		name string
		fn   func(context.Context, *settings, *report) error
	}{
		{"baseline", runBaseline},
		{"bare-proxy", runBareProxy},
		{"synthetic", runSynthetic},
		{"openai-0ms", runOpenAIFast},
		{"openai-tls", runOpenAITLS},
		{"openai-1s", runOpenAISlow},
		{"overload", runOverload},
	}
	for _, st := range steps {
		if s.only != nil && !s.only[st.name] {
			continue
		}
		if s.before == "" || st.name == "baseline" || st.name == "bare-proxy" {
			if err := st.fn(ctx, s, r); err != nil {
				return fmt.Errorf("%s: %w", st.name, err)
			}
			continue
		}
		// Each scenario runs with the revision compared with next to the
		// same one under test, so both see the same machine; with
		// --rounds the order alternates (before first in the odd rounds)
		// so that a drifting machine favours neither.
		before := func(round int) error {
			sb := *s
			sb.guardgen, sb.legacyGuardgen, sb.tag = s.before, isLegacy(s.before), "before"
			saved := *r
			if err := st.fn(ctx, &sb, r); err != nil {
				return fmt.Errorf("%s (before, round %d): %w", st.name, round+1, err)
			}
			// The targets are judged on the guardgen under test alone.
			r.inflight, r.inflightMax, r.hold, r.overRef, r.over, r.direct = saved.inflight, saved.inflightMax, saved.hold, saved.overRef, saved.over, saved.direct
			return nil
		}
		after := func(round int) error {
			if err := st.fn(ctx, s, r); err != nil {
				return fmt.Errorf("%s (round %d): %w", st.name, round+1, err)
			}
			return nil
		}
		for round := range s.rounds {
			first, second := before, after
			if round%2 == 1 {
				first, second = after, before
			}
			if err := first(round); err != nil {
				return err
			}
			if err := second(round); err != nil {
				return err
			}
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
