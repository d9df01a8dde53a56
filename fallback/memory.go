package fallback

import (
	"bytes"
	"container/list"
	"context"
	"sync"
	"time"
)

// Defaults for [MemoryOptions] and [RedisOptions].
const (
	DefaultMaxEntries = 1000
	DefaultTTL        = time.Hour
)

// MemoryOptions configures [NewMemory]. The zero value means the defaults.
type MemoryOptions struct {
	// MaxEntries bounds the number of entries; the least recently used
	// one is evicted to make room. Zero or less means [DefaultMaxEntries].
	MaxEntries int
	// TTL is how long an entry is served after Put. Zero or less means
	// [DefaultTTL].
	TTL time.Duration
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Memory is a [Cache] in process memory: an LRU bounded by entry count,
// whose entries expire a TTL after they were put. Expired entries are
// misses and are removed when Get meets them or when they reach the LRU
// end; nothing runs in the background. Memory is safe for concurrent use.
//
// Entries are copied in and out, so neither the caller's buffers nor the
// cache's can change under the other.
type Memory struct {
	maxEntries int
	ttl        time.Duration
	now        func() time.Time

	mu      sync.Mutex
	order   *list.List // of *memoryItem, most recently used first
	entries map[string]*list.Element
}

type memoryItem struct {
	key     string
	entry   Entry
	expires time.Time
}

// NewMemory returns an empty Memory.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Memory{
		maxEntries: opts.MaxEntries,
		ttl:        opts.TTL,
		now:        opts.Now,
		order:      list.New(),
		entries:    make(map[string]*list.Element),
	}
}

// Get returns the entry under key unless it is absent or expired, and marks
// it most recently used. It never returns an error; ctx is unused.
func (m *Memory) Get(_ context.Context, key string) (Entry, bool, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.entries[key]
	if !ok {
		return Entry{}, false, nil
	}
	it := el.Value.(*memoryItem)
	if !now.Before(it.expires) {
		m.remove(el)
		return Entry{}, false, nil
	}
	m.order.MoveToFront(el)
	return cloneEntry(it.entry), true, nil
}

// Put stores a copy of e under key for the TTL, setting StoredAt from the
// clock when it is zero, and evicts the least recently used entry when the
// cache is full. It never returns an error; ctx is unused.
func (m *Memory) Put(_ context.Context, key string, e Entry) error {
	now := m.now()
	e = cloneEntry(e)
	if e.StoredAt.IsZero() {
		e.StoredAt = now
	}
	expires := now.Add(m.ttl)
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.entries[key]; ok {
		it := el.Value.(*memoryItem)
		it.entry, it.expires = e, expires
		m.order.MoveToFront(el)
		return nil
	}
	for m.order.Len() >= m.maxEntries {
		m.remove(m.order.Back())
	}
	m.entries[key] = m.order.PushFront(&memoryItem{key: key, entry: e, expires: expires})
	return nil
}

// Len returns the number of entries held, expired ones not yet removed
// included.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}

func (m *Memory) remove(el *list.Element) {
	m.order.Remove(el)
	delete(m.entries, el.Value.(*memoryItem).key)
}

func cloneEntry(e Entry) Entry {
	e.Message = bytes.Clone(e.Message)
	return e
}
