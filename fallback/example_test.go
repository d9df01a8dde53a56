package fallback_test

import (
	"context"
	"fmt"
	"time"

	"github.com/guardgen/guardgen/fallback"
)

func ExampleKey() {
	scope := fallback.Scope{
		TargetType:     "guardgen.examples.v1.TicketClassification",
		DescriptorHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Model:          "default/gpt-4o-mini",
		Caller:         "tenant:acme",
		Prompt:         "  Classify:\n my invoice is WRONG ",
	}
	a := fallback.Key(scope)
	scope.Prompt = "classify: my invoice is wrong"
	b := fallback.Key(scope)
	scope.Caller = "tenant:other"
	c := fallback.Key(scope)
	fmt.Println(a)
	fmt.Println(a == b, a == c)
	// Output:
	// gg:v2:guardgen.examples.v1.TicketClassification:9f86d081884c7d65:default/gpt-4o-mini:4727c819881f7ed1ab46469574143c78341a49ec0bf9531b98e2e2b593d9cd85
	// true false
}

func ExampleMemory() {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	cache, err := fallback.NewMemory(fallback.MemoryOptions{MaxEntries: 1000, TTL: time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}

	key := fallback.Key(fallback.Scope{TargetType: "guardgen.examples.v1.TicketClassification", DescriptorHash: "9f86d081884c7d65",
		Model: "gpt-4o-mini", Prompt: "my invoice is wrong"})
	_ = cache.Put(ctx, key, fallback.Entry{Message: []byte{0x0a, 0x07, 'b', 'i', 'l', 'l', 'i', 'n', 'g'}, Model: "gpt-4o-mini"})

	now = now.Add(10 * time.Minute) // later, generation fails and degrades to the cache
	if e, ok, err := cache.Get(ctx, key); err == nil && ok {
		fmt.Println(e.Model, len(e.Message), "bytes, age", fallback.Age(e, now))
	}
	now = now.Add(time.Hour)
	_, ok, _ := cache.Get(ctx, key)
	fmt.Println("after the TTL:", ok)
	// Output:
	// gpt-4o-mini 9 bytes, age 10m0s
	// after the TTL: false
}
