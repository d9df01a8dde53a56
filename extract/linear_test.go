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
	const alphabet = "{}[]()\"'`/*,:\\ \nTNa1.+_“”’"
	for i := range junk {
		junk[i] = alphabet[r.IntN(len(alphabet))]
	}
	return map[string]string{
		"deep objects":          fill(`{"a":`),
		"deep arrays":           fill("["),
		"open braces":           fill("{"),
		"close braces":          fill("}"),
		"brace pairs":           fill("{}"),
		"prose braces":          fill("{x "),
		"placeholders":          fill("{x} "),
		"bracket prose":         fill("[a "),
		"nested bracket":        fill("[[a "),
		"footnotes":             fill("[1] "),
		"quotes":                fill(`"`),
		"quoted key quotes":     `{"` + fill(`"`),
		"single quotes":         `{'` + fill(`'`),
		"smart quotes":          `{“` + fill(`“`),
		"long string":           `{"a":"` + fill("x") + `"}`,
		"unterminated string":   `{"a":"` + fill("x"),
		"raw newlines":          `{"a":"` + fill("\n") + `"}`,
		"escaped quotes":        `{"a":"` + fill(`\"`) + `"}`,
		"backslashes":           `{"a":"` + fill(`\`),
		"fences":                fill("```json\n"),
		"backticks":             fill("`"),
		"fenced objects":        fill("```json\n{\"a\":1}\n```\n"),
		"spaced objects":        "```\n" + strings.Repeat(" ", n/2) + strings.Repeat("{}", n/4),
		"objects in prose":      fill(`x {"a":1} `),
		"comments":              "{" + fill("/**/") + "}",
		"open comments":         `{"a":1,` + fill("/*"),
		"line comments":         `{"a":1,` + fill("//"),
		"trailing commas":       "{" + fill(`"a":[1,],`) + `"z":0}`,
		"unquoted keys":         "{" + fill("a:1,") + "z:0}",
		"python literals":       "[" + fill("None,") + "True]",
		"numbers":               "[" + fill("-0.5e+10,") + "0]",
		"inner quotes":          `{"a": "` + fill(`x "y" `) + `"}`,
		"inner quote runs":      `{"a": "` + fill(`" " `) + `"}`,
		"quote then strings":    `{"a": "x` + fill(` "y"`) + `"}`,
		"unquoted values":       "{" + fill("a: b c d e,") + "z: 0}",
		"unquoted long value":   "{a: " + fill("word ") + "}",
		"unquoted open":         fill("{a: b ("),
		"unquoted colons":       fill("{a:b{a:b "),
		"unquoted to the end":   "{a: " + fill("x"),
		"bare keys":             fill("{first name "),
		"missing commas":        "[" + fill(`1 "a" {"b": 2} `) + "]",
		"missing key commas":    "{" + fill(`"a": 1 b: 2 `) + "}",
		"number spellings":      "[" + fill("1_000 .5 +3 5. ") + "]",
		"numbers then words":    "{a: " + fill("1 ") + "x}",
		"literals then words":   "{a: " + fill("true ") + "x}",
		"tuples":                "[" + fill("(1, (2,)), ") + "0]",
		"backtick strings":      "{\"a\": `" + fill("x ``") + "`}",
		"code block":            "{\"a\": ```go\n" + fill("x\n``\n") + "```}",
		"triple quotes":         `{"a": """` + fill(`x "" `) + `"""}`,
		"early closes":          fill(`{"a": 1}, "b": `),
		"early close lookahead": `{"a": 1}, "` + fill("x"),
		"stray brackets":        `{"a": [1` + fill("]") + `}`,
		"missing values":        "{" + fill(`"a": , `) + `"z": 0}`,
		"unclosed deep":         fill(`{"a": "x", "b": `) + `"y"`,
		"unclosed arrays":       fill(`["x", `) + `"y"`,
		"junk":                  string(junk),
	}
}

// TestLinear runs the pathological inputs, checks the results are sound,
// and checks the bytes examined stay within a constant factor of the
// input at 16 KiB, 64 KiB and 1 MiB (the default limit), so a quadratic
// re-scan fails the test. BenchmarkJSONLarge reports the time at 1 MiB.
//
// The factor: a candidate that needs repairs is parsed twice (counting,
// then writing), and in each pass a byte is read at most about twice —
// once more by a bounded lookahead (is this quote the end of its string?
// does a key follow?) — plus the whitespace around it.
func TestLinear(t *testing.T) {
	t.Parallel()
	const factor = 6
	small, large, huge := pathological(16<<10), pathological(64<<10), pathological(1<<20-4<<10)
	for name, in := range large {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cands, err := extract.Candidates(in, extract.Options{Arrays: true})
			for _, c := range cands {
				if !json.Valid(c.JSON) {
					t.Errorf("Candidates returned invalid JSON %.40q…", c.JSON)
				}
			}
			t.Logf("%d candidates, err %v", len(cands), err)
			for _, in := range []string{small[name], in, huge[name]} {
				if w := extract.Work(in, extract.Options{Arrays: true}); w > factor*len(in) {
					t.Errorf("examined %d bytes for %d bytes of input, want at most %d×", w, len(in), factor)
				}
			}
		})
	}
}
