package openai

import (
	"fmt"
	"sync"
	"testing"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// TestTargetCacheBounded: the prepared-target cache holds at most
// targetCacheSize targets, drops the least recently used first, and keeps
// a strict-mode rejection for as long as it holds the target.
func TestTargetCacheBounded(t *testing.T) {
	t.Parallel()
	ts := newTargets(ModeJSONSchema)
	schema := func(i int) *providerv1.OutputSchema {
		return &providerv1.OutputSchema{Name: "acme.v1.T", Strict: true, JsonSchema: fmt.Sprintf(`{"type":"object","properties":{"f%d":{"type":"string"}},"required":["f%d"]}`, i, i)}
	}
	get := func(i int) *target {
		t.Helper()
		tg, err := ts.get(schema(i))
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	get(0).reject()
	for i := 1; i < targetCacheSize+10; i++ {
		get(i)
		get(0) // keeps the rejected target recently used
	}
	if n := ts.cache.Len(); n != targetCacheSize {
		t.Errorf("cache holds %d targets, want %d", n, targetCacheSize)
	}
	if tg := get(0); !tg.rejected.Load() || tg.strict == nil {
		t.Errorf("rejected target after churn: rejected %v, strict form %v; want rejected with a strict form", tg.rejected.Load(), tg.strict != nil)
	}
	first := schema(1)
	if _, ok := ts.cache.Peek(targetKey{name: first.GetName(), schema: first.GetJsonSchema(), strict: true}); ok {
		t.Error("the least recently used target is still cached")
	}
}

// TestTargetCacheConcurrent: concurrent requests for one schema share one
// prepared target (run with -race).
func TestTargetCacheConcurrent(t *testing.T) {
	t.Parallel()
	ts := newTargets(ModeJSONSchema)
	s := &providerv1.OutputSchema{Name: "acme.v1.T", Strict: true, JsonSchema: `{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}`}
	got := make([]*target, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			tg, err := ts.get(s)
			if err != nil {
				t.Error(err)
			}
			got[i] = tg
		})
	}
	wg.Wait()
	for i, tg := range got {
		if tg != got[0] {
			t.Errorf("request %d got another target than request 0", i)
		}
	}
}
