package linebatch

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// gate is an underlying writer that records each write and, while held,
// blocks the first write until released.
type gate struct {
	mu      sync.Mutex
	writes  [][]byte
	entered chan struct{}
	release chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan struct{}, 1), release: make(chan struct{})} }

// holding returns a Writer over a gate whose first write, the line first,
// is in progress and held until the gate's release is closed.
func holding(t *testing.T, first string) (*gate, *Writer) {
	t.Helper()
	g := newGate()
	w := New(g)
	fmt.Fprintln(w, first)
	<-g.entered
	return g, w
}

func (g *gate) Write(p []byte) (int, error) {
	select {
	case g.entered <- struct{}{}:
		<-g.release
	default:
	}
	g.mu.Lock()
	g.writes = append(g.writes, bytes.Clone(p))
	g.mu.Unlock()
	return len(p), nil
}

func (g *gate) all() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return string(bytes.Join(g.writes, nil))
}

// blocks runs f and checks that it has not returned 20 ms later (a wrong
// return could go unseen on a starved scheduler, never the reverse); the
// returned channel is closed when f returns.
func blocks(t *testing.T, what string, f func()) <-chan struct{} {
	t.Helper()
	done := make(chan struct{})
	go func() {
		f()
		close(done)
	}()
	time.Sleep(20 * time.Millisecond)
	select {
	case <-done:
		t.Fatalf("%s returned; it should wait", what)
	default:
	}
	return done
}

// TestOrderedAndWhole: lines from many goroutines all arrive, whole, each
// goroutine's in its order, and the caller may reuse its buffer at once.
func TestOrderedAndWhole(t *testing.T) {
	out := newGate()
	close(out.release)
	w := New(out)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			buf := make([]byte, 0, 64)
			for i := range 2000 {
				buf = fmt.Appendf(buf[:0], "g%d line %d end\n", g, i)
				if _, err := w.Write(buf); err != nil {
					t.Error(err)
				}
				copy(buf, "XXXXXXXX") // the writer must have copied the line
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	next := make([]int, 8)
	lines := strings.Split(strings.TrimSuffix(out.all(), "\n"), "\n")
	if len(lines) != 8*2000 {
		t.Fatalf("%d lines, want %d", len(lines), 8*2000)
	}
	for _, l := range lines {
		var g, i int
		if _, err := fmt.Sscanf(l, "g%d line %d end", &g, &i); err != nil {
			t.Fatalf("line %q is not whole: %v", l, err)
		}
		if i != next[g] {
			t.Fatalf("goroutine %d: line %d after %d", g, i, next[g]-1)
		}
		next[g]++
	}
}

// TestBatchesWhileWriting: lines handed over while a write is in progress
// go out together in the next write, not one write each.
func TestBatchesWhileWriting(t *testing.T) {
	g, w := holding(t, "first")
	for i := range 100 {
		fmt.Fprintf(w, "line %d\n", i)
	}
	close(g.release)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if len(g.writes) != 2 {
		t.Fatalf("%d writes, want 2: the first line, then the 100 written while it was held", len(g.writes))
	}
	if !strings.HasPrefix(g.all(), "first\nline 0\n") || !strings.HasSuffix(g.all(), "line 99\n") {
		t.Errorf("output out of order:\n%s", g.all())
	}
}

// TestGathersRunningCalls: lines from calls that keep running are written
// many to a write even when each call gives way after each line, as a call
// does when it waits for its next request. On one processor a line makes
// the idle batching goroutine the next to run; without its yield it wrote
// each line alone.
func TestGathersRunningCalls(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	g := newGate()
	close(g.release)
	w := New(g)
	const callers, each = 4, 100
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				fmt.Fprintf(w, "caller %d line %d\n", c, i)
				runtime.Gosched()
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	writes := len(g.writes)
	g.mu.Unlock()
	if lines := callers * each; writes > lines/2 {
		t.Errorf("%d lines took %d writes, want at most %d", lines, writes, lines/2)
	}
	if got := strings.Count(g.all(), "\n"); got != callers*each {
		t.Errorf("%d lines written, want %d", got, callers*each)
	}
}

// TestCloseFlushesThenWritesThrough: Close writes what is pending; a line
// written after Close comes after it.
func TestCloseFlushesThenWritesThrough(t *testing.T) {
	g, w := holding(t, "a")
	fmt.Fprintln(w, "b")
	closed := blocks(t, "Close, with a write held,", func() { _ = w.Close() })
	close(g.release)
	<-closed
	fmt.Fprintln(w, "c")
	_ = w.Close() // again: no effect
	if got := g.all(); got != "a\nb\nc\n" {
		t.Errorf("got %q, want a, b, c in order", got)
	}
}

// TestSync: Sync waits for the lines handed over before it, not longer.
func TestSync(t *testing.T) {
	g, w := holding(t, "a")
	fmt.Fprintln(w, "b")
	synced := blocks(t, "Sync, with its lines held,", w.Sync)
	close(g.release)
	<-synced
	if got := g.all(); got != "a\nb\n" {
		t.Errorf("after Sync the writer has %q, want a and b", got)
	}
	_ = w.Close()
	w.Sync() // after Close: returns at once
}

// TestBoundedPending: while the underlying writer is stuck, Write waits
// once maxPending bytes are waiting instead of growing without bound.
func TestBoundedPending(t *testing.T) {
	g, w := holding(t, "first")
	line := bytes.Repeat([]byte("x"), 1023)
	line = append(line, '\n')
	for range maxPending / len(line) {
		if _, err := w.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	blocked := blocks(t, "Write, with maxPending bytes waiting,", func() { _, _ = w.Write(line) })
	close(g.release)
	<-blocked
	_ = w.Close()
	if got, want := len(g.all()), len("first\n")+(maxPending/len(line)+1)*len(line); got != want {
		t.Errorf("%d bytes written, want %d", got, want)
	}
}
