package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

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
	// restPerOp is the CPU per request of everything else the run needs:
	// ghz and the target's other processes (the upstream). With cpuPerOp
	// it bounds what the machine can serve (see cpuFloor).
	restPerOp time.Duration
	rssMiB    float64
	note      string
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
		rest := ghzCPUTime + (ours1 - ours0) - (after.cpu - before.cpu)
		rw.restPerOp = max(0, rest) / time.Duration(res.Count)
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
