package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

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
