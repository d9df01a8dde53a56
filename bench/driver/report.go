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
	s      *settings
	rows   []row
	direct *row // not in rows' backing array: set once
	// Indexes into rows; -1 when not run.
	inflight    int
	inflightMax int
	hold        int
	overRef     int
	over        int
	// The bare proxy's runs (bench/baseline --upstream): closed and open
	// loop at 0 ms, and --inflight callers of the slow upstream.
	proxy, proxyOpen, proxyInflight int
	// The bare proxy's closed-loop run against an HTTPS upstream.
	proxyTLS int
	notes    []string
	elapsed  time.Duration
	load0    string
}

// at is rows[i], or nil for a run that did not happen (-1).
func (r *report) at(i int) *row {
	if i < 0 || i >= len(r.rows) {
		return nil
	}
	return &r.rows[i]
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
	// The last: with --rounds, the run the targets' other figures (peaks
	// in flight, the direct run) were recorded with.
	for i := len(r.rows) - 1; i >= 0; i-- {
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

// markdown is the report: how it was measured, the table of runs, the
// goals and how to read them.
func (r *report) markdown() string {
	var b strings.Builder
	r.writeHeader(&b)
	r.writeRuns(&b)
	r.writeTargets(&b)
	r.comparison(&b)
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
	b.WriteString("Server CPU is the server process's user+system time over the run divided by requests; CPU vs baseline divides it by the bare grpc-go server's under the same kind of load (closed or open loop), the figure that stays put on a shared machine. ")
	b.WriteString("vs baseline: closed loop = RPS ratio; open loop = p99 ratio. ")
	b.WriteString("Requests \"x of y\": an open-loop run that sent fewer than rate × duration could not keep the rate. ")
	b.WriteString("Other load: CPU used during the run by processes outside the benchmark (the machine is shared); above ~0.2 cores the run's numbers are disturbed.")
	if s.before != "" {
		if s.rounds > 1 {
			fmt.Fprintf(b, " Rows marked (before) are guardgen %s, each run next to the same run of the guardgen under test (%d rounds; before first in the odd rounds, second in the even ones).", orDash(s.beforeRev), s.rounds)
		} else {
			fmt.Fprintf(b, " Rows marked (before) are guardgen %s, each run just before the same run of the guardgen under test.", orDash(s.beforeRev))
		}
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
		fmt.Fprintf(b, "| %s | %s | %s | %.0f | %s | %s | %s | %s | %s | %s%s | %s | %.0f MiB%s | %s | %.1f cores |\n",
			name, desc, count, rw.okRPS, ms(rw.ok.p50), ms(rw.ok.p90), ms(rw.ok.p99), ms(rw.ok.p999),
			errString(rw.errors), cpu, server, cpuVs, rw.rssMiB, server, vs, rw.otherCores)
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
	if base != nil && syn != nil && base.okRPS > 0 && base.cpuPerOp > 0 {
		cpuRatio := float64(syn.cpuPerOp) / float64(base.cpuPerOp)
		fmt.Fprintf(b, "| synthetic server CPU/req vs bare grpc-go (closed loop) | %d µs / %d µs = %.2f× | ≤ 2.0× | %s |\n",
			syn.cpuPerOp.Microseconds(), base.cpuPerOp.Microseconds(), cpuRatio, verdict(cpuRatio <= 2.0)+disturbed(base, syn))
		ratio := syn.okRPS / base.okRPS
		fmt.Fprintf(b, "| synthetic max RPS vs bare grpc-go | %.0f / %.0f = %.2f× | ≥ 0.70× | %s |\n",
			syn.okRPS, base.okRPS, ratio, verdict(ratio >= 0.7)+disturbed(base, syn))
	}
	if oc := r.find("openai-0ms", true); oc != nil && oc.cpuPerOp > 0 {
		fmt.Fprintf(b, "| OpenAI provider at 0 ms: server CPU/req (closed loop) | %d µs%s | ≤ 150 µs | %s |\n",
			oc.cpuPerOp.Microseconds(), proxyFloor(r.at(r.proxy), oc.cpuPerOp),
			verdict(oc.cpuPerOp <= 150*time.Microsecond && oc.errCount() == 0)+disturbed(oc))
	}
	if ot := r.find("openai-tls-0ms", true); ot != nil && ot.cpuPerOp > 0 {
		fmt.Fprintf(b, "| OpenAI provider at 0 ms over HTTPS (HTTP/2): server CPU/req (closed loop) | %d µs%s | none: the goal above is for cleartext HTTP | – |\n",
			ot.cpuPerOp.Microseconds(), proxyFloor(r.at(r.proxyTLS), ot.cpuPerOp))
	}
	oa := r.find("openai-0ms", false)
	if oa != nil && r.direct != nil {
		// What the bare proxy adds at the same rate is the floor on this
		// machine; the bare server's own open-loop latency is what ghz
		// and one gRPC hop take, which the added latency includes.
		var hop99, hop50 []string
		if po := r.at(r.proxyOpen); po != nil {
			hop99 = append(hop99, fmt.Sprintf("the bare proxy adds %s − %s = %s ms", ms(po.ok.p99), ms(r.direct.ok.p99), ms(po.ok.p99-r.direct.ok.p99)))
			hop50 = append(hop50, fmt.Sprintf("the bare proxy adds %s − %s = %s ms", ms(po.ok.p50), ms(r.direct.ok.p50), ms(po.ok.p50-r.direct.ok.p50)))
		}
		if bo := r.find("baseline", false); bo != nil {
			hop99 = append(hop99, fmt.Sprintf("ghz to a bare grpc-go server alone: %s ms", ms(bo.ok.p99)))
			hop50 = append(hop50, fmt.Sprintf("ghz to a bare grpc-go server alone: %s ms", ms(bo.ok.p50)))
		}
		added, added50 := oa.ok.p99-r.direct.ok.p99, oa.ok.p50-r.direct.ok.p50
		fmt.Fprintf(b, "| added p99 at 0 ms, %d rps open loop | %s − %s = %s ms%s | ≤ 2 ms at 1,000 rps | %s |\n",
			s.rps, ms(oa.ok.p99), ms(r.direct.ok.p99), ms(added), parens(hop99),
			verdict(added <= 2*time.Millisecond && s.rps >= 1000 && oa.errCount() == 0)+disturbed(oa, r.direct))
		fmt.Fprintf(b, "| added p50 at 0 ms, %d rps open loop | %s − %s = %s ms%s | ≤ 0.3 ms at 1,000 rps | %s |\n",
			s.rps, ms(oa.ok.p50), ms(r.direct.ok.p50), ms(added50), parens(hop50),
			verdict(added50 <= 300*time.Microsecond && s.rps >= 1000 && oa.errCount() == 0)+disturbed(oa, r.direct))
	}
	inflightRow := func(in *row, n int, goal string, ok bool) {
		held := fmt.Sprintf("upstream held at most %d at once", in.upPeak)
		if in.ggPeak > 0 {
			held = fmt.Sprintf("guardgen's in-flight gauge peaked at %d, the upstream's at %d", in.ggPeak, in.upPeak)
		}
		fmt.Fprintf(b, "| %d in flight, %s provider | %d requests, errors: %s; guardgen peak RSS %.0f MiB; p50 %s ms; %s%s%s | %s | %s |\n",
			n, s.slowDelay, in.count, errString(in.errors), in.rssMiB, ms(in.ok.p50), held, cpuFloor(in, s.slowDelay), bareProxy(r.at(r.proxyInflight), in), goal, verdict(ok)+disturbed(in))
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
		fmt.Fprintf(b, "| %d held at once (%s provider, one wave) | %d requests, errors: %s; guardgen peak RSS %.0f MiB; in-flight gauge peak %d, upstream peak %d | zero errors, RSS ≤ 512 MiB | %s |\n",
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
		fmt.Fprintf(b, "| overload: excess shed fast (issue 5) | %d RESOURCE_EXHAUSTED, their p50 %s / p99 %s / max %s ms; other errors %d | p99 ≤ 5 ms | %s |\n",
			re.n, ms(re.p50), ms(re.p99), ms(re.max), others, verdict(rejOK)+disturbed(over))
		fmt.Fprintf(b, "| overload: admitted keep latency (issue 5) | admitted p50/p99 %s/%s ms at 2× vs %s/%s ms at 0.8× the limit | p99 within +10 %% | %s |\n",
			ms(over.ok.p50), ms(over.ok.p99), ms(ref.ok.p50), ms(ref.ok.p99), verdict(keep)+disturbed(over, ref))
	}
}

// proxyFloor says what a call through the OpenAI provider would cost with
// nothing of guardgen's own: the bare proxy's CPU per request, closed loop
// against the same upstream on this machine; the rest of got is
// guardgen's.
func proxyFloor(proxy *row, got time.Duration) string {
	if proxy == nil || proxy.cpuPerOp <= 0 {
		return ""
	}
	return fmt.Sprintf(" (the bare proxy %d µs; guardgen's own: %d µs)",
		proxy.cpuPerOp.Microseconds(), (got - proxy.cpuPerOp).Microseconds())
}

// bareProxy gives the bare proxy's run with the same callers of the same
// upstream next to guardgen's in: its p50, peak RSS and CPU per request.
func bareProxy(proxy, in *row) string {
	if proxy == nil || proxy.load.conc != in.load.conc {
		return ""
	}
	return fmt.Sprintf("; the bare proxy with as many callers: p50 %s ms, errors: %s, peak RSS %.0f MiB, CPU per request %d µs",
		ms(proxy.ok.p50), errString(proxy.errors), proxy.rssMiB, proxy.cpuPerOp.Microseconds())
}

// parens joins notes into one parenthesis, or nothing for none.
func parens(notes []string) string {
	if len(notes) == 0 {
		return ""
	}
	return " (" + strings.Join(notes, "; ") + ")"
}

// cpuFloor says what the machine's CPU allows a closed-loop run: each
// request costs guardgen's CPU plus the rest's (ghz, the upstream), so
// the cores serve at most cores/(both) requests a second; c callers of a
// provider that takes d wait about d only when the machine serves c/d
// requests a second (Little's law). The second ceiling leaves guardgen
// out: what the same load generator and upstream allow on their own.
func cpuFloor(in *row, delay time.Duration) string {
	if in.cpuPerOp <= 0 || in.restPerOp <= 0 || !in.load.closed || delay <= 0 {
		return ""
	}
	cores := float64(runtime.NumCPU())
	rate := func(perOp time.Duration) float64 { return cores / perOp.Seconds() }
	return fmt.Sprintf("; CPU per request: guardgen %d µs, ghz and upstream %d µs, so %d cores serve at most %.0f requests/s (%.0f without guardgen), and %d callers wait only %s ms at %.0f requests/s",
		in.cpuPerOp.Microseconds(), in.restPerOp.Microseconds(), runtime.NumCPU(),
		rate(in.cpuPerOp+in.restPerOp), rate(in.restPerOp), in.load.conc, ms(delay), float64(in.load.conc)/delay.Seconds())
}

// writeReading explains how the numbers were taken.
func (r *report) writeReading(b *strings.Builder) {
	b.WriteString("\n## How to read this\n\n")
	fmt.Fprintf(b, "- Added latency (c) = p99 of guardgen via the OpenAI provider (ghz → gRPC → guardgen → HTTP → upstream) minus p99 of the same upstream called directly over HTTP by a Go open-loop client at the same rate, replaying the exact chat-completion body guardgen sent. It includes the gRPC hop and ghz's client cost; the baseline open-loop row shows that hop alone, and the bare-proxy open-loop row what a proxy with nothing of its own adds on this machine. Differences of percentiles are not percentiles of differences: this is an estimate.\n")
	b.WriteString("- The upstream is package openaitest (bench/upstream), a test server that records every request in memory; its RSS is not guardgen's.\n")
	b.WriteString("- On a small machine ghz competes with the server for CPU, so max RPS understates every server alike; server CPU/req is the load-generator-independent cost.\n")
	b.WriteString("- The in-flight targets also give the CPU each request took in guardgen and in the rest of the run (ghz and the upstream), and so the most requests a second the machine's cores could serve. N callers of a provider that takes 1 s wait about 1 s only when the machine serves N requests a second (Little's law); when ghz and the upstream alone cannot, the p50 goal is out of reach on this machine whatever guardgen costs.\n")
	for _, n := range r.notes {
		fmt.Fprintf(b, "- %s\n", n)
	}
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
	var pairs []pair
	for i := range r.rows {
		after := &r.rows[i]
		if after.tag != "" || after.scenario == "baseline" || after.what != "" {
			continue
		}
		for j := range r.rows {
			before := &r.rows[j]
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
			pairs = append(pairs, pair{before, after})
			break
		}
	}
	if r.s.rounds > 1 {
		writeMedians(b, pairs)
	}
}

// pair is one before/after pair of runs of the same scenario and load.
type pair struct{ before, after *row }

// writeMedians writes, for each scenario and load, the ratios of its
// pairs and their medians: the figure to quote from a --rounds run.
func writeMedians(b *strings.Builder, pairs []pair) {
	b.WriteString("\nMedians over the rounds (each pair ran back to back, the before run first in the odd rounds and second in the even ones):\n\n")
	b.WriteString("| scenario | load | CPU ratios | median CPU ratio | median server CPU/req before → after | median RPS ratio |\n")
	b.WriteString("| --- | --- | --- | ---: | ---: | ---: |\n")
	done := map[string]bool{}
	for _, p := range pairs {
		key := p.after.scenario + "\x00" + p.after.load.String()
		if done[key] {
			continue
		}
		done[key] = true
		var cpu, rps, before, after []float64
		var list []string
		for _, q := range pairs {
			if q.after.scenario != p.after.scenario || q.after.load != p.after.load || q.before.cpuPerOp <= 0 {
				continue
			}
			c := float64(q.after.cpuPerOp) / float64(q.before.cpuPerOp)
			cpu = append(cpu, c)
			list = append(list, fmt.Sprintf("%.2f×", c))
			before = append(before, float64(q.before.cpuPerOp.Microseconds()))
			after = append(after, float64(q.after.cpuPerOp.Microseconds()))
			if q.before.okRPS > 0 {
				rps = append(rps, q.after.okRPS/q.before.okRPS)
			}
		}
		if len(cpu) == 0 {
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s | %.2f× | %.0f → %.0f µs | %s |\n", p.after.scenario, p.after.load,
			strings.Join(list, ", "), median(cpu), median(before), median(after), medianRatio(rps))
	}
}

// median is the middle of xs (the mean of the two middle ones for an even
// count); xs is sorted in place.
func median(xs []float64) float64 {
	sort.Float64s(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

func medianRatio(xs []float64) string {
	if len(xs) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", median(xs))
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
