package schema

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/guardgen/guardgen/soak/hostile"
)

var ticketJSON = []byte(`{"category":"billing","priority":3,"summary":"Customer was charged twice"}`)

func BenchmarkDecodeValidate(b *testing.B) {
	tg := resolve(b, newResolver(b, Options{}), "guardgen.examples.v1.TicketClassification", nil)
	b.ReportAllocs()
	for b.Loop() {
		m, _, err := tg.Decode(ticketJSON, DecodeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := tg.Validate(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeValidateRequestTarget(b *testing.B) {
	benchmarkOrder(b, true)
}

// BenchmarkDecodeValidateRequestTargetUnguarded is the benchmark above
// without the CEL guard, so that the ratio of the two is the guard's cost.
func BenchmarkDecodeValidateRequestTargetUnguarded(b *testing.B) {
	benchmarkOrder(b, false)
}

// benchmarkOrder decodes and validates one request-defined acme.v1.Order,
// whose message-level CEL rule the guard runs first when guarded.
func benchmarkOrder(b *testing.B, guarded bool) {
	tg := *resolve(b, newResolver(b, Options{}), "acme.v1.Order", orderSet(b))
	if !guarded {
		tg.guard = nil
	}
	data := []byte(`{"id":"9b2f0b1e-4a8e-4a3c-9a57-0c1f2b3d4e5f","items":[{"sku":"ABC-1234","quantity":2}],` +
		`"totalCents":"1999","placedAt":"2024-01-01T00:00:00Z","status":"STATUS_SHIPPED"}`)
	b.ReportAllocs()
	for b.Loop() {
		m, _, err := tg.Decode(data, DecodeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := tg.Validate(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRefuseCELBomb is how long refusing a CEL bomb takes: the set is
// linked and its rule compiled and costed, never run.
func BenchmarkRefuseCELBomb(b *testing.B) {
	r := newResolver(b, Options{})
	bomb := hostile.CELType("bomb", hostile.StringBombRule())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Resolve(bomb.Name, bomb.Set); !errors.Is(err, ErrInvalidDescriptorSet) {
			b.Fatal(err)
		}
	}
}

// BenchmarkRefuseRegexBomb is how long refusing a 13 KB pattern that
// compiles to ~100 MB takes: it is parsed, never compiled.
func BenchmarkRefuseRegexBomb(b *testing.B) {
	r := newResolver(b, Options{})
	bomb := hostile.PatternType("bomb", hostile.RegexBombPattern(0))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Resolve(bomb.Name, bomb.Set); !errors.Is(err, ErrInvalidDescriptorSet) {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeSlowPath(b *testing.B) {
	tg := resolve(b, newResolver(b, Options{}), "guardgen.examples.v1.TicketClassification", nil)
	data := []byte(`{"category":"billing","priority":3,"summary":"Customer was charged twice","confidence":0.9}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := tg.Decode(data, DecodeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResolveCompiledIn(b *testing.B) {
	r := newResolver(b, Options{})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Resolve("guardgen.examples.v1.IncidentReport", nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResolveCachedSet(b *testing.B) {
	r := newResolver(b, Options{})
	set := orderSet(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Resolve("acme.v1.Order", set); err != nil {
			b.Fatal(err)
		}
	}
}

// firstAndLater measures the first Validate of a freshly resolved target
// and a later one: time and heap allocations.
func firstAndLater(tb testing.TB, tg *Target, m proto.Message) (first, later time.Duration, firstAllocs, laterAllocs uint64) {
	tb.Helper()
	measure := func() (time.Duration, uint64) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		err := tg.Validate(m)
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)
		if err != nil {
			tb.Fatal(err)
		}
		return elapsed, after.Mallocs - before.Mallocs
	}
	first, firstAllocs = measure()
	later, laterAllocs = measure()
	return first, later, firstAllocs, laterAllocs
}

// BenchmarkValidateFirstAfterResolve reports the cost of the first Validate
// after resolution (first-ns/op, first-allocs/op) next to the steady state
// (ns/op, allocs/op): warming makes them the same.
func BenchmarkValidateFirstAfterResolve(b *testing.B) {
	const samples = 10
	incident := []byte(`{"title":"Checkout down","severity":"SEVERITY_HIGH","detectedAt":"2024-05-01T10:00:00Z",` +
		`"services":[{"name":"checkout","region":"eu-west-1"}],"team":"sre"}`)
	var firstNs, firstAllocs, secondNs float64
	for range samples {
		tg := resolve(b, newResolver(b, Options{}), "guardgen.examples.v1.IncidentReport", nil)
		m, _, err := tg.Decode(incident, DecodeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		first, second, allocs, _ := firstAndLater(b, tg, m)
		firstNs += float64(first.Nanoseconds())
		secondNs += float64(second.Nanoseconds())
		firstAllocs += float64(allocs)
	}
	tg := resolve(b, newResolver(b, Options{}), "guardgen.examples.v1.IncidentReport", nil)
	m, _, err := tg.Decode(incident, DecodeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := tg.Validate(m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(firstNs/samples, "first-ns/op")
	b.ReportMetric(firstAllocs/samples, "first-allocs/op")
	b.ReportMetric(secondNs/samples, "second-ns/op")
}

// TestValidateIsWarm checks that resolution leaves nothing for the first
// Validate to build: it allocates no more than a later one, for a
// compiled-in target and for a request-defined one.
func TestValidateIsWarm(t *testing.T) {
	// Not parallel: it counts the process's heap allocations.
	tests := []struct {
		desc   string
		target func(*Resolver) *Target
		json   string
	}{
		{
			desc:   "compiled-in",
			target: func(r *Resolver) *Target { return resolve(t, r, "guardgen.examples.v1.IncidentReport", nil) },
			json: `{"title":"Checkout down","severity":"SEVERITY_HIGH","detectedAt":"2024-05-01T10:00:00Z",` +
				`"services":[{"name":"checkout","region":"eu-west-1"}],"team":"sre"}`,
		},
		{
			desc:   "request-defined",
			target: func(r *Resolver) *Target { return resolve(t, r, "acme.v1.Order", orderSet(t)) },
			json: `{"id":"9b2f0b1e-4a8e-4a3c-9a57-0c1f2b3d4e5f","items":[{"sku":"ABC-1234","quantity":2}],` +
				`"totalCents":"1999","placedAt":"2024-01-01T00:00:00Z","status":"STATUS_SHIPPED"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			tg := tt.target(newResolver(t, Options{}))
			m, _, err := tg.Decode([]byte(tt.json), DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_, _, first, later := firstAndLater(t, tg, m)
			// Building evaluators costs thousands of allocations; a few
			// more come from sync.Pools that a GC emptied.
			if first > later+20 {
				t.Errorf("first Validate allocated %d times, a later one %d: the validator was not warm", first, later)
			}
		})
	}
}

func BenchmarkDecodeCoerce(b *testing.B) {
	tg := resolve(b, newResolver(b, Options{}), "guardgen.examples.v1.IncidentReport", nil)
	data := []byte(`{"title":"Checkout down","severity":"high","detectedAt":"2024-05-01T10:00:00Z",` +
		`"services":{"name":"checkout","region":"eu-west-1","errorRatePercent":" 12.5"},"team":"payments"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := tg.Decode(data, DecodeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
