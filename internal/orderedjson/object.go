package orderedjson

import "iter"

// Object is a JSON object that keeps its members in insertion order. The
// zero value is an empty object ready to use.
type Object struct {
	keys []string
	vals map[string]any
}

// New returns an empty object with room for capacity members.
func New(capacity int) *Object {
	return &Object{keys: make([]string, 0, capacity), vals: make(map[string]any, capacity)}
}

// Set sets member key to v, in place when key is already there, else
// last, and returns o so that schemas can be written in one expression.
func (o *Object) Set(key string, v any) *Object {
	if o.vals == nil {
		o.vals = make(map[string]any)
	}
	if _, ok := o.vals[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.vals[key] = v
	return o
}

// Get returns member key and whether o has it.
func (o *Object) Get(key string) (any, bool) {
	v, ok := o.vals[key]
	return v, ok
}

// Has reports whether o has member key.
func (o *Object) Has(key string) bool {
	_, ok := o.vals[key]
	return ok
}

// Len is the number of members.
func (o *Object) Len() int { return len(o.keys) }

// Keys returns the member keys in order; the caller must not change the
// slice.
func (o *Object) Keys() []string { return o.keys }

// All yields the members in order.
func (o *Object) All() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		for _, k := range o.keys {
			if !yield(k, o.vals[k]) {
				return
			}
		}
	}
}

// Clone returns a shallow copy of o: the members' values are shared.
func (o *Object) Clone() *Object {
	c := New(o.Len())
	for k, v := range o.All() {
		c.Set(k, v)
	}
	return c
}

// Value returns member key, or nil when o has none; for type assertions
// such as o.Value("properties").(*Object).
func (o *Object) Value(key string) any { return o.vals[key] }
