package main

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestCPUFloorIsLittlesLaw(t *testing.T) {
	in := &row{load: load{closed: true, conc: 5000}, cpuPerOp: 400 * time.Microsecond, restPerOp: 600 * time.Microsecond}
	got := cpuFloor(in, time.Second)
	cores := runtime.NumCPU()
	for _, want := range []string{
		fmt.Sprintf("guardgen 400 µs, ghz and upstream 600 µs, so %d cores serve at most %d requests/s (%d without guardgen)",
			cores, 1000*cores, int(float64(cores)/0.0006+0.5)),
		"5000 callers wait only 1000 ms at 5000 requests/s",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("cpuFloor = %q\nwant it to say %q", got, want)
		}
	}
	for name, r := range map[string]*row{
		"open loop":      {load: load{conc: 5000}, cpuPerOp: time.Millisecond, restPerOp: time.Millisecond},
		"no server CPU":  {load: load{closed: true, conc: 5000}, restPerOp: time.Millisecond},
		"no others' CPU": {load: load{closed: true, conc: 5000}, cpuPerOp: time.Millisecond},
	} {
		if got := cpuFloor(r, time.Second); got != "" {
			t.Errorf("%s: cpuFloor = %q, want nothing", name, got)
		}
	}
}

func TestProxyFloorLeavesGuardgensShare(t *testing.T) {
	proxy := &row{cpuPerOp: 120 * time.Microsecond}
	got := proxyFloor(proxy, 200*time.Microsecond)
	want := " (the bare proxy 120 µs; guardgen's own: 80 µs)"
	if got != want {
		t.Errorf("proxyFloor = %q, want %q", got, want)
	}
	if got := proxyFloor(nil, 200*time.Microsecond); got != "" {
		t.Errorf("without a bare proxy run: %q, want nothing", got)
	}
}

func TestBareProxyOnlyBesideTheSameLoad(t *testing.T) {
	proxy := &row{load: load{closed: true, conc: 5000}, ok: stats{p50: 1400 * time.Millisecond}, rssMiB: 180, cpuPerOp: 300 * time.Microsecond}
	in := &row{load: load{closed: true, conc: 5000}}
	want := "; the bare proxy with as many callers: p50 1400 ms, errors: 0, peak RSS 180 MiB, CPU per request 300 µs"
	if got := bareProxy(proxy, in); got != want {
		t.Errorf("bareProxy = %q, want %q", got, want)
	}
	if got := bareProxy(proxy, &row{load: load{closed: true, conc: 10000}}); got != "" {
		t.Errorf("beside 10,000 callers: %q, want nothing", got)
	}
	if got := bareProxy(nil, in); got != "" {
		t.Errorf("without a bare proxy run: %q, want nothing", got)
	}
}
