package fallback_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/guardgen/guardgen/fallback"
	"github.com/guardgen/guardgen/fallback/redistest"
)

// writeCounts counts a guard's write outcomes.
type writeCounts struct{ n [4]atomic.Int64 }

func (c *writeCounts) record(r fallback.WriteResult)    { c.n[r].Add(1) }
func (c *writeCounts) get(r fallback.WriteResult) int64 { return c.n[r].Load() }

// TestGuardedFrozenRedis: with Redis frozen (SIGSTOP), Put returns at once
// whatever the write timeout, excess writes are dropped and counted, reads
// fail within the timeout, the breaker then turns the cache off (reads miss
// at once with ErrUnavailable), and after Redis thaws a probe turns it on
// again. Close returns with writes pending, within its context.
func TestGuardedFrozenRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	redis := newRedisNoCleanup(t, fallback.RedisOptions{HMACKey: testKey, Addr: srv.Addr})
	var writes writeCounts
	var mu sync.Mutex
	var states []gobreaker.State
	g := newGuarded(t, redis, fallback.GuardOptions{
		Timeout: 200 * time.Millisecond,
		Queue:   4,
		Breaker: fallback.GuardBreaker{ConsecutiveFailures: 2, OpenFor: 300 * time.Millisecond},
		OnWrite: writes.record,
		OnStateChange: func(_, to gobreaker.State) {
			mu.Lock()
			states = append(states, to)
			mu.Unlock()
		},
	})
	ctx := t.Context()
	if err := g.Put(ctx, "k", sampleEntry()); err != nil {
		t.Fatal(err)
	}
	for writes.get(fallback.WriteStored) == 0 {
		time.Sleep(5 * time.Millisecond)
	}

	srv.Freeze()
	// Puts never wait for Redis: 100 of them return while it is frozen
	// (a write on the caller's path would take the 200 ms timeout each).
	returned := make(chan struct{})
	go func() {
		for range 100 {
			_ = g.Put(ctx, "k", sampleEntry())
		}
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("Put blocked on a frozen Redis")
	}
	if writes.get(fallback.WriteDropped) == 0 {
		t.Errorf("writes: %d dropped, want some (queue of 4)", writes.get(fallback.WriteDropped))
	}
	// Reads fail (timeout) until the breaker opens, then miss at once.
	var unavailable bool
	for range 10 {
		_, ok, err := g.Get(ctx, "k")
		if ok || err == nil {
			t.Fatalf("Get on a frozen Redis = %v, %v; want an error", ok, err)
		}
		if errors.Is(err, fallback.ErrUnavailable) {
			unavailable = true
			break
		}
	}
	if !unavailable || g.State() != gobreaker.StateOpen {
		t.Fatalf("breaker %v after failing reads, want open and reads refused with ErrUnavailable", g.State())
	}

	srv.Thaw()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, ok, err := g.Get(ctx, "k"); ok && err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cache did not come back after Redis thawed (breaker %v)", g.State())
		}
	}
	if g.State() != gobreaker.StateClosed {
		t.Errorf("breaker %v after a successful probe, want closed", g.State())
	}
	mu.Lock()
	if len(states) < 3 || states[0] != gobreaker.StateOpen || states[len(states)-1] != gobreaker.StateClosed {
		t.Errorf("breaker transitions %v, want open … closed", states)
	}
	mu.Unlock()

	// Close with writes queued behind a frozen Redis returns when its
	// context ends; goleak (TestMain) checks the writers are gone.
	srv.Freeze()
	for range 10 {
		_ = g.Put(ctx, "k", sampleEntry())
	}
	closeCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- g.Close(closeCtx) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close blocked on a frozen Redis")
	}
	srv.Thaw()
}

// TestGuardedBreakerDisabled: a disabled breaker never turns the backend
// off.
func TestGuardedBreakerDisabled(t *testing.T) {
	t.Parallel()
	failing := fallback.CacheFuncs{GetFunc: func(context.Context, string) (fallback.Entry, bool, error) {
		return fallback.Entry{}, false, errors.New("down")
	}}
	g := newGuarded(t, failing, fallback.GuardOptions{Timeout: time.Second, Queue: 1, Breaker: fallback.GuardBreaker{Disabled: true}})
	defer g.Close(t.Context())
	for range 20 {
		if _, _, err := g.Get(t.Context(), "k"); errors.Is(err, fallback.ErrUnavailable) {
			t.Fatal("a disabled breaker refused a read")
		}
	}
}

func newGuarded(t *testing.T, backend fallback.Cache, opts fallback.GuardOptions) *fallback.Guarded {
	t.Helper()
	g, err := fallback.NewGuarded(backend, opts)
	if err != nil {
		t.Fatalf("NewGuarded: %v", err)
	}
	return g
}

// TestNewGuardedRejectsMissingValues: a guard has no defaults of its own;
// a zero timeout, queue or enabled breaker value is an error, and
// Disabled is how a breaker is turned off.
func TestNewGuardedRejectsMissingValues(t *testing.T) {
	t.Parallel()
	valid := fallback.GuardOptions{Timeout: time.Second, Queue: 1, Breaker: fallback.GuardBreaker{ConsecutiveFailures: 1, OpenFor: time.Second}}
	for _, change := range []func(*fallback.GuardOptions){
		func(o *fallback.GuardOptions) { o.Timeout = 0 },
		func(o *fallback.GuardOptions) { o.Queue = 0 },
		func(o *fallback.GuardOptions) { o.Breaker.ConsecutiveFailures = 0 },
		func(o *fallback.GuardOptions) { o.Breaker.OpenFor = 0 },
	} {
		opts := valid
		change(&opts)
		if g, err := fallback.NewGuarded(fallback.CacheFuncs{}, opts); err == nil {
			g.Close(t.Context())
			t.Errorf("NewGuarded(%+v): want an error", opts)
		}
	}
	off := valid
	off.Breaker = fallback.GuardBreaker{Disabled: true}
	for _, opts := range []fallback.GuardOptions{valid, off} {
		g, err := fallback.NewGuarded(fallback.CacheFuncs{}, opts)
		if err != nil {
			t.Fatalf("NewGuarded(%+v): %v", opts, err)
		}
		g.Close(t.Context())
	}
}

// newRedisNoCleanup is a Redis the test hands to a guard, which closes it.
func newRedisNoCleanup(t *testing.T, opts fallback.RedisOptions) *fallback.Redis {
	t.Helper()
	r, err := fallback.NewRedis(withDefaults(opts))
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	return r
}
