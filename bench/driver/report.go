package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

type report struct {
	s        *settings
	rows     []row
	direct   *row // not in rows' backing array: set once
	inflight int  // indexes into rows; -1 when not run
	hold     int
	overRef  int
	over     int
	notes    []string
	elapsed  time.Duration
	load0    string
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
		if rw.scenario == scenario && rw.what == "" && rw.load.closed == closed {
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

// markdown is the report: how it was measured, the table of runs, the
// goals and how to read them.
func (r *report) markdown() string {
	var b strings.Builder
	r.writeHeader(&b)
	r.writeRuns(&b)
	r.writeTargets(&b)
	r.writeReading(&b)
	return b.String()
}

// writeHeader says what ran, where and when.
func (r *report) writeHeader(b *strings.Builder) {
	s := r.s
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	fmt.Fprintf(b, "# guardgen load benchmark\n\n")
	fmt.Fprintf(b, "- command: `%s`\n", strings.TrimSpace(s.cmdline))
	fmt.Fprintf(b, "- date: %s; wall time %s; load average at start %s, at end %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), r.elapsed.Round(time.Second), r.load0, loadavg())
	fmt.Fprintf(b, "- machine: %d × %s, Linux %s, %s; load generator and servers share these CPUs\n", runtime.NumCPU(), cpuModel(), strings.TrimSpace(string(kernel)), runtime.Version())
	fmt.Fprintf(b, "- guardgen: %s", orDash(s.guardgenRev))
	if s.legacyGuardgen {
		b.WriteString(" (no --config: flags and environment, no in-flight limit)")
	}
	fmt.Fprintf(b, "; ghz %s\n", orDash(s.ghzVersion))
	fmt.Fprintf(b, "- runs: %s each after a %s warm-up, fresh server processes per run; closed loop c=%d over %d connections; open loop %d rps (`--rps --async`)\n\n",
		s.duration, s.warmup, s.conc, s.conns, s.rps)
}

// writeRuns writes the table of measured runs, each against the baseline.
func (r *report) writeRuns(b *strings.Builder) {
	s := r.s
	base := r.find("baseline", true)
	baseOpen := r.find("baseline", false)
	b.WriteString("Latencies in ms, of OK responses, measured by the client (ghz, or the Go HTTP loop for the direct row). ")
	b.WriteString("Server CPU is the server process's user+system time over the run divided by requests. ")
	b.WriteString("vs baseline: closed loop = RPS ratio; open loop = p99 ratio. ")
	b.WriteString("Requests \"x of y\": an open-loop run that sent fewer than rate × duration could not keep the rate. ")
	b.WriteString("Other load: CPU used during the run by processes outside the benchmark (the machine is shared); above ~0.2 cores the run's numbers are disturbed.\n\n")
	b.WriteString("| scenario | load | requests | RPS (OK) | p50 | p90 | p99 | p99.9 | errors | server CPU/req | server peak RSS | vs baseline | other load |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |\n")
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
		cpu := "–"
		if rw.cpuPerOp > 0 {
			cpu = fmt.Sprintf("%d µs", rw.cpuPerOp.Microseconds())
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
		fmt.Fprintf(b, "| %s | %s | %s | %.0f | %s | %s | %s | %s | %s | %s%s | %.0f MiB%s | %s | %.1f cores |\n",
			rw.scenario, desc, count, rw.okRPS, ms(rw.ok.p50), ms(rw.ok.p90), ms(rw.ok.p99), ms(rw.ok.p999),
			errString(rw.errors), cpu, server, rw.rssMiB, server, vs, rw.otherCores)
	}
}

// writeTargets checks the runs against the performance goals; a miss is
// reported, never a failure.
func (r *report) writeTargets(b *strings.Builder) {
	s := r.s
	base := r.find("baseline", true)
	b.WriteString("\n## Targets (goals, not assertions)\n\n")
	b.WriteString("| target | measured | goal | status |\n| --- | --- | --- | --- |\n")
	syn := r.find("synthetic", true)
	if base != nil && syn != nil && base.okRPS > 0 {
		ratio := syn.okRPS / base.okRPS
		fmt.Fprintf(b, "| (b) synthetic max RPS vs baseline | %.0f / %.0f = %.0f %% (server CPU/req %d µs vs %d µs = %.1f×) | ≥ 50 %% | %s |\n",
			syn.okRPS, base.okRPS, 100*ratio, syn.cpuPerOp.Microseconds(), base.cpuPerOp.Microseconds(),
			float64(syn.cpuPerOp)/float64(max(base.cpuPerOp, 1)), verdict(ratio >= 0.5)+disturbed(base, syn))
	}
	oa := r.find("openai-0ms", false)
	if oa != nil && r.direct != nil {
		added := oa.ok.p99 - r.direct.ok.p99
		fmt.Fprintf(b, "| (c) added p99 at 0 ms, %d rps open loop | %s − %s = %s ms (p50: %s − %s = %s ms) | ≤ 1 ms at 1,000 rps | %s |\n",
			s.rps, ms(oa.ok.p99), ms(r.direct.ok.p99), ms(added), ms(oa.ok.p50), ms(r.direct.ok.p50), ms(oa.ok.p50-r.direct.ok.p50),
			verdict(added <= time.Millisecond && s.rps >= 1000 && oa.errCount() == 0)+disturbed(oa, r.direct))
	}
	if r.inflight >= 0 {
		in := &r.rows[r.inflight]
		held := fmt.Sprintf("upstream held at most %d at once", in.upPeak)
		reached := in.upPeak >= s.inflight*9/10
		if in.ggPeak > 0 {
			held = fmt.Sprintf("guardgen's in-flight gauge peaked at %d, the upstream's at %d", in.ggPeak, in.upPeak)
			reached = in.ggPeak >= s.inflight*9/10
		}
		fmt.Fprintf(b, "| %d in flight, %s provider | %d requests, errors: %s; guardgen peak RSS %.0f MiB; %s | zero errors, RSS ≤ 1 GiB | %s |\n",
			s.inflight, s.slowDelay, in.count, errString(in.errors), in.rssMiB, held,
			verdict(in.errCount() == 0 && in.count == in.load.total && in.rssMiB <= 1024 && reached)+disturbed(in))
		if r.hold >= 0 {
			h := &r.rows[r.hold]
			fmt.Fprintf(b, "| %d held at once (%s provider, one wave) | %d requests, errors: %s; guardgen peak RSS %.0f MiB; in-flight gauge peak %d, upstream peak %d | zero errors, RSS ≤ 1 GiB | %s |\n",
				s.inflight, s.holdDelay, h.count, errString(h.errors), h.rssMiB, h.ggPeak, h.upPeak,
				verdict(h.errCount() == 0 && h.count == h.load.total && h.rssMiB <= 1024 && max(h.ggPeak, h.upPeak) >= s.inflight*9/10)+disturbed(h))
		}
		if in.ok.p50 > s.slowDelay*3/2 {
			fmt.Fprintf(b, "| (not a target) latency at %d in flight | p50 %s ms for a %s provider: guardgen is CPU-bound here | – | – |\n", s.inflight, ms(in.ok.p50), s.slowDelay)
		}
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
		fmt.Fprintf(b, "| overload: excess shed fast (issue 5) | %d RESOURCE_EXHAUSTED, their p50 %s / p99 %s / max %s ms; other errors %d | p99 ≤ 5 ms | %s |\n",
			re.n, ms(re.p50), ms(re.p99), ms(re.max), others, verdict(rejOK)+disturbed(over))
		fmt.Fprintf(b, "| overload: admitted keep latency (issue 5) | admitted p50/p99 %s/%s ms at 2× vs %s/%s ms at 0.8× the limit | p99 within +10 %% | %s |\n",
			ms(over.ok.p50), ms(over.ok.p99), ms(ref.ok.p50), ms(ref.ok.p99), verdict(keep)+disturbed(over, ref))
	}
}

// writeReading explains how the numbers were taken.
func (r *report) writeReading(b *strings.Builder) {
	b.WriteString("\n## How to read this\n\n")
	fmt.Fprintf(b, "- Added latency (c) = p99 of guardgen via the OpenAI provider (ghz → gRPC → guardgen → HTTP → upstream) minus p99 of the same upstream called directly over HTTP by a Go open-loop client at the same rate, replaying the exact chat-completion body guardgen sent. It includes the gRPC hop and ghz's client cost; the baseline open-loop row shows that hop alone. Differences of percentiles are not percentiles of differences: this is an estimate.\n")
	b.WriteString("- The upstream is package openaitest (bench/upstream), a test server that records every request in memory; its RSS is not guardgen's.\n")
	b.WriteString("- On a small machine ghz competes with the server for CPU, so max RPS understates every server alike; server CPU/req is the load-generator-independent cost.\n")
	for _, n := range r.notes {
		fmt.Fprintf(b, "- %s\n", n)
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
