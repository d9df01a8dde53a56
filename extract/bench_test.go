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

func BenchmarkJSON(b *testing.B) {
	inputs := map[string]string{
		"typical fenced": typical,
		"typical repair": repaired,
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

// BenchmarkJSON64K runs 64 KiB inputs: a valid object and the
// pathological ones of TestLinear.
func BenchmarkJSON64K(b *testing.B) {
	inputs := pathological(64 << 10)
	inputs["valid object"] = "{" + strings.Repeat(`"key": [1, "two", {"three": null}], `, (64<<10)/36) + `"end": true}`
	for name, in := range inputs {
		b.Run(strings.ReplaceAll(name, " ", "_"), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				_, _ = extract.JSON(in, extract.Options{})
			}
		})
	}
}
