package extract_test

import (
	"strings"
	"testing"

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
