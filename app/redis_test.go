package app_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/guardgen/guardgen/app"
	"github.com/guardgen/guardgen/app/apptest"
	"github.com/guardgen/guardgen/fallback/redistest"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// redisConfig is a configuration with the Redis cache at addr; extra is
// added under cache.
const redisConfig = `
cache:
  backend: redis
  hmac_key_env: CACHE_KEY
  redis:
    address: %s
%s`

// cacheKeyEnv holds the cache's authentication key for redisConfig.
var cacheKeyEnv = app.Options{Getenv: func(k string) string {
	if k == "CACHE_KEY" {
		return "a test key for the cache, 32 bytes or more"
	}
	return ""
}}

// metric returns the value of the series of family whose labels include
// labels (counter or gauge), 0 when there is none.
func metric(t *testing.T, srv *apptest.Server, family string, labels map[string]string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	srv.App.Metrics().Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
next:
	for _, m := range families[family].GetMetric() {
		for k, v := range labels {
			found := false
			for _, lp := range m.GetLabel() {
				found = found || (lp.GetName() == k && lp.GetValue() == v)
			}
			if !found {
				continue next
			}
		}
		return m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return 0
}

// TestFrozenRedisKeepsOKCalls: with Redis frozen (SIGSTOP), successful
// calls do not wait for their cache writes, even with a 30 s cache timeout
// that a write on the request path would wait out past every call's 5 s
// deadline; with max_in_flight at the client's concurrency, a slow call
// would also get others shed. None is: all are OK, excess writes are
// dropped and counted. After Redis thaws, answers are stored and served
// again.
func TestFrozenRedisKeepsOKCalls(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	cfg := parse(t, fmt.Sprintf(redisConfig, redis.Addr, "  timeout_seconds: 30\n  write_queue: 4\n")+"server:\n  max_in_flight: 4\n")
	srv := apptest.Start(t, cfg, cacheKeyEnv)
	c := guardgenv1.NewGenerationServiceClient(srv.Dial(t))
	call := caller(t, c)
	if _, err := call("warm up", ""); err != nil {
		t.Fatal(err)
	}

	redis.Freeze()
	const workers, perWorker = 4, 25
	var mu sync.Mutex
	codesSeen := map[codes.Code]int{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				_, err := call(fmt.Sprintf("frozen redis prompt %d-%d", w, i), "")
				mu.Lock()
				codesSeen[status.Code(err)]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if codesSeen[codes.OK] != workers*perWorker {
		t.Errorf("with Redis frozen: %v, want %d OK", codesSeen, workers*perWorker)
	}
	if n := metric(t, srv, "llm_pipeline_cache_writes_total", map[string]string{"result": "dropped"}); n == 0 {
		t.Error("no cache write counted as dropped with a full queue behind a frozen Redis")
	}
	if n := metric(t, srv, "llm_pipeline_requests_shed_total", nil); n != 0 {
		t.Errorf("%v requests shed with Redis frozen, want 0", n)
	}

	redis.Thaw()
	const prompt = "asked again after Redis thawed"
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		// Asked anew each time: a write made while the queue still drains
		// what the freeze held back may be dropped.
		if _, err := call(prompt, ""); err != nil {
			t.Fatal(err)
		}
		resp, err := call(prompt, "length")
		if err == nil && resp.GetDegradation().GetMetadata()["degradation"] == "cache" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the thaw, a truncated call = %v, %v; want the cached answer", resp, err)
		}
	}
}

// TestRedisBreaker: a Redis that stops answering turns the cache off after
// consecutive failed reads (later lookups are "off", answered at once
// without asking Redis) and back on after it recovers.
func TestRedisBreaker(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	cfg := parse(t, fmt.Sprintf(redisConfig, redis.Addr,
		"  timeout_seconds: 0.05\n  breaker: {consecutive_failures: 2, open_seconds: 0.3, probe_timeout_seconds: 0.05}\n"))
	srv := apptest.Start(t, cfg, cacheKeyEnv)
	c := guardgenv1.NewGenerationServiceClient(srv.Dial(t))
	call := caller(t, c)
	const prompt = "My parcel never arrived"
	if _, err := call(prompt, ""); err != nil {
		t.Fatal(err)
	}
	cached := func() bool {
		resp, err := call(prompt, "length")
		return err == nil && resp.GetDegradation().GetMetadata()["degradation"] == "cache"
	}
	for deadline := time.Now().Add(10 * time.Second); !cached(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the answer never reached the cache")
		}
		// Under load (the race detector, other packages' tests) the one
		// write can miss its 50 ms: answer again, so it is written again.
		_, _ = call(prompt, "")
	}

	redis.Freeze()
	for range 5 {
		if _, err := call(prompt, "length"); status.Code(err) != codes.Aborted {
			t.Errorf("truncated call with Redis frozen = %v, want ABORTED (no cache)", err)
		}
	}
	if n := metric(t, srv, "llm_pipeline_cache_lookups_total", map[string]string{"result": "off"}); n == 0 {
		t.Error("no lookup answered \"off\" after consecutive failures")
	}
	if s := metric(t, srv, "llm_pipeline_cache_breaker_state", map[string]string{"backend": "redis"}); s == 0 {
		t.Error("cache breaker gauge says closed with Redis frozen")
	}

	redis.Thaw()
	for deadline := time.Now().Add(20 * time.Second); !cached(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the cache did not come back after Redis thawed")
		}
	}
	if s := metric(t, srv, "llm_pipeline_cache_breaker_state", map[string]string{"backend": "redis"}); s != 0 {
		t.Errorf("cache breaker gauge %v after recovery, want 0 (closed)", s)
	}
}
