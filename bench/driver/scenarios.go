package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

func runBaseline(ctx context.Context, s *settings, r *report) error {
	return each(ctx, s, r, "baseline", func() (*target, error) { return startBaseline(ctx, s) },
		[]load{s.closedLoad(), s.openLoad(s.rps)}, func(load) load { return s.warmLoad() })
}

// proxyBody is the request the bare proxy posts, embedded in it: the body
// guardgen sends for a TicketClassification.
const proxyBody = "bench/baseline/chat-request.json"

// runBareProxy measures the floor of every guardgen scenario that calls
// an upstream: bench/baseline --upstream, a gRPC server that forwards one
// fixed chat completion request per call through net/http and parses
// nothing. It runs once, like the baseline: it does not depend on the
// guardgen measured.
func runBareProxy(ctx context.Context, s *settings, r *report) error {
	fast := func() (*target, error) { return startBareProxy(ctx, s, upstreamSpec{}) }
	n := len(r.rows)
	if err := each(ctx, s, r, "bare-proxy", fast, []load{s.closedLoad(), s.openLoad(s.rps)}, func(load) load { return s.warmLoad() }); err != nil {
		return err
	}
	r.proxy, r.proxyOpen = n, n+1
	slow := func() (*target, error) { return startBareProxy(ctx, s, upstreamSpec{delay: s.slowDelay}) }
	if err := each(ctx, s, r, "bare-proxy-"+s.slowDelay.String(), slow, []load{s.inflightLoad()}, s.slowWarm); err != nil {
		return err
	}
	r.proxyInflight = len(r.rows) - 1
	return nil
}

func runSynthetic(ctx context.Context, s *settings, r *report) error {
	return each(ctx, s, r, "synthetic", func() (*target, error) {
		return startGuardgenTarget(ctx, s, "synthetic", upstreamSpec{}, 100000)
	}, []load{s.closedLoad(), s.openLoad(s.rps)}, func(load) load { return s.warmLoad() })
}

func runOpenAIFast(ctx context.Context, s *settings, r *report) error {
	dump := filepath.Join(s.work, "chat-request.json")
	err := each(ctx, s, r, "openai-0ms", func() (*target, error) {
		return startGuardgenTarget(ctx, s, "openai", upstreamSpec{dump: dump}, 100000)
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
	if fixed, err := os.ReadFile(proxyBody); err != nil || !bytes.Equal(fixed, body) {
		r.notes = append(r.notes, fmt.Sprintf("the bare proxy posts %s, which is not the body this guardgen sent: copy the upstream's --dump-request file over it", proxyBody))
	}
	up, url, _, err := startUpstream(ctx, s, upstreamSpec{})
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

// runOpenAITLS measures the OpenAI provider against an HTTPS upstream
// (HTTP/2 by ALPN, as api.openai.com), closed loop, where guardgen keeps
// net/http's transport; the bare proxy over the same kind of upstream is
// its floor, run once like the others.
func runOpenAITLS(ctx context.Context, s *settings, r *report) error {
	tls := upstreamSpec{tls: true}
	warm := func(load) load { return s.warmLoad() }
	if err := each(ctx, s, r, "openai-tls-0ms", func() (*target, error) {
		return startGuardgenTarget(ctx, s, "openai", tls, 100000)
	}, []load{s.closedLoad()}, warm); err != nil || s.tag != "" {
		return err
	}
	if err := each(ctx, s, r, "bare-proxy-tls", func() (*target, error) { return startBareProxy(ctx, s, tls) }, []load{s.closedLoad()}, warm); err != nil {
		return err
	}
	r.proxyTLS = len(r.rows) - 1
	return nil
}

// post sends body to the upstream's chat completions url, as guardgen
// would, through do, and reads the whole answer.
func post(ctx context.Context, do func(*http.Request) (*http.Response, error), url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sk-bench")
	resp, err := do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return err
}

func runOpenAISlow(ctx context.Context, s *settings, r *report) error {
	newT := func() (*target, error) {
		return startGuardgenTarget(ctx, s, "openai", upstreamSpec{delay: s.slowDelay}, s.inflight+1000)
	}
	scen := "openai-" + s.slowDelay.String()
	warm := s.slowWarm
	if err := each(ctx, s, r, scen, newT, []load{s.inflightLoad()}, warm); err != nil {
		return err
	}
	r.inflight = len(r.rows) - 1
	if s.inflightMax > 0 {
		newMax := func() (*target, error) {
			return startGuardgenTarget(ctx, s, "openai", upstreamSpec{delay: s.slowDelay}, s.inflightMax+1000)
		}
		most := load{closed: true, conc: s.inflightMax, conns: 2 * s.inflightConns, total: s.slowRounds() * s.inflightMax}
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
		return startGuardgenTarget(ctx, s, "openai", upstreamSpec{delay: s.holdDelay}, held+1000)
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
	newT := func() (*target, error) {
		return startGuardgenTarget(ctx, s, "openai", upstreamSpec{delay: s.slowDelay}, L)
	}
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

// inflightLoad is the closed-loop run of --inflight callers against the
// slow upstream.
func (s *settings) inflightLoad() load {
	return load{closed: true, conc: s.inflight, conns: s.inflightConns, total: s.slowRounds() * s.inflight}
}

// slowRounds is how many times each caller of a slow-upstream run calls:
// -n, not -z, so that every request sent is counted, none cut off at the
// end.
func (s *settings) slowRounds() int {
	if s.quick {
		return 1
	}
	return 2
}

// slowWarm warms a slow-upstream target: one round of a few hundred calls
// opens the connections.
func (s *settings) slowWarm(l load) load {
	if s.quick {
		return load{}
	}
	return load{closed: true, conc: 200, conns: l.conns, total: 200}
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
			err := post(ctx, client.Do, url, body)
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
