package fallback_test

import (
	"context"
	"fmt"
	"time"

	"github.com/guardgen/guardgen/fallback"
)

func ExampleKey() {
	a := fallback.Key("guardgen.examples.v1.TicketClassification",
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"  Classify:\n my invoice is WRONG ", "gpt-4o-mini")
	b := fallback.Key("guardgen.examples.v1.TicketClassification",
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"classify: my invoice is wrong", "gpt-4o-mini")
	fmt.Println(a)
	fmt.Println(a == b)
	// Output:
	// gg:v1:guardgen.examples.v1.TicketClassification:9f86d081884c7d65:gpt-4o-mini:5bf04621052397895ca6909f262d83471e71439a946fb999f10ee481ae9ae5cb
	// true
}

func ExampleMemory() {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	cache := fallback.NewMemory(fallback.MemoryOptions{TTL: time.Hour, Now: func() time.Time { return now }})

	key := fallback.Key("guardgen.examples.v1.TicketClassification", "9f86d081884c7d65", "my invoice is wrong", "gpt-4o-mini")
	_ = cache.Put(ctx, key, fallback.Entry{JSON: `{"category":"billing"}`, Model: "gpt-4o-mini"})

	now = now.Add(10 * time.Minute) // later, generation fails and degrades to the cache
	if e, ok, err := cache.Get(ctx, key); err == nil && ok {
		fmt.Println(e.JSON, "age", fallback.Age(e, now))
	}
	now = now.Add(time.Hour)
	_, ok, _ := cache.Get(ctx, key)
	fmt.Println("after the TTL:", ok)
	// Output:
	// {"category":"billing"} age 10m0s
	// after the TTL: false
}
