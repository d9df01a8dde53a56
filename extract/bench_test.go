package extract_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/guardgen/guardgen/extract"
)

// typical is a ~300-byte fenced model answer that needs no repair.
const typical = "Sure! Here is the generated message:\n\n```json\n{\n" +
	"  \"id\": \"ord_8f3a2c\",\n" +
	"  \"customer\": {\"name\": \"Ada Lovelace\", \"email\": \"ada@example.com\"},\n" +
	"  \"items\": [\n" +
	"    {\"sku\": \"BK-1843\", \"quantity\": 2, \"price\": 12.5},\n" +
	"    {\"sku\": \"PN-0042\", \"quantity\": 1, \"price\": 3.99}\n" +
	"  ],\n" +
	"  \"notes\": \"Leave at the door \\\"please\\\"\"\n" +
	"}\n```\n\nLet me know if you need changes."

// repaired is typical with the usual repairs needed.
var repaired = strings.NewReplacer(`"id"`, `id`, `"notes"`, `// note`+"\n  'notes'", `3.99}`, `3.99},`).Replace(typical)

// repaired2K is about 2 KiB of answers that each need the usual repairs.
var repaired2K = strings.Repeat(repaired, 2048/len(repaired))

func BenchmarkJSON(b *testing.B) {
	inputs := map[string]string{
		"typical fenced": typical,
		"typical repair": repaired,
		"repaired 2K":    repaired2K,
	}
	for name, in := range inputs {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := extract.JSON(in, extract.Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkJSONLarge runs the pathological inputs of TestLinear and a
// valid object at 64 KiB and at 1 MiB, the default limit. Issue budget:
// under 50 ms for any 1 MiB input.
//
//	go test -run '^$' -bench JSONLarge -benchmem ./extract/
func BenchmarkJSONLarge(b *testing.B) {
	for _, size := range []struct {
		name  string
		bytes int
	}{{"64KiB", 64 << 10}, {"1MiB", 1<<20 - 4<<10}} {
		inputs := pathological(size.bytes)
		inputs["valid object"] = "{" + strings.Repeat(`"key": [1, "two", {"three": null}], `, size.bytes/36) + `"end": true}`
		inputs["repaired answers"] = strings.Repeat(repaired, size.bytes/len(repaired))
		for name, in := range inputs {
			if len(in) > extract.DefaultMaxBytes {
				b.Fatalf("%s: %d bytes, more than the limit", name, len(in))
			}
			b.Run(size.name+"/"+strings.ReplaceAll(name, " ", "_"), func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				b.ReportAllocs()
				for b.Loop() {
					_, _ = extract.Candidates(in, extract.Options{Arrays: true})
				}
			})
		}
	}
}

// output20K is a model answer of about 20 KiB: a list of records, each
// with strings, numbers, a nested object and a list.
var output20K = func() string {
	var b strings.Builder
	b.WriteString(`{"incidents": [`)
	for i := 0; b.Len() < 20<<10-200; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `{"id": "inc-%04d", "title": "Payments API returned 503s in eu-west-%d", "severity": %d, `+
			`"owner": {"team": "payments", "oncall": "ada@example.com"}, "tags": ["api", "5xx", "region-%d"], "resolved": %t}`,
			i, i%3, 1+i%5, i%7, i%2 == 0)
	}
	b.WriteString(`], "summary": "All incidents were mitigated by failing over."}`)
	return b.String()
}()

// chunksOf cuts s into n pieces of about equal size.
func chunksOf(s string, n int) []string {
	out := make([]string, 0, n)
	for i := range n {
		out = append(out, s[i*len(s)/n:(i+1)*len(s)/n])
	}
	return out
}

// BenchmarkStream20KiB: a 20 KiB output written in 1,000 chunks. Each
// iteration parses it one-shot (Candidates, as a unary answer is), and
// streamed: the Stream over the text as it grows by the 1,000 chunks.
//
//	go test -run '^$' -bench Stream20KiB ./extract/
//
// The metrics are ratios to the one-shot parse in the same run.
// scan/one-shot is the incremental parse of all 1,000 chunks;
// parse/one-shot adds the one-shot parse the final answer gets anyway, the
// issue's "parses in total" (budget: 3x); collect/one-shot is collecting
// the chunks into one text, which a streaming caller does anyway and the
// Stream shares.
func BenchmarkStream20KiB(b *testing.B) {
	chunks := chunksOf(output20K, 1000)
	var oneShot, scanned, collected time.Duration
	values := 0
	for b.Loop() {
		start := time.Now()
		if _, err := extract.Candidates(output20K, extract.Options{Arrays: true}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		var text strings.Builder
		ends := make([]int, len(chunks))
		for i, c := range chunks {
			text.WriteString(c)
			ends[i] = text.Len()
		}
		whole := text.String()
		t2 := time.Now()
		s := extract.NewStream(extract.StreamOptions{})
		values = 0
		for _, end := range ends {
			s.Scan(whole[:end], func(extract.Value) { values++ })
		}
		if !s.Done() || s.Err() != nil {
			b.Fatalf("stream done %v, err %v", s.Done(), s.Err())
		}
		oneShot += t1.Sub(start)
		collected += t2.Sub(t1)
		scanned += time.Since(t2)
	}
	b.SetBytes(int64(len(output20K)))
	b.ReportMetric(float64(scanned)/float64(oneShot), "scan/one-shot")
	b.ReportMetric(float64(scanned+oneShot)/float64(oneShot), "parse/one-shot")
	b.ReportMetric(float64(collected)/float64(oneShot), "collect/one-shot")
	b.ReportMetric(float64(values), "values")
}
