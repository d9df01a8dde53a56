package server

import (
	"testing"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/schema"
)

// BenchmarkAccept measures the in-process hot path for one completion of
// TicketClassification: finish-reason check, extraction, protojson decode
// and protovalidate. Issue budget: ≤ 25 µs and ≤ 150 allocs per op.
//
//	go test -run '^$' -bench Accept -benchmem ./server/
func BenchmarkAccept(b *testing.B) {
	resolver, err := schema.NewResolver(schema.Options{})
	if err != nil {
		b.Fatal(err)
	}
	target, err := resolver.Resolve("guardgen.examples.v1.TicketClassification", nil)
	if err != nil {
		b.Fatal(err)
	}
	s := &Server{opts: Options{PreviewLength: 200}}
	for _, bc := range []struct{ name, content string }{
		{"clean", `{"category":"billing","priority":3,"summary":"Customer was charged twice for the March invoice"}`},
		{"fenced", "```json\n{\"category\":\"billing\",\"priority\":3,\"summary\":\"Customer was charged twice for the March invoice\"}\n```"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			g := &generation{s: s, target: target}
			resp := &providerv1.CompleteResponse{Content: bc.content, FinishReason: providerv1.FinishReason_FINISH_REASON_STOP}
			b.ReportAllocs()
			for b.Loop() {
				if _, f := g.accept(resp); f != nil {
					b.Fatal(f)
				}
			}
		})
	}
}
