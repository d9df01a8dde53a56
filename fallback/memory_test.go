package fallback_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/guardgen/guardgen/config"
	"github.com/guardgen/guardgen/fallback"
)

// fakeClock is an injected clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func entryFor(model string) fallback.Entry {
	e := sampleEntry()
	e.Model = model
	return e
}

func keys(t *testing.T, m *fallback.Memory, all ...string) []string {
	t.Helper()
	var present []string
	for _, k := range all {
		_, ok, err := m.Get(t.Context(), k)
		if err != nil {
			t.Fatalf("Get(%q): %v", k, err)
		}
		if ok {
			present = append(present, k)
		}
	}
	return present
}

func TestMemoryEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	m := newMemory(t, fallback.MemoryOptions{MaxEntries: 3})
	for _, k := range []string{"a", "b", "c"} {
		if err := m.Put(ctx, k, entryFor(k)); err != nil {
			t.Fatal(err)
		}
	}
	// Touch a (Get) and c (Put again): b is now the least recently used.
	if _, ok, _ := m.Get(ctx, "a"); !ok {
		t.Fatal("a missing before any eviction")
	}
	if err := m.Put(ctx, "c", entryFor("c2")); err != nil {
		t.Fatal(err)
	}
	if err := m.Put(ctx, "d", entryFor("d")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "c", "d"}, keys(t, m, "a", "b", "c", "d")); diff != "" {
		t.Errorf("after adding d (-want +got):\n%s", diff)
	}
	// The Gets above touched a, c, d in that order: a goes next.
	if err := m.Put(ctx, "e", entryFor("e")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"c", "d", "e"}, keys(t, m, "a", "b", "c", "d", "e")); diff != "" {
		t.Errorf("after adding e (-want +got):\n%s", diff)
	}
	if got, _, _ := m.Get(ctx, "c"); got.Model != "c2" {
		t.Errorf("c.Model = %q, want the replacement c2", got.Model)
	}
	if m.Len() != 3 {
		t.Errorf("Len = %d, want 3", m.Len())
	}
}

func TestMemoryTTL(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clock := newFakeClock()
	m := newMemory(t, fallback.MemoryOptions{TTL: time.Minute, Now: clock.Now})
	e := sampleEntry()
	e.StoredAt = time.Time{}
	if err := m.Put(ctx, "k", e); err != nil {
		t.Fatal(err)
	}
	stored := clock.Now()

	clock.Advance(time.Minute - time.Nanosecond)
	got, ok, err := m.Get(ctx, "k")
	if !ok || err != nil {
		t.Fatalf("Get just before TTL = ok %v, err %v", ok, err)
	}
	if !got.StoredAt.Equal(stored) {
		t.Errorf("StoredAt = %v, want the clock at Put, %v", got.StoredAt, stored)
	}
	if age := fallback.Age(got, clock.Now()); age != time.Minute-time.Nanosecond {
		t.Errorf("Age = %v", age)
	}

	clock.Advance(time.Nanosecond)
	if _, ok, err := m.Get(ctx, "k"); ok || err != nil {
		t.Errorf("Get at TTL = ok %v, err %v; want a miss", ok, err)
	}
	if m.Len() != 0 {
		t.Errorf("Len after expired Get = %d, want 0 (evicted lazily)", m.Len())
	}
}

