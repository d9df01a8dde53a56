package schema

import (
	"container/list"
	"errors"
	"sync"
)

// targetCache keeps the most recently used request-defined targets. Callers
// asking for a key that is being built wait for that build instead of
// starting their own. Failed builds are not kept.
type targetCache struct {
	mu      sync.Mutex
	size    int
	order   *list.List // of *cacheEntry, most recent first
	entries map[string]*list.Element
}

type cacheEntry struct {
	key    string
	done   chan struct{} // closed when t and err are set
	target *Target
	err    error
}

func newTargetCache(size int) *targetCache {
	return &targetCache{size: size, order: list.New(), entries: make(map[string]*list.Element)}
}

// errBuildPanicked is what waiters see when the build they waited for panicked.
var errBuildPanicked = errors.New("schema: target build panicked")

// get returns the target cached under key, building it with build on a miss.
func (c *targetCache) get(key string, build func() (*Target, error)) (*Target, error) {
	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		c.order.MoveToFront(el)
		e := el.Value.(*cacheEntry)
		c.mu.Unlock()
		<-e.done
		return e.target, e.err
	}
	e := &cacheEntry{key: key, done: make(chan struct{})}
	c.entries[key] = c.order.PushFront(e)
	for c.order.Len() > c.size {
		c.remove(c.order.Back())
	}
	c.mu.Unlock()

	defer func() {
		if e.target == nil && e.err == nil {
			e.err = errBuildPanicked
		}
		close(e.done)
		if e.err != nil {
			c.mu.Lock()
			if el, ok := c.entries[key]; ok && el.Value == e {
				c.remove(el)
			}
			c.mu.Unlock()
		}
	}()
	e.target, e.err = build()
	return e.target, e.err
}

// len returns the number of entries, for tests.
func (c *targetCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

func (c *targetCache) remove(el *list.Element) {
	c.order.Remove(el)
	delete(c.entries, el.Value.(*cacheEntry).key)
}
