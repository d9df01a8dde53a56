package telemetry

import (
	"slices"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// maxCachedSets bounds the attribute-set cache. Label values are already
// bounded (boundedLabel, fixed enums), so in practice the cache holds the
// few dozen combinations a deployment sees; past the bound, sets are built
// per call as before.
const maxCachedSets = 4096

// setKey identifies one combination of label values of one instrument use.
type setKey struct {
	use           uint8
	a, b, c, d, e string
	n             int
}

// Instrument uses, so that equal label values on different instruments do
// not share a set.
const (
	useRequest uint8 = iota + 1
	useRequestDuration
	useProviderCall
	useProviderDuration
	useTokens
	useConfidence
	useVerification
	useCost
	useGenAIDuration
	useGenAITokens
	useFirstPartial
	usePartials
)

// attrSets caches metric options with pre-built attribute sets: building a
// set sorts and copies its attributes, which on the request path was a
// tenth of guardgen's allocations (profiled under bench/run.sh). The map is
// typed, not a sync.Map, whose interface keys boxed the struct key on every
// lookup; and each set is kept as the option slices instruments take, so
// that passing one allocates no variadic slice either
// (TestRecordingAllocatesNothing).
type attrSets struct {
	mu sync.RWMutex
	m  map[setKey]measured
}

// measured is one attribute set as the options of Add and Record.
type measured struct {
	add []metric.AddOption
	rec []metric.RecordOption
}

// option returns the cached options for k, building them with kvs on a
// miss.
func (s *attrSets) option(k setKey, kvs ...attribute.KeyValue) measured {
	s.mu.RLock()
	o, ok := s.m[k]
	s.mu.RUnlock()
	if ok {
		return o
	}
	// NewSet sorts the slice it is given: a copy, so that kvs does not
	// escape and callers' variadic arguments stay on their stacks on the
	// path that finds the set cached.
	opt := metric.WithAttributeSet(attribute.NewSet(slices.Clone(kvs)...))
	o = measured{add: []metric.AddOption{opt}, rec: []metric.RecordOption{opt}}
	s.mu.Lock()
	if len(s.m) < maxCachedSets {
		if s.m == nil {
			s.m = make(map[setKey]measured)
		}
		s.m[k] = o
	}
	s.mu.Unlock()
	return o
}
