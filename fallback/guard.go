package fallback

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/guardgen/guardgen/internal/breaker"
)

// ErrUnavailable is Get's error while the guard's breaker is open: the
// backend is not asked, and the lookup is a miss.
var ErrUnavailable = errors.New("fallback: cache backend unavailable (breaker open)")

// guardWriters is how many writes run at once: enough for thousands of
// writes a second to a healthy backend, few enough that a stuck one holds
// little.
const guardWriters = 4

// WriteResult is what became of one Put through a [Guarded] cache.
type WriteResult int

// Outcomes of a guarded Put.
const (
	// WriteStored: the backend stored the entry.
	WriteStored WriteResult = iota
	// WriteFailed: the backend failed or timed out.
	WriteFailed
	// WriteDropped: the write queue was full; the entry was not stored.
	WriteDropped
	// WriteSkipped: the breaker was open; the entry was not stored.
	WriteSkipped
)

// String names the result as metrics label it.
func (r WriteResult) String() string {
	switch r {
	case WriteStored:
		return "stored"
	case WriteFailed:
		return "failed"
	case WriteDropped:
		return "dropped"
	case WriteSkipped:
		return "skipped"
	}
	return "unknown"
}

// GuardOptions configure [NewGuarded]. Timeout, Queue and an enabled
// breaker's values are required: config.Default holds the defaults.
type GuardOptions struct {
	// Timeout bounds each Get, and each queued Put as it is written;
	// positive.
	Timeout time.Duration
	// Queue is how many writes may wait for the backend; a Put that finds
	// the queue full is dropped. At least 1.
	Queue int
	// Breaker turns the backend off after consecutive failures and probes
	// it again later.
	Breaker GuardBreaker
	// OnWrite, when set, is told what became of every Put.
	OnWrite func(WriteResult)
	// OnStateChange, when set, is told every breaker transition.
	OnStateChange func(from, to gobreaker.State)
}

// GuardBreaker configures a guard's circuit breaker.
type GuardBreaker struct {
	// Disabled turns the breaker off: the backend is always asked.
	Disabled bool
	// ConsecutiveFailures opens the breaker; at least 1 unless Disabled.
	ConsecutiveFailures int
	// OpenFor is how long the backend is left alone before one probe;
	// positive unless Disabled.
	OpenFor time.Duration
	// ProbeTimeout bounds the probe, when shorter than Timeout.
	ProbeTimeout time.Duration
}

// Guarded wraps a remote [Cache] backend so that the backend can never
// slow down or fail a request: every Get is bounded by a short timeout,
// every Put is queued and written by a small pool of writers off the
// request path (dropped, and reported, when the queue is full), and a
// circuit breaker turns an unhealthy backend off (Get misses at once with
// [ErrUnavailable], Put is skipped) and probes it again after a while.
// Misses are successes to the breaker; bad entries (corrupt,
// unauthenticated, too large) and the caller's own cancellation say
// nothing about the backend's health and are not counted.
//
// Call Close to stop the writers; Get and Put are safe for concurrent use
// until then.
type Guarded struct {
	backend Cache
	timeout time.Duration
	cb      *breaker.Breaker // nil when disabled
	onWrite func(WriteResult)

	mu     sync.RWMutex // guards closed and sends on queue
	closed bool
	queue  chan pendingWrite
	// stop ends the writers' current writes when Close runs out of time.
	stop    context.Context
	cancel  context.CancelFunc
	writers sync.WaitGroup
}

type pendingWrite struct {
	key   string
	entry Entry
}

