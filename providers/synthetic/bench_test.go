package synthetic_test

import (
	"context"
	"testing"

	"github.com/guardgen/guardgen/providers/synthetic"
)

// BenchmarkComplete measures the hot path: the schema is parsed once and
// cached, so a call is generation only.
func BenchmarkComplete(b *testing.B) {
	p := synthetic.New()
	req := request(readSchema(b, "ticket_classification"), "I was charged twice for my subscription this month")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Complete(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
