package telemetry

import (
	"context"
	"maps"
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

// setKey identifies one combination of label values of one instrument use;
// attributes turns it into the labels, so a recording names each value
// once.
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
//
// The sets of the counted uses (see counted) also hold their counter's
// running total.
type attrSets struct {
	// m is read without a lock, by every recording: a read-write mutex
	// here was a write to one shared word per recording, nine per
	// request, bouncing between cores (BenchmarkRecord). A new set
	// replaces the map with a copy (build, under mu); sets are few and
	// built once.
	m  atomic.Pointer[map[setKey]measured]
	mu sync.Mutex
}

// measured is one attribute set as the options of Add, Record and
// Observe, and, for a counted use, the counter's total for the set.
type measured struct {
	add   []metric.AddOption
	rec   []metric.RecordOption
	obs   []metric.ObserveOption
	total *atomic.Int64
}

// counted reports whether use is one of the counters that guardgen keeps
// itself, as atomic totals reported when the metrics are collected
// (Metrics.observe), rather than through the SDK on every request: a
// synchronous Add resolves and deduplicates the attribute set and looks
// it up in the aggregator's map each time, which for the request and
// provider-call counters was 3 % of the synthetic provider's CPU. They
// lose exemplars, which the latency histograms beside them keep.
func counted(use uint8) bool {
	return use == useRequest || use == useProviderCall || use == useTokens
}

// option returns the cached options for k, building them on a miss. The
// hit is all a recording pays: the attributes are built in build, whose
// frame is on the stack only then, and k is passed by reference, not as
// twelve words in the frame of every recording (recordings run at the
// bottom of a provider call's stack, see TestHandlerStackStaysSmall in
// package app).
func (s *attrSets) option(k *setKey) measured {
	if m := s.m.Load(); m != nil {
		if o, ok := (*m)[*k]; ok {
			return o
		}
	}
	return s.build(k)
}

// build makes and caches the options of k. Past maxCachedSets only the
// counted uses are cached, since their totals live here; their label
// values are bounded (boundedLabel, fixed enums), and so is their number.
func (s *attrSets) build(k *setKey) measured {
	opt := metric.WithAttributeSet(attribute.NewSet(k.attributes()...))
	o := measured{add: []metric.AddOption{opt}, rec: []metric.RecordOption{opt}, obs: []metric.ObserveOption{opt}}
	if counted(k.use) {
		o.total = new(atomic.Int64)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var old map[setKey]measured
	if m := s.m.Load(); m != nil {
		old = *m
	}
	if prev, ok := old[*k]; ok {
		return prev // built by another recording meanwhile: one total per set
	}
	if len(old) < maxCachedSets || o.total != nil {
		m := make(map[setKey]measured, len(old)+1)
		maps.Copy(m, old)
		m[*k] = o
		s.m.Store(&m)
	}
	return o
}

// count adds v to the total of k, a counted use.
func (s *attrSets) count(k *setKey, v int64) {
	s.option(k).total.Add(v)
}

// observe reports every counted total to o, each through the instrument
// of its use.
func (s *attrSets) observe(o metric.Observer, instrument func(use uint8) metric.Int64Observable) {
	m := s.m.Load()
	if m == nil {
		return
	}
	for k, e := range *m {
		if e.total != nil {
			o.ObserveInt64(instrument(k.use), e.total.Load(), e.obs...)
		}
	}
}

// add, addFloat, record and recordInt make one measurement with the
// cached set of k. Each is a call of its own, so that a recording
// function's frame holds its key, not the options and variadic slices of
// every measurement it makes: the provider call's recordings run at the
// bottom of its stack (see TestHandlerStackStaysSmall in package app).
func (s *attrSets) add(ctx context.Context, c metric.Int64Counter, k *setKey, v int64) {
	c.Add(ctx, v, s.option(k).add...)
}

func (s *attrSets) addFloat(ctx context.Context, c metric.Float64Counter, k *setKey, v float64) {
	c.Add(ctx, v, s.option(k).add...)
}

func (s *attrSets) record(ctx context.Context, h metric.Float64Histogram, k *setKey, v float64) {
	h.Record(ctx, v, s.option(k).rec...)
}

func (s *attrSets) recordInt(ctx context.Context, h metric.Int64Histogram, k *setKey, v int64) {
	h.Record(ctx, v, s.option(k).rec...)
}

// attributes are the labels of k's instrument use, from its values.
func (k setKey) attributes() []attribute.KeyValue {
	switch k.use {
	case useRequest:
		return []attribute.KeyValue{attribute.String(labelOutcome, k.a), attribute.String(labelDomain, k.b),
			attribute.String(labelAction, k.c), attribute.String(labelReason, k.d), attribute.String(labelTarget, k.e)}
	case useRequestDuration:
		return []attribute.KeyValue{attribute.String(labelOutcome, k.a), attribute.String(labelTarget, k.b)}
	case useProviderCall, useProviderDuration:
		return []attribute.KeyValue{attribute.String(labelProvider, k.a), attribute.String(labelModel, k.b), attribute.String(labelOutcome, k.c)}
	case useTokens:
		return []attribute.KeyValue{attribute.String(labelProvider, k.a), attribute.String(labelModel, k.b), attribute.String(labelDirection, k.c)}
	case useCost:
		return []attribute.KeyValue{attribute.String(labelProvider, k.a), attribute.String(labelModel, k.b)}
	case useConfidence, useFirstPartial, usePartials:
		return []attribute.KeyValue{attribute.String(labelTarget, k.a)}
	case useVerification:
		return []attribute.KeyValue{attribute.String(labelTarget, k.a), attribute.String(labelOutcome, k.b)}
	case useGenAIDuration, useGenAITokens:
		return k.genAIAttributes()
	}
	panic("telemetry: attribute set of an unknown instrument use")
}

// genAIAttributes are the labels of the GenAI client metrics: a (the
// provider), b (the request model), c (the server address, when known),
// n (its port, when known), and for a successful call e (the response
// model) and, on the token histogram, d (the token type); for a failed
// call d is error.type instead.
func (k setKey) genAIAttributes() []attribute.KeyValue {
	kvs := []attribute.KeyValue{
		GenAIOperationNameKey.String(GenAIOperation),
		GenAIProviderNameKey.String(k.a),
		GenAIRequestModelKey.String(k.b),
	}
	failed := k.use == useGenAIDuration && k.d != ""
	if !failed {
		kvs = append(kvs, GenAIResponseModelKey.String(k.e))
	}
	if k.c != "" {
		kvs = append(kvs, attribute.String("server.address", k.c))
	}
	if k.n > 0 {
		kvs = append(kvs, attribute.Int("server.port", k.n))
	}
	switch {
	case failed:
		kvs = append(kvs, ErrorTypeKey.String(k.d))
	case k.use == useGenAITokens:
		kvs = append(kvs, attribute.String("gen_ai.token.type", k.d))
	}
	return kvs
}
