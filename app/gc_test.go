package app_test

import (
	"io"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/guardgen/guardgen/app"
	"github.com/guardgen/guardgen/config"
)

// TestGCHeapThreshold: server.gc_heap_threshold_bytes raises the
// collector's percentage once a collection has run while the heap is
// small, and the App's Close puts the process's percentage back; 0 leaves
// it alone. Not parallel: the collector is the process's, and another
// test's App would share the tuning.
func TestGCHeapThreshold(t *testing.T) {
	base := gogc()
	for _, tc := range []struct {
		threshold uint64
		raised    bool
	}{{0, false}, {256 << 20, true}} {
		cfg := config.Default()
		cfg.Server.MetricsListen = proto.String("")
		cfg.Server.GcHeapThresholdBytes = proto.Uint64(tc.threshold)
		a, err := app.New(t.Context(), cfg, app.Options{LogOutput: io.Discard, Getenv: func(string) string { return "" }})
		if err != nil {
			t.Fatal(err)
		}
		// The tuning runs after a collection, on the finalizer goroutine.
		got := base
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			runtime.GC()
			if got = gogc(); got != base || !tc.raised && time.Until(deadline) < 4800*time.Millisecond {
				break
			}
		}
		if raised := got > base; raised != tc.raised || got > 500 {
			t.Errorf("threshold %d: GOGC %d after collections, was %d; want raised = %v, at most 500", tc.threshold, got, base, tc.raised)
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if got := gogc(); got != base {
			t.Errorf("threshold %d: GOGC %d after Close, want the process's %d back", tc.threshold, got, base)
		}
	}
}

// gogc is the collector's percentage.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(int32(s[0].Value.Uint64()))
}
