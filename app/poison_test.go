package app_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/guardgen/guardgen/app/apptest"
	"github.com/guardgen/guardgen/fallback"
	"github.com/guardgen/guardgen/fallback/redistest"
	examplesv1 "github.com/guardgen/guardgen/gen/guardgen/examples/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestPoisonedRedisEntriesAreRefused writes poisoned entries straight into
// redis-server under the key of a request guardgen has answered (some as a
// replica holding the authentication key would, some as anyone else with
// access to Redis could) and sends the request again with its output
// truncated, so that it degrades to the cache. Each poisoned entry is
// refused, counted by reason and logged, never served; a sound entry
// written the same way is served, so the refusals are the checks' doing.
func TestPoisonedRedisEntriesAreRefused(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	const ttl = time.Hour
	// Reads get room: under load a 100 ms read of a 30 MiB entry times
	// out, which is a miss (and a breaker failure), not the refusal this
	// test is about.
	cfg := parse(t, strings.Replace(fmt.Sprintf(redisConfig, srv.Addr, ""), "cache:\n", "cache:\n  timeout_seconds: 10\n", 1))
	logs := &syncBuffer{}
	opts := cacheKeyEnv
	opts.LogOutput = logs
	gg := apptest.Start(t, cfg, opts)
	c := guardgenv1.NewGenerationServiceClient(gg.Dial(t))
	const prompt = "I was charged twice for my subscription this month"
	call := func(plan string) (*guardgenv1.GenerateResponse, error) {
		return generateCtx(t.Context(), c, prompt, plan)
	}
	if _, err := call(""); err != nil {
		t.Fatal(err)
	}

	// The request's key: the one key guardgen has written.
	raw := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	defer raw.Close()
	var key string
	for deadline := time.Now().Add(10 * time.Second); key == ""; time.Sleep(10 * time.Millisecond) {
		keys, err := raw.Keys(t.Context(), "guardgen:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) == 1 {
			key = keys[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("keys in Redis: %v, want the one guardgen wrote", keys)
		}
	}
	// A replica holding the key writes what it likes; so does anyone with
	// a different key.
	bounds := fallback.RedisOptions{Addr: srv.Addr, KeyPrefix: "guardgen:", TTL: time.Hour,
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second}
	replicaOpts, strangerOpts := bounds, bounds
	replicaOpts.HMACKey, replicaOpts.MaxEntryBytes = []byte(cacheKeyEnv.Getenv("CACHE_KEY")), 64<<20
	strangerOpts.HMACKey, strangerOpts.MaxEntryBytes = []byte("not the deployment's key, but 32 bytes long"), 1<<20
	replica, err := fallback.NewRedis(replicaOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Close()
	stranger, err := fallback.NewRedis(strangerOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()

	const ticketURL = "type.googleapis.com/guardgen.examples.v1.TicketClassification"
	wire := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := wire(&examplesv1.TicketClassification{Category: "account", Priority: 4, Summary: "planted by the test"})
	now := time.Now()
	sound := fallback.Entry{TypeURL: ticketURL, Message: good, Model: "m", StoredAt: now}
	with := func(change func(*fallback.Entry)) fallback.Entry {
		e := sound
		change(&e)
		return e
	}
	unknownField := protowire.AppendTag(append([]byte(nil), good...), 99, protowire.BytesType)
	unknownField = protowire.AppendBytes(unknownField, []byte("from another type"))
	short := strings.TrimPrefix(key, "guardgen:")
	poisons := []struct {
		reason string
		write  func() error
	}{
		{"type", func() error {
			return replica.Put(t.Context(), short, with(func(e *fallback.Entry) {
				e.TypeURL = "type.googleapis.com/guardgen.examples.v1.IncidentReport"
				e.Message = wire(&examplesv1.IncidentReport{Title: "not a ticket"})
			}))
		}},
		{"undecodable", func() error {
			return replica.Put(t.Context(), short, with(func(e *fallback.Entry) { e.Message = []byte{0xff, 0xff, 0xff, 0x0f, 0x01} }))
		}},
		{"undecodable", func() error {
			return replica.Put(t.Context(), short, with(func(e *fallback.Entry) { e.Message = unknownField }))
		}},
		{"invalid", func() error {
			return replica.Put(t.Context(), short, with(func(e *fallback.Entry) {
				e.Message = wire(&examplesv1.TicketClassification{Category: "billing", Priority: 9, Summary: "priority out of range"})
			}))
		}},
		{"future", func() error {
			return replica.Put(t.Context(), short, with(func(e *fallback.Entry) { e.StoredAt = now.Add(365 * 24 * time.Hour) }))
		}},
		{"expired", func() error {
			return replica.Put(t.Context(), short, with(func(e *fallback.Entry) { e.StoredAt = now.Add(-2 * ttl) }))
		}},
		{"too_large", func() error {
			return replica.Put(t.Context(), short, with(func(e *fallback.Entry) { e.Message = make([]byte, 30<<20) }))
		}},
		{"too_large", func() error { return raw.Set(t.Context(), key, make([]byte, 30<<20), 0).Err() }},
		{"unauthenticated", func() error { return raw.Set(t.Context(), key, "garbage", 0).Err() }},
		{"unauthenticated", func() error { return stranger.Put(t.Context(), short, sound) }},
	}
	for i, p := range poisons {
		if err := p.write(); err != nil {
			t.Fatalf("poison %d (%s): %v", i, p.reason, err)
		}
		before := metric(t, gg, "llm_pipeline_cache_rejected_total", map[string]string{"reason": p.reason})
		resp, err := call("length")
		if status.Code(err) != codes.Aborted || resp.GetDegraded() {
			t.Errorf("poison %d (%s): %v, degraded %v (%s); want ABORTED, nothing served", i, p.reason, err, resp.GetDegraded(), resp.GetJson())
		}
		if after := metric(t, gg, "llm_pipeline_cache_rejected_total", map[string]string{"reason": p.reason}); after != before+1 {
			t.Errorf("poison %d (%s): cache_rejected_total{reason=%q} went from %v to %v, want +1", i, p.reason, p.reason, before, after)
		}
		gg.App.SyncLogs()
		if !strings.Contains(logs.String(), `"reason":"`+p.reason+`"`) {
			t.Errorf("poison %d (%s): no log line names the refusal", i, p.reason)
		}
	}

	if err := replica.Put(t.Context(), short, sound); err != nil {
		t.Fatal(err)
	}
	resp, err := call("length")
	if err != nil || resp.GetDegradation().GetMetadata()["degradation"] != "cache" || !strings.Contains(resp.GetJson(), "planted by the test") {
		t.Errorf("a sound entry: %v, %v; want it served from the cache", resp, err)
	}
}
