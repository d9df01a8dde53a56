package partial_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/guardgen/guardgen/extract"
	"github.com/guardgen/guardgen/partial"
	"github.com/guardgen/guardgen/schema"
)

// incident20K is a valid IncidentReport of about 20 KiB: a long timeline.
var incident20K = func() string {
	var b strings.Builder
	b.WriteString(`{"title": "Payments API returned 503s in eu-west-1", "severity": "SEVERITY_HIGH",` +
		` "detected_at": "2024-05-01T09:12:00Z", "resolved_at": "2024-05-01T09:40:00Z",` +
		` "services": [{"name": "payments", "region": "eu-west-1", "error_rate_percent": 37.5}, {"name": "ledger", "region": "eu-west-1", "error_rate_percent": 2}],` +
		` "labels": {"team": "payments", "sev": "high"}, "team": "payments", "customer_impact_count": 1200, "timeline": [`)
	for i := range 50 {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `{"at": "2024-05-01T09:%02d:00Z", "event": "Step %d: %s"}`, 12+i%28, i,
			strings.Repeat("the on-call engineer checked the load balancer logs and the database replicas; ", 4))
	}
	b.WriteString(`]}`)
	return b.String()
}()

// BenchmarkBuilder20KiB: a 20 KiB answer in 1,000 chunks through a
// Builder (each chunk: Write, then Check), then the final answer's
// pipeline (extract, decode, validate) as Generate runs it, against that
// pipeline alone, in the same run. stream/unary is the ratio of CPU time;
// units and checks count what the builder did.
//
//	go test -run '^$' -bench Builder20KiB ./partial/
func BenchmarkBuilder20KiB(b *testing.B) {
	tg := target(b, "guardgen.examples.v1.IncidentReport")
	chunks := make([]int, 1000)
	for i := range chunks {
		chunks[i] = (i + 1) * len(incident20K) / len(chunks)
	}
	unary := func() {
		c, err := extract.Candidates(incident20K, extract.Options{Arrays: true})
		if err != nil {
			b.Fatal(err)
		}
		msg, _, err := tg.Decode(c[0].JSON, schema.DecodeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := tg.Validate(msg); err != nil {
			b.Fatal(err)
		}
	}
	var oneShot, streamed time.Duration
	fields := 0
	for b.Loop() {
		t0 := time.Now()
		unary()
		t1 := time.Now()
		p := partial.New(tg, partial.Options{})
		for _, end := range chunks {
			p.Write(incident20K[:end])
			if err := p.Check(); err != nil {
				b.Fatal(err)
			}
		}
		if p.Err() != nil || !p.Done() {
			b.Fatalf("builder stopped: %v", p.Err())
		}
		fields = len(p.Fields())
		unary()
		oneShot += t1.Sub(t0)
		streamed += time.Since(t1)
	}
	b.SetBytes(int64(len(incident20K)))
	b.ReportMetric(float64(streamed)/float64(oneShot), "stream/unary")
	b.ReportMetric(float64(fields), "fields")
}
