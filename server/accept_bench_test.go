package server

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/schema"
)

// BenchmarkAccept measures the in-process hot path for one completion of
// TicketClassification: finish-reason check, extraction, protojson decode
// and protovalidate. Issue budget: ≤ 25 µs and ≤ 150 allocs per op.
//
//	go test -run '^$' -bench Accept -benchmem ./server/
func BenchmarkAccept(b *testing.B) {
	resolver, err := schema.NewResolver(schema.Options{RequestTypesOff: true}) // compiled-in targets only
	if err != nil {
		b.Fatal(err)
	}
	target, err := resolver.Resolve("guardgen.examples.v1.TicketClassification", nil)
	if err != nil {
		b.Fatal(err)
	}
	s := &Server{opts: defaultOptions()}
	for _, bc := range []struct{ name, content string }{
		{"clean", `{"category":"billing","priority":3,"summary":"Customer was charged twice for the March invoice"}`},
		{"fenced", "```json\n{\"category\":\"billing\",\"priority\":3,\"summary\":\"Customer was charged twice for the March invoice\"}\n```"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			g := &generation{s: s, target: target}
			resp := &providerv1.CompleteResponse{Content: bc.content, FinishReason: providerv1.FinishReason_FINISH_REASON_STOP}
			b.ReportAllocs()
			var a accepted
			for b.Loop() {
				if f := g.accept(resp, &a); f != nil {
					b.Fatal(f)
				}
			}
		})
	}
}

// malformed2K is a 2 KiB incident report as a weaker model writes it:
// prose and a fence around it, unquoted keys and values, single quotes,
// quotes inside strings, missing commas, Python literals, digit groups,
// comments, trailing commas, a boolean as "yes", fields the type does not
// have, and the closing brace missing.
var malformed2K = "Here is the incident report you asked for:\n\n```json\n{\n" +
	"  title: 'Checkout API returned 503s in eu-west-1',\n" +
	"  severity: high,\n" +
	"  \"detectedAt\": \"2024-05-01T09:12:00Z\",\n" +
	"  \"resolvedAt\": \"2024-05-01T10:05:00Z\" // after the cert was renewed\n" +
	"  \"services\": [\n" +
	"    {name: checkout-api, region: eu-west-1, errorRatePercent: 87.5},\n" +
	"    {name: payments-worker, region: eu-west-1, errorRatePercent: 12},\n" +
	"    {'name': 'ledger', 'region': 'eu-west-1', 'errorRatePercent': .25,},\n" +
	"  ],\n" +
	"  labels: {team: payments, root_cause: expired_tls_cert, customer_facing: yes},\n" +
	"  team: payments-oncall,\n" +
	"  \"Customer Impact Count\": 1_840,\n" +
	"  \"timeline\": [\n" +
	strings.Repeat("    {\"at\": \"2024-05-01T09:12:00Z\", \"event\": \"Alert \"5xx above 50%\" fired; on-call paged\"}\n", 11) +
	"    {at: '2024-05-01T09:40:00Z', event: 'Certificate renewed by hand', \"verified\": True}\n" +
	"    {\"at\": \"2024-05-01T10:05:00Z\", \"event\": \"Error rate back to baseline\", \"verified\": None},\n" +
	"  ],\n" +
	"  /* the model adds its own notes */\n" +
	"  \"notes\": \"Root cause: the TLS certificate of the payments gateway expired at 09:10 UTC; renewal was manual.\"\n" +
	"\n```\nLet me know if you need anything else."

// BenchmarkAcceptMalformed measures a 2 KiB malformed output through
// extraction (with its repairs), decoding (with its alignments) and
// validation. Issue goal: ≤ 30 µs per op. For scale, "protojson" decodes
// the same message, written out clean, with protojson alone.
//
//	go test -run '^$' -bench AcceptMalformed -benchmem ./server/
func BenchmarkAcceptMalformed(b *testing.B) {
	resolver, err := schema.NewResolver(schema.Options{RequestTypesOff: true}) // compiled-in targets only
	if err != nil {
		b.Fatal(err)
	}
	target, err := resolver.Resolve("guardgen.examples.v1.IncidentReport", nil)
	if err != nil {
		b.Fatal(err)
	}
	g := &generation{s: &Server{opts: defaultOptions()}, target: target}
	resp := &providerv1.CompleteResponse{Content: malformed2K, FinishReason: providerv1.FinishReason_FINISH_REASON_STOP}
	var a accepted
	if f := g.accept(resp, &a); f != nil {
		b.Fatal(f)
	}
	clean, err := protojson.Marshal(a.msg)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("accept", func(b *testing.B) {
		b.SetBytes(int64(len(malformed2K)))
		b.ReportAllocs()
		for b.Loop() {
			if f := g.accept(resp, &a); f != nil {
				b.Fatal(f)
			}
		}
	})
	b.Run("protojson", func(b *testing.B) {
		b.SetBytes(int64(len(clean)))
		b.ReportAllocs()
		for b.Loop() {
			if err := protojson.Unmarshal(clean, target.Type.New().Interface()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
