package ratelimit_test

import (
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/guardgen/guardgen/fallback/redistest"
	"github.com/guardgen/guardgen/ratelimit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newLimiter(t *testing.T, addr string, opts ratelimit.Options) *ratelimit.Redis {
	t.Helper()
	opts.Addr = addr
	l, err := ratelimit.NewRedis(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestSharedLimit: two limiters (two replicas) on one redis-server admit
// one burst between them, per caller.
func TestSharedLimit(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	opts := ratelimit.Options{PerSecond: 0.01, Burst: 3, KeyPrefix: "shared-test:"}
	a, b := newLimiter(t, srv.Addr, opts), newLimiter(t, srv.Addr, opts)
	admitted := 0
	for i, l := range []*ratelimit.Redis{a, b, a, b, a, b} {
		wait, ok, err := l.Allow(t.Context(), "caller-1")
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if ok {
			admitted++
		} else if wait < 50*time.Second || wait > 101*time.Second {
			t.Errorf("call %d: wait %v, want about 100 s (one request per 100 s)", i, wait)
		}
	}
	if admitted != 3 {
		t.Errorf("%d of 6 calls admitted across two limiters, want the burst of 3", admitted)
	}
	if _, ok, err := b.Allow(t.Context(), "caller-2"); !ok || err != nil {
		t.Errorf("another caller: ok %v, %v; want its own burst", ok, err)
	}
}

// TestUnavailablePauses: a Redis that is gone is an ErrUnavailable, and it
// is not asked again until the pause is over.
func TestUnavailablePauses(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	now := time.Unix(1_700_000_000, 0)
	l := newLimiter(t, srv.Addr, ratelimit.Options{PerSecond: 1, Burst: 1, Pause: time.Minute, Now: func() time.Time { return now }})
	if _, ok, err := l.Allow(t.Context(), "c"); !ok || err != nil {
		t.Fatalf("healthy: ok %v, %v", ok, err)
	}
	srv.Stop()
	if _, _, err := l.Allow(t.Context(), "c"); !errors.Is(err, ratelimit.ErrUnavailable) {
		t.Fatalf("redis stopped: %v, want ErrUnavailable", err)
	}
	// Unwrapped: no exchange with Redis was tried.
	if _, _, err := l.Allow(t.Context(), "c"); err != ratelimit.ErrUnavailable { //nolint:errorlint // identity is the point
		t.Errorf("during the pause: %v, want ErrUnavailable itself, without trying Redis", err)
	}
	now = now.Add(time.Minute)
	if _, _, err := l.Allow(t.Context(), "c"); err == ratelimit.ErrUnavailable || !errors.Is(err, ratelimit.ErrUnavailable) { //nolint:errorlint // identity is the point
		t.Errorf("after the pause: %v, want a new attempt that fails", err)
	}
}

func TestOptionsErrors(t *testing.T) {
	t.Parallel()
	for _, o := range []ratelimit.Options{
		{PerSecond: 1, Burst: 1},
		{Addr: "x:1", PerSecond: 0, Burst: 1},
		{Addr: "x:1", PerSecond: 1, Burst: 0},
		{Addr: "x:1", PerSecond: 1, Burst: 1, Timeout: -1},
	} {
		if _, err := ratelimit.NewRedis(o); err == nil {
			t.Errorf("NewRedis(%+v) = nil error", o)
		}
	}
}
