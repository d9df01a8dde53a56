package semantic_test

import (
	"math"
	"testing"

	"github.com/guardgen/guardgen/extract"
	examplesv1 "github.com/guardgen/guardgen/gen/guardgen/examples/v1"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/semantic"
)

// FuzzMeasure: model output is untrusted, tokens too. Whatever the text,
// the extractor's candidate and the token boundaries, Measure neither
// panics nor reports a confidence outside [0, 1] or one from no token.
func FuzzMeasure(f *testing.F) {
	for _, s := range []string{
		`{"category":"billing","priority":3,"summary":"Charged twice"}`,
		"```json\n{\"category\": \"other\", \"priority\": 1}\n```",
		"{'category': 'billing', 'priority': 2, 'summary': 'x',}",
		"{category: \u201caccount\u201d, priority: 5, summary: \"\"}",
		`{"services":[{"name":"api","region":"eu-west-1"}],"labels":{"team":"a\"b"},"detectedAt":"2025-01-01T00:00:00Z"}`,
		`{"priority":3`,
		`[1,2,{"a":[}`,
	} {
		f.Add(s, uint8(3))
	}
	incident := (&examplesv1.IncidentReport{}).ProtoReflect().Descriptor()
	c, err := semantic.FromDescriptor(incident)
	if err != nil {
		f.Fatal(err)
	}
	c, err = c.With(incident, semantic.Override{Fields: map[string]*guardgenv1.FieldSemantics{"services": {MinConfidence: 0.5}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, content string, width uint8) {
		n := int(width%7) + 1
		var tokens []*providerv1.TokenLogprob
		for i := 0; i < len(content); i += n {
			end := min(i+n, len(content))
			tokens = append(tokens, &providerv1.TokenLogprob{Token: []byte(content[i:end]), Logprob: -float64(i%5) / 10})
		}
		outs := []semantic.Output{{Content: content, Tokens: tokens, JSON: content, End: len(content), Partial: true}}
		if cand, err := extract.JSON(content, extract.Options{}); err == nil {
			outs = append(outs, semantic.Output{Content: content, Tokens: tokens, JSON: string(cand.JSON), Offset: cand.Offset, End: cand.End})
		}
		for _, out := range outs {
			for _, v := range c.Measure(incident, out).Values {
				if v.Known && (v.Value < 0 || v.Value > 1 || math.IsNaN(v.Value) || v.Tokens == 0) {
					t.Fatalf("%s: confidence %v from %d tokens", v.Path, v.Value, v.Tokens)
				}
			}
		}
	})
}
