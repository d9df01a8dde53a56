package semantic_test

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	examplesv1 "github.com/guardgen/guardgen/gen/guardgen/examples/v1"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/semantic"
)

// incidentOutput is an IncidentReport's JSON of about size bytes (services
// and timeline entries are added until it is), cut into tokens of about
// four bytes, each with a log-probability.
func incidentOutput(tb testing.TB, size int) (string, []*providerv1.TokenLogprob) {
	tb.Helper()
	r := &examplesv1.IncidentReport{Title: "Payments API returned 503s in eu-west-1", Severity: examplesv1.Severity_SEVERITY_HIGH}
	for i := 0; ; i++ {
		r.Services = append(r.Services, &examplesv1.AffectedService{Name: fmt.Sprintf("payments-%d", i), Region: "eu-west-1", ErrorRatePercent: 12.5})
		r.Timeline = append(r.Timeline, &examplesv1.TimelineEntry{Event: fmt.Sprintf("step %d: on-call paged, rollback started", i)})
		b, err := protojson.Marshal(r)
		if err != nil {
			tb.Fatal(err)
		}
		if len(b) >= size {
			text := string(b)
			var ts []*providerv1.TokenLogprob
			for j := 0; j < len(text); j += 4 {
				end := min(j+4, len(text))
				ts = append(ts, &providerv1.TokenLogprob{Token: []byte(text[j:end]), Logprob: -0.001 * float64(j%7)})
			}
			return text, ts
		}
	}
}

// BenchmarkMeasure is the CPU cost of the per-field confidence of a 2 KiB
// output, against parsing the same output once with encoding/json (the
// least any reader of the output pays), in the same run:
//
//	go test -run '^$' -bench Measure -benchmem ./semantic/
func BenchmarkMeasure(b *testing.B) {
	incident := (&examplesv1.IncidentReport{}).ProtoReflect().Descriptor()
	c, err := semantic.FromDescriptor(incident)
	if err != nil {
		b.Fatal(err)
	}
	c, err = c.With(incident, semantic.Override{Fields: map[string]*guardgenv1.FieldSemantics{
		"services": {Critical: true, MinConfidence: 0.5},
		"title":    {MinConfidence: 0.5},
	}})
	if err != nil {
		b.Fatal(err)
	}
	text, tokens := incidentOutput(b, 2048)
	out := semantic.Output{Content: text, Tokens: tokens, JSON: text, End: len(text)}
	m := c.Measure(incident, out)
	if m.Unavailable != "" || len(m.Values) < 50 || math.IsNaN(m.Values[0].Value) {
		b.Fatalf("measured %d values of %d bytes: %q", len(m.Values), len(text), m.Unavailable)
	}
	b.Run("measure", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			c.Measure(incident, out)
		}
	})
	b.Run("baseline-json-unmarshal", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		r := strings.NewReader(text)
		for b.Loop() {
			r.Reset(text)
			var v any
			if err := json.NewDecoder(r).Decode(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
