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
	base := &row{cpuPerOp: 50 * time.Microsecond}
	got := proxyFloor(base, 70*time.Microsecond, 200*time.Microsecond)
	want := " (bare grpc-go server 50 µs + bare net/http client 70 µs = 120 µs; guardgen's own: 80 µs)"
	if got != want {
		t.Errorf("proxyFloor = %q, want %q", got, want)
	}
	if got := proxyFloor(nil, 70*time.Microsecond, 200*time.Microsecond); got != "" {
		t.Errorf("without a baseline run: %q, want nothing", got)
	}
	if got := proxyFloor(base, 0, 200*time.Microsecond); got != "" {
		t.Errorf("without a direct client run: %q, want nothing", got)
	}
}
