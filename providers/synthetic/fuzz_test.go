package synthetic_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/guardgen/guardgen/providers/synthetic"
)

// FuzzComplete feeds arbitrary schemas and prompts: Complete either
// rejects the schema or answers with valid JSON, and never panics.
func FuzzComplete(f *testing.F) {
	for _, tg := range targets(f) {
		f.Add(tg.schema, "I was charged twice")
	}
	f.Add(`{"type":"object","properties":{"a":{"type":"string","pattern":"^[^a-z]{2,}\\b$"}}}`, "")
	f.Add(`{"type":"array","items":{"type":"integer","exclusiveMaximum":-3},"uniqueItems":true,"minItems":3}`, "x")
	f.Add(`{"anyOf":[{"$ref":"#"},{"type":"null"}],"properties":{"a":{"$ref":"#"}},"required":["a"]}`, "deep")
	p := synthetic.New()
	f.Fuzz(func(t *testing.T, schema, prompt string) {
		resp, err := p.Complete(context.Background(), request(schema, prompt))
		if err != nil {
			return
		}
		if !json.Valid([]byte(resp.GetContent())) {
			t.Fatalf("invalid JSON %q for schema %s", resp.GetContent(), schema)
		}
	})
}
