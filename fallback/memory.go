package fallback

import (
	"bytes"
	"context"
	"fmt"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// MemoryOptions configures [NewMemory]. Both bounds are required:
// config.Default holds the defaults (1000 entries, one hour).
type MemoryOptions struct {
	// MaxEntries bounds the number of entries; the least recently used
	// one is evicted to make room. At least 1.
	MaxEntries int
	// TTL is how long an entry is served after Put; positive.
	TTL time.Duration
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Memory is a [Cache] in process memory: golang-lru's LRU bounded by entry
// count, whose entries expire a TTL after they were put. Expired entries
// are misses and are removed when Get meets them or when they reach the
// LRU end; nothing runs in the background. (golang-lru's expirable LRU
// would expire them by itself, but at v2.0.7 its cleanup goroutine never
// exits, and it reads the wall clock, where Memory's clock is injected.)
// Memory is safe for concurrent use.
//
// Entries are copied in and out, so neither the caller's buffers nor the
// cache's can change under the other.
type Memory struct {
	ttl     time.Duration
	now     func() time.Time
	entries *lru.Cache[string, memoryItem]
}

type memoryItem struct {
	entry   Entry
	expires time.Time
}

// NewMemory returns an empty Memory, or an error for bounds under which
// it could hold nothing.
func NewMemory(opts MemoryOptions) (*Memory, error) {
	if opts.MaxEntries < 1 || opts.TTL <= 0 {
		return nil, fmt.Errorf("fallback: a memory cache needs MaxEntries of at least 1 and a positive TTL (got %d, %s)", opts.MaxEntries, opts.TTL)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	entries, err := lru.New[string, memoryItem](opts.MaxEntries)
	if err != nil {
		return nil, fmt.Errorf("fallback: %w", err)
	}
	return &Memory{ttl: opts.TTL, now: opts.Now, entries: entries}, nil
}

// Get returns the entry under key unless it is absent or expired, and marks
// it most recently used. It never returns an error; ctx is unused.
func (m *Memory) Get(_ context.Context, key string) (Entry, bool, error) {
	it, ok := m.entries.Get(key)
	if !ok {
		return Entry{}, false, nil
	}
	if !m.now().Before(it.expires) {
		// A Put between the Get and this Remove loses its fresh entry:
		// a later miss, never a stale hit.
		m.entries.Remove(key)
		return Entry{}, false, nil
	}
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
	m.entries.Add(key, memoryItem{entry: e, expires: now.Add(m.ttl)})
	return nil
}

// Len returns the number of entries held, expired ones not yet removed
// included.
func (m *Memory) Len() int { return m.entries.Len() }

func cloneEntry(e Entry) Entry {
	e.Message = bytes.Clone(e.Message)
	return e
}
