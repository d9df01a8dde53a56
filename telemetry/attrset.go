package telemetry

import (
	"slices"
	"sync"
	"sync/atomic"

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
// tenth of guardgen's allocations (profiled under bench/run.sh).
type attrSets struct {
	m sync.Map // setKey → metric.MeasurementOption
	n atomic.Int64
}

// option returns the cached option for k, building it with kvs on a miss.
func (s *attrSets) option(k setKey, kvs ...attribute.KeyValue) metric.MeasurementOption {
	if o, ok := s.m.Load(k); ok {
		return o.(metric.MeasurementOption)
	}
	// NewSet sorts the slice it is given: a copy, so that kvs does not
	// escape and callers' variadic arguments stay on their stacks on the
	// path that finds the set cached.
	o := metric.WithAttributeSet(attribute.NewSet(slices.Clone(kvs)...))
	if s.n.Load() < maxCachedSets {
		if _, loaded := s.m.LoadOrStore(k, o); !loaded {
			s.n.Add(1)
		}
	}
	return o
}
