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

// upstreamSpec is how a run's bench/upstream answers.
type upstreamSpec struct {
	delay time.Duration
	dump  string // file for the first request's body; "" for none
	tls   bool   // HTTPS with HTTP/2 by ALPN, as api.openai.com serves
}

// startBareProxy starts an upstream and bench/baseline as the bare proxy
// in front of it.
func startBareProxy(ctx context.Context, s *settings, spec upstreamSpec) (*target, error) {
	up, url, ca, err := startUpstream(ctx, s, spec)
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		up.stop()
		return nil, err
	}
	args := []string{"--listen", addr, "--upstream", url}
	if ca != "" {
		args = append(args, "--ca-file", ca)
	}
	p, err := start(ctx, s, "bare-proxy", addr, nil, filepath.Join(s.bin, "baseline"), args...)
	if err != nil {
		up.stop()
		return nil, err
	}
	return &target{procs: []*proc{up, p}, server: p, addr: addr, up: url}, nil
}

// startUpstream starts bench/upstream and returns its base URL and, for
// HTTPS, the file with the certificate to trust.
func startUpstream(ctx context.Context, s *settings, spec upstreamSpec) (*proc, string, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", "", err
	}
	args := []string{"--listen", addr, "--delay", spec.delay.String()}
	if spec.dump != "" {
		args = append(args, "--dump-request", spec.dump)
	}
	var ca string
	if spec.tls {
		ca = filepath.Join(s.work, fmt.Sprintf("upstream-%d.pem", time.Now().UnixNano()))
		args = append(args, "--tls-cert", ca)
	}
	p, err := start(ctx, s, "upstream", addr, nil, filepath.Join(s.bin, "upstream"), args...)
	if err != nil {
		return nil, "", "", err
	}
	if !spec.tls {
		return p, "http://" + addr + "/v1", "", nil
	}
	// The upstream listens before it writes its certificate.
	if err := waitFile(ctx, ca, 10*time.Second); err != nil {
		p.stop()
		return nil, "", "", err
	}
	return p, "https://" + addr + "/v1", ca, nil
}

// waitFile waits until name exists.
func waitFile(ctx context.Context, name string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		if _, err := os.Stat(name); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not appear within %s", name, d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// startGuardgen starts guardgen; provider is "synthetic" or "openai" (then
// upstream is the base URL, and ca the certificate to trust for an https
// one). maxInFlight 0 leaves the configured default.
func startGuardgen(ctx context.Context, s *settings, provider, upstream, ca string, maxInFlight int) (*proc, string, string, error) {
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
			if ca != "" {
				fmt.Fprintf(&b, "    tls:\n      ca_file: %q\n", ca)
			}
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

func startGuardgenTarget(ctx context.Context, s *settings, provider string, spec upstreamSpec, maxInFlight int) (*target, error) {
	t := &target{}
	var ca string
	if provider == "openai" {
		up, url, cert, err := startUpstream(ctx, s, spec)
		if err != nil {
			return nil, err
		}
		t.procs = append(t.procs, up)
		t.up, ca = url, cert
	}
	g, addr, metricsURL, err := startGuardgen(ctx, s, provider, t.up, ca, maxInFlight)
	if err != nil {
		t.stop()
		return nil, err
	}
	t.procs = append(t.procs, g)
	t.server, t.addr, t.metrics = g, addr, metricsURL
	return t, nil
}
