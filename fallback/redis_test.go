package fallback_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/guardgen/guardgen/config"
	"github.com/guardgen/guardgen/fallback"
	"github.com/guardgen/guardgen/fallback/redistest"
)

func newRedis(t *testing.T, opts fallback.RedisOptions) *fallback.Redis {
	t.Helper()
	r, err := fallback.NewRedis(withDefaults(opts))
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

// withDefaults fills the bounds opts leaves zero with config.Default's,
// as app does: the tests write out only what they are about.
func withDefaults(opts fallback.RedisOptions) fallback.RedisOptions {
	c := config.Default().GetCache()
	timeout := config.Seconds(c.GetTimeoutSeconds())
	if opts.TTL == 0 {
		opts.TTL = config.Seconds(c.GetTtlSeconds())
	}
	for _, d := range []*time.Duration{&opts.DialTimeout, &opts.ReadTimeout, &opts.WriteTimeout} {
		if *d == 0 {
			*d = timeout
		}
	}
	if opts.MaxEntryBytes == 0 {
		opts.MaxEntryBytes = int(c.GetMaxEntryBytes())
	}
	return opts
}

func sampleEntry() fallback.Entry {
	return fallback.Entry{
		TypeURL:  "type.googleapis.com/guardgen.examples.v1.TicketClassification",
		Message:  []byte{0x0a, 0x07, 'b', 'i', 'l', 'l', 'i', 'n', 'g', 0x10, 0x03},
		Model:    "gpt-4o-mini",
		StoredAt: time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC),
	}
}

