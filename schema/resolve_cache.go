package schema

import (
	"context"
	"fmt"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/sync/singleflight"
)

// targetCache keeps the most recently used request-defined targets, bounded
// both by count and by their estimated bytes ([Target.footprint]): one
// distinct set can weigh a few KiB or many MiB, so a count alone bounds
// nothing. golang-lru keeps the order; the byte weight is added here by
// evicting the least recently used entries until the total fits, which is
// the greedy LRU policy for weighted entries. Callers asking for a key that
// is being built share that build (singleflight) and stop waiting when
// their context ends. Failed builds are not kept.
type targetCache struct {
	mu       sync.Mutex
	lru      *simplelru.LRU[string, *Target]
	bytes    int64
	maxBytes int64
	flight   singleflight.Group
}

func newTargetCache(entries int, maxBytes int64) *targetCache {
	c := &targetCache{maxBytes: maxBytes}
	// NewLRU fails only for a size below 1, which the resolver never passes.
	c.lru, _ = simplelru.NewLRU(entries, func(_ string, t *Target) { c.bytes -= t.footprint() })
	return c
}

// get returns the target cached under key, building it with build on a
// miss. A target heavier than the whole cache is refused by build's caller
// before it gets here.
func (c *targetCache) get(ctx context.Context, key string, build func() (*Target, error)) (*Target, error) {
	c.mu.Lock()
	t, ok := c.lru.Get(key)
	c.mu.Unlock()
	if ok {
		return t, nil
	}
	ch := c.flight.DoChan(key, func() (_ any, err error) {
		defer func() {
			// A panic must not reach singleflight, which re-panics it
			// in a new goroutine and so ends the process.
			if p := recover(); p != nil {
				err = fmt.Errorf("schema: target build panicked: %v", p)
			}
		}()
		t, err := build()
		if err != nil {
			return nil, err
		}
		c.add(key, t)
		return t, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Target), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *targetCache) add(key string, t *Target) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lru.Contains(key) {
		return
	}
	c.lru.Add(key, t)
	c.bytes += t.footprint()
	for c.bytes > c.maxBytes && c.lru.Len() > 1 {
		c.lru.RemoveOldest()
	}
}

// stats returns the entry count and estimated bytes, for tests.
func (c *targetCache) stats() (int, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.bytes
}
