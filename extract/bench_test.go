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

// malformed2K is a 2 KiB incident write-up as a weaker model answers:
// prose and a fence around it, unquoted keys and values, single quotes,
// a quote inside a string, missing commas, Python literals, a number with
// digit groups, comments, a trailing comma, and the closing brace missing.
var malformed2K = "Here is the incident report you asked for:\n\n```json\n{\n" +
	"  title: 'Checkout API returned 503s in eu-west-1',\n" +
	"  severity: SEVERITY_HIGH,\n" +
	"  \"detectedAt\": \"2024-05-01T09:12:00Z\",\n" +
	"  \"resolvedAt\": \"2024-05-01T10:05:00Z\" // after the cert was renewed\n" +
	"  \"services\": [\n" +
	"    {name: checkout-api, region: eu-west-1, errorRatePercent: 87.5},\n" +
	"    {name: payments-worker, region: eu-west-1, errorRatePercent: 12},\n" +
	"    {'name': 'ledger', 'region': 'eu-west-1', 'errorRatePercent': 3.25,},\n" +
	"  ],\n" +
	"  labels: {team: payments, root_cause: expired_tls_cert, customer_facing: yes},\n" +
	"  team: payments-oncall,\n" +
	"  customerImpactCount: 1_840,\n" +
	"  \"timeline\": [\n" +
	strings.Repeat("    {\"at\": \"2024-05-01T09:12:00Z\", \"event\": \"Alert \"5xx above 50%\" fired; on-call paged\"}\n", 11) +
	"    {at: '2024-05-01T09:40:00Z', event: 'Certificate renewed by hand', \"verified\": True}\n" +
	"    {\"at\": \"2024-05-01T10:05:00Z\", \"event\": \"Error rate back to baseline\", \"verified\": None},\n" +
	"  ],\n" +
	"  /* the model adds its own notes */\n" +
	"  \"notes\": \"Root cause: the TLS certificate of the payments gateway expired at 09:10 UTC; renewal was manual.\"\n" +
	"\n```\nLet me know if you need anything else."

func BenchmarkJSON(b *testing.B) {
	inputs := map[string]string{
		"typical fenced": typical,
		"typical repair": repaired,
		"malformed 2K":   malformed2K,
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
		inputs["malformed answers"] = strings.Repeat(malformed2K, size.bytes/len(malformed2K))
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