func TestRedisRoundTrip(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	r := newRedis(t, fallback.RedisOptions{HMACKey: testKey, Addr: srv.Addr, KeyPrefix: "test:"})
	ctx := t.Context()
	key := fallback.Key(fallback.Scope{TargetType: "guardgen.examples.v1.TicketClassification", DescriptorHash: "0123456789abcdef0123", Prompt: "a prompt", Model: "gpt-4o-mini"})

	if _, ok, err := r.Get(ctx, key); ok || err != nil {
		t.Fatalf("Get before Put = ok %v, err %v; want a clean miss", ok, err)
	}
	want := sampleEntry()
	if err := r.Put(ctx, key, want); err != nil {
		t.Fatalf("Put: %v", err)
	}
	got, ok, err := r.Get(ctx, key)
	if !ok || err != nil {
		t.Fatalf("Get after Put = ok %v, err %v", ok, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Get mismatch (-want +got):\n%s", diff)
	}
}

func TestRedisFillsStoredAt(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	now := time.Date(2026, 5, 5, 5, 5, 5, 0, time.UTC)
	r := newRedis(t, fallback.RedisOptions{HMACKey: testKey, Addr: srv.Addr, Now: func() time.Time { return now }})
	e := sampleEntry()
	e.StoredAt = time.Time{}
	if err := r.Put(t.Context(), "k", e); err != nil {
		t.Fatalf("Put: %v", err)
	}
	got, _, err := r.Get(t.Context(), "k")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !got.StoredAt.Equal(now) {
		t.Errorf("StoredAt = %v, want %v", got.StoredAt, now)
	}
}

func TestRedisTTL(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	r := newRedis(t, fallback.RedisOptions{HMACKey: testKey, Addr: srv.Addr, KeyPrefix: "p:", TTL: time.Second})
	ctx := t.Context()
	if err := r.Put(ctx, "k", sampleEntry()); err != nil {
		t.Fatalf("Put: %v", err)
	}

	raw := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer raw.Close()
	ttl, err := raw.PTTL(ctx, "p:k").Result()
	if err != nil {
		t.Fatalf("PTTL: %v", err)
	}
	if ttl <= 0 || ttl > time.Second {
		t.Errorf("PTTL = %v, want in (0, 1s]", ttl)
	}

	time.Sleep(1100 * time.Millisecond) // the one real wait: Redis expires by its own clock
	if _, ok, err := r.Get(ctx, "k"); ok || err != nil {
		t.Errorf("Get after TTL = ok %v, err %v; want a clean miss", ok, err)
	}
}

// TestRedisSharedBetweenReplicas is two guardgen replicas: independent
// clients on one server see each other's entries, and a different
// KeyPrefix (another deployment) sees none of them.
func TestRedisSharedBetweenReplicas(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a := newRedis(t, fallback.RedisOptions{HMACKey: testKey, Addr: srv.Addr, KeyPrefix: "prod:"})
	b := newRedis(t, fallback.RedisOptions{HMACKey: testKey, Addr: srv.Addr, KeyPrefix: "prod:"})
	other := newRedis(t, fallback.RedisOptions{HMACKey: testKey, Addr: srv.Addr, KeyPrefix: "staging:"})
	ctx := t.Context()

	ea, eb := sampleEntry(), sampleEntry()
	eb.Model = "gpt-4o"
	if err := a.Put(ctx, "from-a", ea); err != nil {
		t.Fatalf("a.Put: %v", err)
	}
	if err := b.Put(ctx, "from-b", eb); err != nil {
		t.Fatalf("b.Put: %v", err)
	}

	got, ok, err := b.Get(ctx, "from-a")
	if !ok || err != nil {
		t.Fatalf("b.Get(from-a) = ok %v, err %v", ok, err)
	}
	if diff := cmp.Diff(ea, got); diff != "" {
		t.Errorf("b.Get(from-a) mismatch (-want +got):\n%s", diff)
	}
	got, ok, err = a.Get(ctx, "from-b")
	if !ok || err != nil {
		t.Fatalf("a.Get(from-b) = ok %v, err %v", ok, err)
	}
	if diff := cmp.Diff(eb, got); diff != "" {
		t.Errorf("a.Get(from-b) mismatch (-want +got):\n%s", diff)
	}
	if _, ok, err := other.Get(ctx, "from-a"); ok || err != nil {
		t.Errorf("other prefix Get = ok %v, err %v; want a clean miss", ok, err)
	}
}

// testKey is the replicas' shared authentication key in these tests.
var testKey = []byte("0123456789abcdef0123456789abcdef-test-only")

// TestRedisRefusesForeignValues: values guardgen did not store under the
// key it reads are refused, never decoded: written by something else,
// tagged with another key, moved from another key, altered, too large, or
// not a string at all.
func TestRedisRefusesForeignValues(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	const limit = 4096
	r := newRedis(t, fallback.RedisOptions{HMACKey: testKey, Addr: srv.Addr, MaxEntryBytes: limit})
	otherKey := newRedis(t, fallback.RedisOptions{HMACKey: []byte("another deployment's key, 32 bytes or more"), Addr: srv.Addr})
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer raw.Close()
	ctx := t.Context()
	if err := r.Put(ctx, "good", sampleEntry()); err != nil {
		t.Fatal(err)
	}
	good, err := raw.Get(ctx, "good").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if err := otherKey.Put(ctx, "other-key", sampleEntry()); err != nil {
		t.Fatal(err)
	}
	altered := append([]byte(nil), good...)
	altered[10] ^= 1
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(raw.Set(ctx, "foreign", `{"written":"by something else"}`, 0).Err())
	must(raw.Set(ctx, "moved", good, 0).Err())
	must(raw.Set(ctx, "altered", altered, 0).Err())
	must(raw.Set(ctx, "huge", make([]byte, 30<<20), 0).Err())
	must(raw.RPush(ctx, "list", "x").Err())

	if _, ok, err := r.Get(ctx, "good"); !ok || err != nil {
		t.Fatalf("Get(good) = %v, %v", ok, err)
	}
	for key, want := range map[string]error{
		"foreign":   fallback.ErrUnauthenticated,
		"other-key": fallback.ErrUnauthenticated,
		"moved":     fallback.ErrUnauthenticated,
		"altered":   fallback.ErrUnauthenticated,
		"huge":      fallback.ErrTooLarge,
		"list":      fallback.ErrCorrupt,
	} {
		if _, ok, err := r.Get(ctx, key); ok || !errors.Is(err, want) {
			t.Errorf("Get(%s) = ok %v, err %v; want %v", key, ok, err, want)
		}
	}
	big := sampleEntry()
	big.Message = make([]byte, limit)
	if err := r.Put(ctx, "big", big); !errors.Is(err, fallback.ErrTooLarge) {
		t.Errorf("Put of %d bytes = %v, want ErrTooLarge", limit, err)
	}
}

// TestRedisStoppedServer: a server that went away gives errors, quickly.
func TestRedisStoppedServer(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	r := newRedis(t, fallback.RedisOptions{HMACKey: testKey, Addr: srv.Addr})
	ctx := t.Context()
	if err := r.Put(ctx, "k", sampleEntry()); err != nil {
		t.Fatalf("Put: %v", err)
	}
	srv.Stop()

	start := time.Now()
	if _, ok, err := r.Get(ctx, "k"); ok || err == nil {
		t.Errorf("Get on stopped server = ok %v, err %v; want an error", ok, err)
	}
	if err := r.Put(ctx, "k", sampleEntry()); err == nil {
		t.Error("Put on stopped server: want an error")
	}
	if err := r.Ping(ctx); err == nil {
		t.Error("Ping on stopped server: want an error")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("three calls on a stopped server took %v, want well under 3s", d)
	}
}

// TestRedisUnresponsiveServer: a peer that accepts connections and never
// answers costs the read timeout, not a hang.
func TestRedisUnresponsiveServer(t *testing.T) {
	t.Parallel()
	addr := blackHole(t)
	r := newRedis(t, fallback.RedisOptions{
		HMACKey: testKey, Addr: addr, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond,
	})
	start := time.Now()
	if _, ok, err := r.Get(t.Context(), "k"); ok || err == nil {
		t.Errorf("Get = ok %v, err %v; want an error", ok, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Get on an unresponsive server took %v, want well under 3s", d)
	}
}

// TestRedisContextDeadline: the caller's deadline wins over longer socket
// timeouts.
func TestRedisContextDeadline(t *testing.T) {
	t.Parallel()
	addr := blackHole(t)
	r := newRedis(t, fallback.RedisOptions{HMACKey: testKey, Addr: addr, ReadTimeout: time.Minute, WriteTimeout: time.Minute})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, _, err := r.Get(ctx, "k"); err == nil {
		t.Error("Get: want an error")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Get with a 200ms deadline took %v", d)
	}
}

func TestNewRedisRejectsBadOptions(t *testing.T) {
	t.Parallel()
	valid := withDefaults(fallback.RedisOptions{HMACKey: testKey, Addr: "127.0.0.1:1"})
	for _, change := range []func(*fallback.RedisOptions){
		func(o *fallback.RedisOptions) { o.TTL = -time.Second },
		func(o *fallback.RedisOptions) { o.TTL = 0 },
		func(o *fallback.RedisOptions) { o.TTL = time.Microsecond },
		func(o *fallback.RedisOptions) { o.DialTimeout = -1 },
		func(o *fallback.RedisOptions) { o.DialTimeout = 0 },
		func(o *fallback.RedisOptions) { o.ReadTimeout = -1 },
		func(o *fallback.RedisOptions) { o.WriteTimeout = 0 },
		func(o *fallback.RedisOptions) { o.PoolSize = -1 },
		func(o *fallback.RedisOptions) { o.MaxEntryBytes = -1 },
		func(o *fallback.RedisOptions) { o.MaxEntryBytes = 0 },
		func(o *fallback.RedisOptions) { o.Addr = "" },
		func(o *fallback.RedisOptions) { o.HMACKey = nil },
		func(o *fallback.RedisOptions) { o.HMACKey = testKey[:fallback.MinHMACKeyBytes-1] },
	} {
		opts := valid
		change(&opts)
		if r, err := fallback.NewRedis(opts); err == nil {
			r.Close()
			t.Errorf("NewRedis(%+v): want an error", opts)
		}
	}
	r, err := fallback.NewRedis(valid)
	if err != nil {
		t.Fatalf("NewRedis(%+v): %v", valid, err)
	}
	r.Close()
}

// blackHole listens on loopback and holds every connection open without
// reading or answering, until the test ends.
func blackHole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}