func TestMemoryPutRestartsTTL(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clock := newFakeClock()
	m := newMemory(t, fallback.MemoryOptions{TTL: time.Minute, Now: clock.Now})
	if err := m.Put(ctx, "k", sampleEntry()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(50 * time.Second)
	if err := m.Put(ctx, "k", sampleEntry()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(50 * time.Second)
	if _, ok, _ := m.Get(ctx, "k"); !ok {
		t.Error("Get 50s after the second Put: want a hit")
	}
}

func TestMemoryCopies(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	m := newMemory(t, fallback.MemoryOptions{})
	e := sampleEntry()
	want := sampleEntry()
	if err := m.Put(ctx, "k", e); err != nil {
		t.Fatal(err)
	}
	e.Message[0] = 0xff // the caller reuses its buffer
	got, _, _ := m.Get(ctx, "k")
	got.Message[1] = 0xff // the caller scribbles on what it got
	again, _, _ := m.Get(ctx, "k")
	if diff := cmp.Diff(want, again); diff != "" {
		t.Errorf("cached entry changed (-want +got):\n%s", diff)
	}
}

func TestMemoryConcurrent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clock := newFakeClock()
	const maxEntries = 64
	m := newMemory(t, fallback.MemoryOptions{MaxEntries: maxEntries, TTL: time.Second, Now: clock.Now})
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 2000 {
				k := fmt.Sprintf("k%d", (g*7+i)%200)
				switch i % 4 {
				case 0:
					_ = m.Put(ctx, k, entryFor(k))
				case 3:
					clock.Advance(time.Millisecond)
					fallthrough
				default:
					if e, ok, _ := m.Get(ctx, k); ok && e.Model != k {
						t.Errorf("Get(%q).Model = %q", k, e.Model)
					}
				}
				if n := m.Len(); n > maxEntries {
					t.Errorf("Len = %d > %d", n, maxEntries)
				}
			}
		})
	}
	wg.Wait()
}

// TestNewMemoryRejectsEmptyBounds: a memory cache has no defaults of its
// own; bounds under which it could hold nothing are an error.
func TestNewMemoryRejectsEmptyBounds(t *testing.T) {
	t.Parallel()
	for _, opts := range []fallback.MemoryOptions{
		{MaxEntries: 0, TTL: time.Minute},
		{MaxEntries: -1, TTL: time.Minute},
		{MaxEntries: 1, TTL: 0},
		{MaxEntries: 1, TTL: -time.Second},
	} {
		if _, err := fallback.NewMemory(opts); err == nil {
			t.Errorf("NewMemory(%+v): want an error", opts)
		}
	}
}

// newMemory is NewMemory with the bounds opts leaves zero set to
// config.Default's, as app does.
func newMemory(t *testing.T, opts fallback.MemoryOptions) *fallback.Memory {
	t.Helper()
	c := config.Default().GetCache()
	if opts.MaxEntries == 0 {
		opts.MaxEntries = int(c.GetMaxEntries())
	}
	if opts.TTL == 0 {
		opts.TTL = config.Seconds(c.GetTtlSeconds())
	}
	m, err := fallback.NewMemory(opts)
	if err != nil {
		t.Fatalf("NewMemory: %v", err)
	}
	return m
}

func TestCacheFuncs(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	var zero fallback.CacheFuncs
	if _, ok, err := zero.Get(ctx, "k"); ok || err != nil {
		t.Errorf("zero CacheFuncs Get = ok %v, err %v", ok, err)
	}
	if err := zero.Put(ctx, "k", fallback.Entry{}); err != nil {
		t.Errorf("zero CacheFuncs Put = %v", err)
	}
	var put string
	c := fallback.CacheFuncs{
		GetFunc: func(_ context.Context, key string) (fallback.Entry, bool, error) {
			return fallback.Entry{Model: key}, true, nil
		},
		PutFunc: func(_ context.Context, key string, _ fallback.Entry) error { put = key; return nil },
	}
	if e, ok, _ := c.Get(ctx, "m"); !ok || e.Model != "m" {
		t.Errorf("Get = %+v, %v", e, ok)
	}
	_ = c.Put(ctx, "p", fallback.Entry{})
	if put != "p" {
		t.Errorf("PutFunc saw %q", put)
	}
}

func TestAge(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		storedAt time.Time
		want     time.Duration
	}{
		{"past", now.Add(-90 * time.Second), 90 * time.Second},
		{"now", now, 0},
		{"clock skew", now.Add(time.Second), 0},
		{"unknown", time.Time{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := fallback.Age(fallback.Entry{StoredAt: tt.storedAt}, now); got != tt.want {
				t.Errorf("Age = %v, want %v", got, tt.want)
			}
		})
	}
}
