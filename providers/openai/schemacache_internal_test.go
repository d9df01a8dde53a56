package openai

import (
	"fmt"
	"sync"
	"testing"
)

// TestSchemaCacheBounded: the strict-schema cache holds at most
// schemaCacheSize schemas, drops the least recently used first, and keeps
// a rejection for as long as it holds the schema.
func TestSchemaCacheBounded(t *testing.T) {
	t.Parallel()
	c := newSchemaCache()
	schema := func(i int) string {
		return fmt.Sprintf(`{"type":"object","properties":{"f%d":{"type":"string"}},"required":["f%d"]}`, i, i)
	}
	c.reject(schema(0))
	for i := 1; i < schemaCacheSize+10; i++ {
		c.strict(schema(i))
		c.strict(schema(0)) // keeps the rejected schema recently used
	}
	if n := c.entries.Len(); n != schemaCacheSize {
		t.Errorf("cache holds %d schemas, want %d", n, schemaCacheSize)
	}
	if r := c.strict(schema(0)); !r.rejected || r.err != nil || r.schema == nil {
		t.Errorf("rejected schema after churn: rejected %v, err %v, converted %v; want rejected and converted", r.rejected, r.err, r.schema != nil)
	}
	if _, ok := c.entries.Peek(schema(1)); ok {
		t.Error("the least recently used schema is still cached")
	}
}

// TestSchemaCacheConcurrent: concurrent requests for one schema agree on
// its conversion (run with -race).
func TestSchemaCacheConcurrent(t *testing.T) {
	t.Parallel()
	c := newSchemaCache()
	const s = `{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}`
	want := string(c.strict(s).schema)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if got := string(c.strict(s).schema); got != want {
				t.Errorf("conversion = %s, want %s", got, want)
			}
		})
	}
	wg.Wait()
}
