package fallback

import "context"

// Cache stores the last valid result per [Key]. Implementations are safe
// for concurrent use. An error from either method means the backend failed,
// not that the key is absent: callers treat it as a miss and carry on.
type Cache interface {
	// Get returns the entry stored under key and true, or false when
	// there is none or it has expired.
	Get(ctx context.Context, key string) (Entry, bool, error)
	// Put stores e under key, replacing any entry there.
	Put(ctx context.Context, key string, e Entry) error
}

// CacheFuncs adapts two functions to [Cache], so that a fake is a closure.
// A nil GetFunc always misses; a nil PutFunc discards.
type CacheFuncs struct {
	GetFunc func(ctx context.Context, key string) (Entry, bool, error)
	PutFunc func(ctx context.Context, key string, e Entry) error
}

// Get calls f.GetFunc, or misses when it is nil.
func (f CacheFuncs) Get(ctx context.Context, key string) (Entry, bool, error) {
	if f.GetFunc == nil {
		return Entry{}, false, nil
	}
	return f.GetFunc(ctx, key)
}

// Put calls f.PutFunc, or does nothing when it is nil.
func (f CacheFuncs) Put(ctx context.Context, key string, e Entry) error {
	if f.PutFunc == nil {
		return nil
	}
	return f.PutFunc(ctx, key, e)
}

var (
	_ Cache = CacheFuncs{}
	_ Cache = (*Memory)(nil)
	_ Cache = (*Redis)(nil)
	_ Cache = (*Guarded)(nil)
)
