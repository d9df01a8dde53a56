package app

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// maxGCPercent bounds how far the collector's percentage is raised: at 500
// a heap of 10 MiB in use is next collected at 60 MiB.
const maxGCPercent = 500

// gcTuning is the process's collector tuning, which every App shares: the
// collector is the process's, not an App's.
var gcTuning struct {
	sync.Mutex
	users int
	// tuner's min is the percentage the process had before the first App
	// tuned it, restored when the last one closes.
	tuner *gcTuner
}

// tuneGC holds the garbage collector back while the heap in use is small
// (server.gc_heap_threshold_bytes, see config.proto) and returns what
// undoes it, for Close: the last App to close stops the tuning and
// restores the process's percentage. A threshold of 0, or a collector
// turned off (GOGC=off), leaves the collector alone; a second App's
// threshold replaces the first's.
//
// bytedance/gopkg's gctuner does the same, but it measures the heap by
// runtime.ReadMemStats (stopping the world) right after a collection, when
// HeapInuse still counts the spans not yet swept: about twice the live
// heap here, which kept the percentage near 300 where 500 was meant.
func tuneGC(threshold uint64) (release func()) {
	if threshold == 0 {
		return func() {}
	}
	gcTuning.Lock()
	defer gcTuning.Unlock()
	if gcTuning.users == 0 {
		base, on := gcPercent()
		if !on {
			return func() {}
		}
		gcTuning.tuner = &gcTuner{min: base, max: max(base, maxGCPercent)}
		gcTuning.tuner.arm()
	}
	gcTuning.users++
	gcTuning.tuner.threshold.Store(threshold)
	var once sync.Once
	return func() {
		once.Do(func() {
			gcTuning.Lock()
			defer gcTuning.Unlock()
			if gcTuning.users--; gcTuning.users == 0 {
				gcTuning.tuner.stop()
				debug.SetGCPercent(gcTuning.tuner.min)
			}
		})
	}
}

// gcTuner sets the collector's percentage after each collection so that
// the next comes when the heap reaches threshold, between min and max.
type gcTuner struct {
	threshold atomic.Uint64
	min, max  int
	mu        sync.Mutex // orders tune against stop
	stopped   bool
	samples   [3]metrics.Sample
}

// gcSentinel is garbage made to learn that a collection ran: its cleanup
// runs after the collection that freed it. It has a pointer so that it is
// not one of the tiny allocations whose cleanups may never run.
type gcSentinel struct{ _ *byte }

func (t *gcTuner) arm() {
	runtime.AddCleanup(&gcSentinel{}, (*gcTuner).tune, t)
}

func (t *gcTuner) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
}

// tune runs on the runtime's cleanup goroutine after a collection. The
// heap goal is live + (live + stacks + globals) × percent / 100 (the GC
// guide), solved for percent with the goal at threshold.
func (t *gcTuner) tune() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	defer t.arm()
	t.samples[0].Name = "/gc/heap/live:bytes"
	t.samples[1].Name = "/gc/scan/stack:bytes"
	t.samples[2].Name = "/gc/scan/globals:bytes"
	metrics.Read(t.samples[:])
	live := float64(t.samples[0].Value.Uint64())
	roots := live + float64(t.samples[1].Value.Uint64()) + float64(t.samples[2].Value.Uint64())
	percent := t.min
	if threshold := float64(t.threshold.Load()); live > 0 && threshold > live {
		percent = int(min(float64(t.max), max(float64(t.min), (threshold-live)*100/roots)))
	}
	debug.SetGCPercent(percent)
}

// gcPercent is the collector's percentage (GOGC), and false when the
// collector is off.
func gcPercent() (int, bool) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	v := s[0].Value.Uint64() // -1, off, reads as the largest uint64
	if v > math.MaxInt32 {
		return 0, false
	}
	return int(v), true
}
