package extract_test

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/guardgen/guardgen/extract"
)

// pathological returns adversarial inputs of about n bytes: deep nesting,
// many braces, quotes, long strings, comments and fences.
func pathological(n int) map[string]string {
	fill := func(unit string) string { return strings.Repeat(unit, n/len(unit)) }
	junk := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = "{}[]\"'`/*,:\\ \nTNa1“”"
	for i := range junk {
		junk[i] = alphabet[r.IntN(len(alphabet))]
	}
	return map[string]string{
		"deep objects":        fill(`{"a":`),
		"deep arrays":         fill("["),
		"open braces":         fill("{"),
		"close braces":        fill("}"),
		"brace pairs":         fill("{}"),
		"prose braces":        fill("{x "),
		"placeholders":        fill("{x} "),
		"bracket prose":       fill("[a "),
		"nested bracket":      fill("[[a "),
		"footnotes":           fill("[1] "),
		"quotes":              fill(`"`),
		"quoted key quotes":   `{"` + fill(`"`),
		"single quotes":       `{'` + fill(`'`),
		"smart quotes":        `{“` + fill(`“`),
		"long string":         `{"a":"` + fill("x") + `"}`,
		"unterminated string": `{"a":"` + fill("x"),
		"raw newlines":        `{"a":"` + fill("\n") + `"}`,
		"escaped quotes":      `{"a":"` + fill(`\"`) + `"}`,
		"backslashes":         `{"a":"` + fill(`\`),
		"fences":              fill("```json\n"),
		"backticks":           fill("`"),
		"fenced objects":      fill("```json\n{\"a\":1}\n```\n"),
		"spaced objects":      "```\n" + strings.Repeat(" ", n/2) + strings.Repeat("{}", n/4),
		"objects in prose":    fill(`x {"a":1} `),
		"comments":            "{" + fill("/**/") + "}",
		"open comments":       `{"a":1,` + fill("/*"),
		"line comments":       `{"a":1,` + fill("//"),
		"trailing commas":     "{" + fill(`"a":[1,],`) + `"z":0}`,
		"unquoted keys":       "{" + fill("a:1,") + "z:0}",
		"python literals":     "[" + fill("None,") + "True]",
		"numbers":             "[" + fill("-0.5e+10,") + "0]",
		"junk":                string(junk),
	}
}

// TestLinear runs the pathological inputs, checks the results are sound,
// and checks the bytes examined stay within a constant factor of the
// input, at two sizes, so a quadratic re-scan fails the test.
func TestLinear(t *testing.T) {
	t.Parallel()
	const factor = 4
	small, large := pathological(16<<10), pathological(64<<10)
	for name, in := range large {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cands, err := extract.Candidates(in, extract.Options{})
			for _, c := range cands {
				if !json.Valid(c.JSON) {
					t.Errorf("Candidates returned invalid JSON %.40q…", c.JSON)
				}
			}
			t.Logf("%d candidates, err %v", len(cands), err)
			for _, in := range []string{small[name], in} {
				if w := extract.Work(in, extract.Options{}); w > factor*len(in) {
					t.Errorf("examined %d bytes for %d bytes of input, want at most %d×", w, len(in), factor)
				}
			}
		})
	}
}