// NewGuarded starts the writers of a guard around backend, or returns an
// error for options it cannot run with.
func NewGuarded(backend Cache, opts GuardOptions) (*Guarded, error) {
	if opts.Timeout <= 0 || opts.Queue < 1 {
		return nil, fmt.Errorf("fallback: a guard needs a positive Timeout and a Queue of at least 1 (got %v, %d)", opts.Timeout, opts.Queue)
	}
	b := opts.Breaker
	policy := breaker.Policy{Disabled: b.Disabled, ConsecutiveFailures: b.ConsecutiveFailures, OpenFor: b.OpenFor, ProbeTimeout: b.ProbeTimeout}
	if err := policy.Check(); err != nil {
		return nil, fmt.Errorf("fallback: guard: %w", err)
	}
	if opts.OnWrite == nil {
		opts.OnWrite = func(WriteResult) {}
	}
	g := &Guarded{backend: backend, timeout: opts.Timeout, onWrite: opts.OnWrite, queue: make(chan pendingWrite, opts.Queue)}
	var onChange func(string, breaker.State, breaker.State)
	if opts.OnStateChange != nil {
		onChange = func(_ string, from, to breaker.State) { opts.OnStateChange(from, to) }
	}
	g.cb = breaker.New("cache", policy, func(err error) bool { return !errors.Is(err, errNotCounted) }, onChange)
	g.stop, g.cancel = context.WithCancel(context.Background())
	for range guardWriters {
		g.writers.Go(g.write)
	}
	return g, nil
}

// errNotCounted marks outcomes the breaker ignores.
var errNotCounted = errors.New("fallback: outcome not counted")

// Get asks the backend under the timeout and the caller's context, unless
// the breaker is open.
func (g *Guarded) Get(ctx context.Context, key string) (Entry, bool, error) {
	done, timeout, err := g.allow()
	if err != nil {
		return Entry{}, false, err
	}
	octx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	e, ok, err := g.backend.Get(octx, key)
	done(g.outcome(ctx, err))
	return e, ok, err
}

// Put queues e for the writers and returns at once; it never fails. The
// outcome goes to GuardOptions.OnWrite.
func (g *Guarded) Put(_ context.Context, key string, e Entry) error {
	if g.cb.State() == gobreaker.StateOpen {
		g.onWrite(WriteSkipped)
		return nil
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.closed {
		g.onWrite(WriteDropped)
		return nil
	}
	select {
	case g.queue <- pendingWrite{key: key, entry: e}:
	default:
		g.onWrite(WriteDropped)
	}
	return nil
}

// write is one writer: it stores queued entries until the queue is closed
// and empty.
func (g *Guarded) write() {
	for w := range g.queue {
		done, timeout, err := g.allow()
		if err != nil {
			g.onWrite(WriteSkipped)
			continue
		}
		ctx, cancel := context.WithTimeout(g.stop, timeout)
		err = g.backend.Put(ctx, w.key, w.entry)
		cancel()
		done(g.outcome(g.stop, err))
		if err != nil {
			g.onWrite(WriteFailed)
		} else {
			g.onWrite(WriteStored)
		}
	}
}

// allow admits one backend call and returns its timeout, or ErrUnavailable.
func (g *Guarded) allow() (done func(error), timeout time.Duration, err error) {
	done, probe, err := g.cb.Allow()
	if err != nil {
		return nil, 0, ErrUnavailable
	}
	timeout = g.timeout
	if probe > 0 && probe < timeout {
		timeout = probe
	}
	return done, timeout, nil
}

// outcome is what the breaker learns from err, given the caller's ctx: a
// bad entry or the caller's own end is not the backend's fault.
func (g *Guarded) outcome(ctx context.Context, err error) error {
	if err != nil && (ctx.Err() != nil || errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnauthenticated) || errors.Is(err, ErrTooLarge)) {
		return errNotCounted
	}
	return err
}

// State returns the breaker's state, closed when it is disabled.
func (g *Guarded) State() gobreaker.State { return g.cb.State() }

// Close stops taking writes, lets the writers store what is queued until
// ctx ends (then abandons the rest, each abandoned write reported as
// failed), waits for them, and closes the backend if it has a Close
// method.
func (g *Guarded) Close(ctx context.Context) error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	close(g.queue)
	g.mu.Unlock()
	stopped := make(chan struct{})
	go func() {
		g.writers.Wait()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-ctx.Done():
		g.cancel() // each remaining write now fails at once
		<-stopped
	}
	g.cancel()
	if c, ok := g.backend.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}
