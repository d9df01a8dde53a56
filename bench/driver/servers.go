package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

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

// startBareProxy starts an upstream answering after delay and
// bench/baseline as the bare proxy in front of it.
func startBareProxy(ctx context.Context, s *settings, delay time.Duration) (*target, error) {
	up, url, err := startUpstream(ctx, s, delay, "")
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		up.stop()
		return nil, err
	}
	p, err := start(ctx, s, "bare-proxy", addr, nil, filepath.Join(s.bin, "baseline"), "--listen", addr, "--upstream", url)
	if err != nil {
		up.stop()
		return nil, err
	}
	return &target{procs: []*proc{up, p}, server: p, addr: addr, up: url}, nil
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
