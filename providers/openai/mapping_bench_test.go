package openai

import (
	"os"
	"testing"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// BenchmarkMapping is the provider's own work per call, without HTTP:
// CompleteRequest → request body (the target's parts from the cache) and
// response body → CompleteResponse. BenchmarkComplete minus BenchmarkDirect
// is this plus noise.
func BenchmarkMapping(b *testing.B) {
	schema, err := os.ReadFile("testdata/ticket.schema.json")
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(Options{BaseURL: "https://api.openai.com/v1", Model: "gpt-4o-mini", MaxResponseBytes: 4 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close() })
	req := &providerv1.CompleteRequest{
		Messages: []*providerv1.Message{
			{Role: providerv1.Role_ROLE_SYSTEM, Content: "You classify support tickets."},
			{Role: providerv1.Role_ROLE_USER, Content: "I was charged twice this month."},
		},
		OutputSchema: &providerv1.OutputSchema{Name: "guardgen.examples.v1.TicketClassification", JsonSchema: string(schema), Strict: true},
	}
	body := []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini",` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":"{\"category\":\"billing\"}","refusal":null,"annotations":[]},` +
		`"logprobs":null,"finish_reason":"stop"}],"system_fingerprint":"fp_1",` +
		`"usage":{"prompt_tokens":12,"completion_tokens":6,"total_tokens":18}}`)
	b.ReportAllocs()
	for b.Loop() {
		out, err := p.request(req, true)
		if err != nil {
			b.Fatal(err)
		}
		c, err := decodeCompletion(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.response(c, out); err != nil {
			b.Fatal(err)
		}
	}
}
