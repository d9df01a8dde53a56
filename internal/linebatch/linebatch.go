// Package linebatch writes log lines from a goroutine of its own. Each
// write carries every line handed over while the previous write was in
// progress (a group commit), and before each write the goroutine yields
// once, so that the calls running at that moment add their lines to it:
// under load one system call for many lines instead of one per line, and
// none on the caller's path. When nothing else is running, the yield
// returns at once and a line is written as soon as it comes, with no
// timer.
//
// Lines are written whole and in the order Write was called. A line is
// lost only if the process dies between Write and the batch's write; Close
// writes what is pending, and lines written after Close go straight to the
// underlying writer.
package linebatch

import (
	"io"
	"runtime"
	"sync"
)

// maxPending bounds the bytes waiting to be written: past it, Write waits
// for the batch in progress, as a direct write to a slow writer would.
const maxPending = 1 << 20

// keepBuffer is the largest buffer kept for the next batch; one grown past
// it by a burst is let go.
const keepBuffer = 64 << 10

// Writer is an io.Writer for log lines; see the package comment. It is safe
// for concurrent use.
type Writer struct {
	w io.Writer

	mu      sync.Mutex
	cond    sync.Cond // lines pending, room made, or closed
	pending []byte
	spare   []byte
	// handed and written count the bytes given to Write and those the
	// goroutine has written (or tried to), for Sync.
	handed, written int64
	closed          bool
	done            chan struct{} // closed when the batching goroutine has ended

	direct sync.Mutex // orders writes made after Close
}

// New returns a Writer writing to w. Call Close to write what is pending
// and end its goroutine.
func New(w io.Writer) *Writer {
	b := &Writer{w: w, done: make(chan struct{})}
	b.cond.L = &b.mu
	go b.run()
	return b
}

// Write hands one line (or several) over to be written; it returns at once
// unless maxPending bytes are already waiting. A write error of the
// underlying writer is not reported: like slog's handlers, nothing would
// act on it.
func (b *Writer) Write(p []byte) (int, error) {
	b.mu.Lock()
	for len(b.pending) >= maxPending && !b.closed {
		b.cond.Wait()
	}
	if b.closed {
		b.mu.Unlock()
		<-b.done // what was pending is written before this line
		b.direct.Lock()
		defer b.direct.Unlock()
		return b.w.Write(p)
	}
	b.pending = append(b.pending, p...)
	b.handed += int64(len(p))
	b.cond.Broadcast()
	b.mu.Unlock()
	return len(p), nil
}

func (b *Writer) run() {
	defer close(b.done)
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		for len(b.pending) == 0 && !b.closed {
			b.cond.Wait()
		}
		if len(b.pending) == 0 {
			return // closed, and everything written
		}
		// Woken by a line, the batch would often be that line alone
		// (every 1.5 lines a write in a synthetic closed loop at 12,000
		// calls a second, three quarters of guardgen's write calls):
		// the calls already running get to add theirs first. A timer
		// instead (a write at most every millisecond) gathered more but
		// woke the goroutine a second time for most batches at 1,000
		// calls a second.
		b.mu.Unlock()
		runtime.Gosched()
		b.mu.Lock()
		batch := b.pending
		b.pending = b.spare[:0]
		b.mu.Unlock()
		_, _ = b.w.Write(batch)
		b.mu.Lock()
		b.written += int64(len(batch))
		if cap(batch) <= keepBuffer {
			b.spare = batch[:0]
		} else {
			b.spare = nil
		}
		b.cond.Broadcast() // room for writers waiting on maxPending, Sync
	}
}

// Sync returns once every line handed over before it was called has been
// written: for a reader of the underlying writer that must see them (a
// test reading its log).
func (b *Writer) Sync() {
	b.mu.Lock()
	target := b.handed
	for b.written < target && !b.closed {
		b.cond.Wait()
	}
	closed := b.closed
	b.mu.Unlock()
	if closed {
		<-b.done
	}
}

// Close writes what is pending and ends the goroutine. Later writes go
// straight to the underlying writer. It is safe to call more than once.
func (b *Writer) Close() error {
	b.mu.Lock()
	b.closed = true
	b.cond.Broadcast()
	b.mu.Unlock()
	<-b.done
	return nil
}
