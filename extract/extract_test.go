package extract_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/guardgen/guardgen/extract"
)

// result is what a table case checks: each candidate's JSON and repair
// kinds (space-separated), and the sentinel error.
type result struct {
	JSON  []string
	Kinds []string
	Err   error
}

func candidates(text string, opts extract.Options) result {
	cands, err := extract.Candidates(text, opts)
	var r result
	for _, c := range cands {
		kinds := make([]string, 0, len(c.Repairs))
		for _, rep := range c.Repairs {
			kinds = append(kinds, rep.Kind)
		}
		r.JSON = append(r.JSON, string(c.JSON))
		r.Kinds = append(r.Kinds, strings.Join(kinds, " "))
	}
	r.Err = err
	return r
}

func ok(pairs ...string) result {
	var r result
	for i := 0; i < len(pairs); i += 2 {
		r.JSON = append(r.JSON, pairs[i])
		r.Kinds = append(r.Kinds, pairs[i+1])
	}
	return r
}

func fails(err error) result { return result{Err: err} }

// arrays asks for top-level arrays too.
var arrays = extract.Options{Arrays: true}

var deep = func(n int) string {
	return `{"a":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`
}

var cases = []struct {
	name string
	in   string
	opts extract.Options
	want result
}{
	// Locating the object.
	{name: "bare object", in: `{"name":"Ada"}`, want: ok(`{"name":"Ada"}`, "")},
	{name: "surrounding whitespace", in: "\n\t {\"a\": 1} \r\n", want: ok(`{"a": 1}`, "")},
	{name: "fence json", in: "```json\n{\"a\": 1}\n```", want: ok(`{"a": 1}`, "strip_fence strip_fence")},
	{name: "fence without tag", in: "```\n{\"a\": 1}\n```\n", want: ok(`{"a": 1}`, "strip_fence strip_fence")},
	{name: "fence JSON upper case", in: "```JSON\n{\"a\": 1}\n```", want: ok(`{"a": 1}`, "strip_fence strip_fence")},
	{name: "fence on one line", in: "```json {\"a\": 1} ```", want: ok(`{"a": 1}`, "strip_fence strip_fence")},
	{name: "fence glued to object", in: "```json{\"a\": 1}```", want: ok(`{"a": 1}`, "strip_fence strip_fence")},
	{name: "fence not at start", in: "Here you go:\n```json\n{\"a\": 1}\n```", want: ok(`{"a": 1}`, "strip_prose strip_fence strip_fence")},
	{name: "unclosed fence after complete object", in: "```json\n{\"a\": 1}\n", want: ok(`{"a": 1}`, "strip_fence")},
	{
		name: "prose before and after",
		in:   "Sure! Here is the JSON:\n{\"a\": 1}\nLet me know if you need anything else.",
		want: ok(`{"a": 1}`, "strip_prose strip_prose"),
	},
	{
		name: "prose around fence",
		in:   "Sure! Here is the JSON:\n```json\n{\"a\": 1}\n```\nLet me know!",
		want: ok(`{"a": 1}`, "strip_prose strip_fence strip_fence strip_prose"),
	},
	{name: "inline code", in: "Use `{\"a\": 1}` as the answer.", want: ok(`{"a": 1}`, "strip_prose strip_prose")},
	{
		name: "several fenced blocks",
		in:   "First:\n```json\n{\"a\": 1}\n```\nSecond:\n```json\n{\"b\": 2}\n```",
		want: ok(`{"a": 1}`, "strip_prose strip_fence strip_fence strip_prose",
			`{"b": 2}`, "strip_prose strip_fence strip_fence"),
	},
	{
		name: "several objects in prose",
		in:   "{\"a\": 1} and then {\"b\": 2}",
		want: ok(`{"a": 1}`, "strip_prose", `{"b": 2}`, "strip_prose"),
	},
	{name: "placeholder braces in prose", in: "Fill in {name} and reply:\n{\"name\": \"Ada\"}", want: ok(`{"name": "Ada"}`, "strip_prose")},
	{name: "markdown link in prose", in: "See [the docs](https://x.y/z) first.\n{\"a\": 1}", want: ok(`{"a": 1}`, "strip_prose")},
	{name: "half-open interval in prose", in: "Values in [0, 1): {\"p\": 0.5}", want: ok(`{"p": 0.5}`, "strip_prose")},
	{name: "array before object", in: "[1, 2]\n{\"a\": 1}", want: ok(`{"a": 1}`, "strip_prose")},
	{name: "top-level array", in: `[{"a": 1}, {"b": 2}]`, want: fails(extract.ErrNoJSON)},
	{name: "array in fence", in: "```json\n[1, 2, 3]\n```", want: fails(extract.ErrNoJSON)},
	{name: "arrays wanted", in: `[{"a": 1}, {"b": 2}]`, opts: arrays, want: ok(`[{"a": 1}, {"b": 2}]`, "")},
	{name: "arrays after objects", in: "[1, 2]\n{\"a\": 1}", opts: arrays, want: ok(`{"a": 1}`, "strip_prose", `[1, 2]`, "strip_prose")},
	{name: "bracketed prose is no array", in: "- [x] done\n- [ ] see [the docs](https://x.y)", opts: arrays, want: fails(extract.ErrNoJSON)},
	{name: "array of words", in: "```json\n[urgent, refund]\n```", opts: arrays, want: fails(extract.ErrNoJSON)},
	{name: "no JSON", in: "I'm sorry, I can't help with that.", want: fails(extract.ErrNoJSON)},
	{name: "empty", in: "", want: fails(extract.ErrNoJSON)},
	{name: "only whitespace", in: " \n\t ", want: fails(extract.ErrNoJSON)},

	// Valid JSON is returned byte for byte.
	{
		name: "braces inside strings",
		in:   `{"code": "func() { return \"}\" }", "x": "{[(", "y": "]}"}`,
		want: ok(`{"code": "func() { return \"}\" }", "x": "{[(", "y": "]}"}`, ""),
	},
	{
		name: "fence markers inside strings",
		in:   "```json\n{\"md\": \"```go\\nfmt.Println(1)\\n```\"}\n```",
		want: ok("{\"md\": \"```go\\nfmt.Println(1)\\n```\"}", "strip_fence strip_fence"),
	},
	{name: "escaped quotes", in: `{"q": "she said \"hi\" \\ bye \/"}`, want: ok(`{"q": "she said \"hi\" \\ bye \/"}`, "")},
	{
		name: "unicode",
		in:   `{"name": "Zoë 日本 🎉", "esc": "\u00e9\ud83c\udf89", "quote": "“Hello” ‘x’"}`,
		want: ok(`{"name": "Zoë 日本 🎉", "esc": "\u00e9\ud83c\udf89", "quote": "“Hello” ‘x’"}`, ""),
	},
	{
		name: "numbers and literals",
		in:   `{"n": [0, -1, 1.5, -0.25e+10, 3E-2], "t": true, "f": false, "z": null, "o": {}, "a": []}`,
		want: ok(`{"n": [0, -1, 1.5, -0.25e+10, 3E-2], "t": true, "f": false, "z": null, "o": {}, "a": []}`, ""),
	},
	{name: "nesting at the limit", in: deep(extract.MaxDepth - 1), want: ok(deep(extract.MaxDepth-1), "")},

	// Repairs.
	{name: "trailing comma in object", in: `{"a": 1,}`, want: ok(`{"a": 1}`, "trailing_comma")},
	{name: "trailing comma in array", in: `{"a": [1, 2, ]}`, want: ok(`{"a": [1, 2 ]}`, "trailing_comma")},
	{name: "trailing comma before comment", in: "{\"a\": 1, // done\n}", want: ok("{\"a\": 1  \n}", "trailing_comma comment")},
	{name: "block comment", in: `{"a": /* the answer */ 42}`, want: ok(`{"a":   42}`, "comment")},
	{name: "block comment between numbers", in: `{"a": [1/**/,2]}`, want: ok(`{"a": [1 ,2]}`, "comment")},
	{
		name: "line comments in jsonc fence",
		in:   "```jsonc\n{\n  // the name\n  \"a\": 1, // one\n  \"b\": 2\n}\n```",
		want: ok("{\n   \n  \"a\": 1,  \n  \"b\": 2\n}", "strip_fence comment comment strip_fence"),
	},
	{
		name: "single quotes",
		in:   `{'msg': 'say "hi"', 'it': 'it\'s'}`,
		want: ok(`{"msg": "say \"hi\"", "it": "it's"}`, "single_quotes single_quotes single_quotes single_quotes"),
	},
	{
		name: "unquoted keys",
		in:   `{name: "Ada", _id: 1, $ref: "x"}`,
		want: ok(`{"name": "Ada", "_id": 1, "$ref": "x"}`, "unquoted_key unquoted_key unquoted_key"),
	},
	{
		name: "javascript fence",
		in:   "```javascript\n{name: 'Ada', age: 36}\n```",
		want: ok(`{"name": "Ada", "age": 36}`, "strip_fence unquoted_key single_quotes unquoted_key strip_fence"),
	},
	{
		name: "python literals",
		in:   `{"a": True, "b": [False, None]}`,
		want: ok(`{"a": true, "b": [false, null]}`, "python_literal python_literal python_literal"),
	},
	{
		name: "python literal text in strings kept",
		in:   `{"a": "True or None", "b": True}`,
		want: ok(`{"a": "True or None", "b": true}`, "python_literal"),
	},
	{
		name: "python dict",
		in:   "```python\n{'name': 'Ada', 'tags': ['x'], 'ok': True, 'n': None}\n```",
		want: ok(`{"name": "Ada", "tags": ["x"], "ok": true, "n": null}`,
			"strip_fence single_quotes single_quotes single_quotes single_quotes single_quotes python_literal single_quotes python_literal strip_fence"),
	},
	{name: "smart double quotes", in: `{“name”: “Ada "A" L”}`, want: ok(`{"name": "Ada \"A\" L"}`, "smart_quotes smart_quotes")},
	{name: "smart single quotes", in: `{‘name’: ‘Ada’}`, want: ok(`{"name": "Ada"}`, "smart_quotes smart_quotes")},
	{name: "raw newlines", in: "{\"poem\": \"roses\nare red\r\n\"}", want: ok(`{"poem": "roses\nare red\r\n"}`, "raw_newline")},
	{name: "raw tab", in: "{\"a\": \"x\ty\", \"b\": \"\tz\"}", want: ok(`{"a": "x\ty", "b": "\tz"}`, "raw_newline raw_newline")},
	{name: "malformed region then object", in: `{"a" 1} {"b": 2}`, want: ok(`{"b": 2}`, "strip_prose")},

	// Quotes inside strings.
	{
		name: "quote in string",
		in:   `{"cmd": "echo "done" > log", "n": 1}`,
		want: ok(`{"cmd": "echo \"done\" > log", "n": 1}`, "inner_quote inner_quote"),
	},
	{name: "quoted word at the end", in: `{"msg": "He said: "no""}`, want: ok(`{"msg": "He said: \"no\""}`, "inner_quote inner_quote")},
	{name: "quote before colon ends the string", in: `{"a": "x": 1}`, want: fails(extract.ErrMalformed)},
	{name: "apostrophe in single quotes", in: `{'s': 'can't log in'}`, want: ok(`{"s": "can't log in"}`, "single_quotes single_quotes inner_quote")},
	{name: "typographic apostrophe", in: `{"q": ‘Don’t’}`, want: ok(`{"q": "Don’t"}`, "smart_quotes inner_quote")},
	{name: "keys end at their first quote", in: `{"a" 1}`, want: fails(extract.ErrMalformed)},
	{name: "inner quote then end of text", in: `{"cmd": "echo "done`, want: fails(extract.ErrMalformed)},
	{name: "no repair inner quote", in: `{"a": "x "y" z"}`, opts: extract.Options{NoRepair: true}, want: fails(extract.ErrMalformed)},

	// Values without quotes.
	{
		name: "unquoted values",
		in:   `{name: Ada Lovelace, born: 1815, alive: false}`,
		want: ok(`{"name": "Ada Lovelace", "born": 1815, "alive": false}`, "unquoted_key unquoted_value unquoted_key unquoted_key"),
	},
	{
		name: "unquoted words that start like numbers",
		in:   `{date: 2024-05-01T10:00:00Z, pct: 12.5%, addr: 221B Baker St, born: 1815 in London}`,
		want: ok(`{"date": "2024-05-01T10:00:00Z", "pct": "12.5%", "addr": "221B Baker St", "born": "1815 in London"}`,
			"unquoted_key unquoted_value unquoted_key unquoted_value unquoted_key unquoted_value unquoted_key unquoted_value"),
	},
	{name: "unquoted url", in: `{"url": https://x.y/a?b=1, "n": 1}`, want: ok(`{"url": "https://x.y/a?b=1", "n": 1}`, "unquoted_value")},
	{name: "unquoted value with quotes and brackets", in: `{"t": The "best" plan [v2], "u": 1}`, want: ok(`{"t": "The \"best\" plan [v2]", "u": 1}`, "unquoted_value")},
	{name: "unquoted value before comment", in: "{\"a\": Ada // the name\n}", want: ok("{\"a\": \"Ada\"  \n}", "unquoted_value comment")},
	{name: "unquoted value holding a key", in: `{note: Re: refund}`, want: fails(extract.ErrMalformed)},
	{name: "unquoted value with open bracket", in: `{"a": see (below, "b": 1}`, want: fails(extract.ErrMalformed)},
	{name: "unquoted value in a tuple", in: `{"a": (x, y)}`, want: fails(extract.ErrMalformed)},
	{name: "NaN", in: `{"a": NaN}`, want: fails(extract.ErrMalformed)},
	{name: "minus Infinity", in: `{"a": -Infinity}`, want: fails(extract.ErrMalformed)},
	{name: "hex number", in: `{"a": 0x1F}`, want: ok(`{"a": "0x1F"}`, "unquoted_value")},
	{name: "keys with spaces", in: `{first name: "Ada", e-mail : "a@x.y"}`, want: ok(`{"first name": "Ada", "e-mail" : "a@x.y"}`, "unquoted_key unquoted_key")},
	{name: "no repair unquoted value", in: `{"a": Ada}`, opts: extract.Options{NoRepair: true}, want: fails(extract.ErrMalformed)},

	// Missing commas.
	{name: "missing comma", in: `{"a": 1 "b": 2}`, want: ok(`{"a": 1 ,"b": 2}`, "missing_comma")},
	{name: "missing commas in array", in: `{"a": [1 2 3]}`, want: ok(`{"a": [1 ,2 ,3]}`, "missing_comma missing_comma")},
	{name: "missing comma between strings", in: `{"a": "x" "b": "y"}`, want: ok(`{"a": "x" ,"b": "y"}`, "missing_comma")},
	{name: "missing comma before unquoted key", in: `{"a": 1 b: 2}`, want: ok(`{"a": 1 ,"b": 2}`, "missing_comma unquoted_key")},
	{
		name: "lines without commas",
		in:   "{\n  name: Ada Lovelace\n  born: 1815\n  alive: false\n}",
		want: ok("{\n  \"name\": \"Ada Lovelace\"\n  ,\"born\": 1815\n  ,\"alive\": false\n}",
			"unquoted_key unquoted_value missing_comma unquoted_key missing_comma unquoted_key"),
	},
	{name: "missing comma between objects", in: `{"a": [{"b": 1} {"b": 2}]}`, want: ok(`{"a": [{"b": 1} ,{"b": 2}]}`, "missing_comma")},
	{name: "no repair missing comma", in: `{"a": 1 "b": 2}`, opts: extract.Options{NoRepair: true}, want: fails(extract.ErrMalformed)},

	// Number spellings and literals.
	{
		name: "number spellings",
		in:   `{"a": 1_000, "b": .5, "c": 5., "d": +3, "e": -.25}`,
		want: ok(`{"a": 1000, "b": 0.5, "c": 5, "d": 3, "e": -0.25}`, "number_spelling number_spelling number_spelling number_spelling number_spelling"),
	},
	{name: "leading zero", in: `{"a": 007}`, want: ok(`{"a": "007"}`, "unquoted_value")},
	{name: "undefined", in: `{"a": undefined}`, want: ok(`{"a": null}`, "python_literal")},
	{name: "literal followed by a word", in: `{"a": null value}`, want: ok(`{"a": "null value"}`, "unquoted_value")},
	{name: "no repair number spelling", in: `{"a": .5}`, opts: extract.Options{NoRepair: true}, want: fails(extract.ErrMalformed)},

	// Other string delimiters.
	{name: "backticks", in: "{\"a\": `say \"hi\"`}", want: ok(`{"a": "say \"hi\""}`, "quoted_string")},
	{name: "double backticks", in: "{\"a\": ``x ` y``}", want: ok("{\"a\": \"x ` y\"}", "quoted_string")},
	{name: "code block", in: "{\"code\": ```python\nprint(\"hi\")\n```, \"n\": 1}", want: ok(`{"code": "print(\"hi\")", "n": 1}`, "quoted_string")},
	{name: "triple quotes", in: "{\"a\": \"\"\"two\nlines \"q\" \"\"\"}", want: ok(`{"a": "two\nlines \"q\" "}`, "quoted_string")},
	{name: "triple single quotes", in: `{'a': '''it's'''}`, want: ok(`{"a": "it's"}`, "single_quotes quoted_string")},
	{name: "empty string is not triple quotes", in: `{"a": "", "b": ""}`, want: ok(`{"a": "", "b": ""}`, "")},
	{name: "unclosed backticks", in: "{\"a\": `x", want: fails(extract.ErrTruncated)},

	// Brackets closed too early or too late.
	{name: "closed too early", in: `{"city": "Oslo"}, "zip": "0150"}`, want: ok(`{"city": "Oslo", "zip": "0150"}`, "early_close")},
	{name: "nested closed too early", in: `{"a": {"b": 1}}, c: 2}`, want: ok(`{"a": {"b": 1}, "c": 2}`, "early_close unquoted_key")},
	{name: "stray brackets", in: `{"a": [1, 2]], "b": 3}}`, want: ok(`{"a": [1, 2], "b": 3}`, "stray_bracket stray_bracket")},
	{name: "two objects stay two", in: `{"a": 1}, {"b": 2}`, want: ok(`{"a": 1}`, "strip_prose", `{"b": 2}`, "strip_prose")},
	{name: "mismatched bracket", in: `{"a": [1, 2}`, want: fails(extract.ErrMalformed)},

	// Missing values and tuples.
	{name: "missing values", in: `{"a": , "b": 1, "c": }`, want: ok(`{"a": null, "b": 1, "c": null}`, "missing_value missing_value")},
	{name: "tuples", in: `{"t": (1, 2), "u": (3,)}`, want: ok(`{"t": [1, 2], "u": [3]}`, "tuple tuple trailing_comma")},

	// Brackets the text forgot to close, after a complete value only.
	{name: "unclosed after array", in: `{"a": 1, "b": [2, 3]`, want: ok(`{"a": 1, "b": [2, 3]}`, "unclosed")},
	{name: "unclosed after string", in: `{"a": {"b": "c"` + "\n", want: ok("{\"a\": {\"b\": \"c\"\n}}", "unclosed")},
	{name: "unclosed in fence", in: "```json\n{\"a\": [\"x\"]\n```", want: ok("{\"a\": [\"x\"]\n}", "strip_fence unclosed strip_fence")},
	{name: "unclosed array", in: `["a", "b"`, opts: arrays, want: ok(`["a", "b"]`, "unclosed")},

	// Truncation is reported, never repaired.
	{name: "truncated in string", in: "```json\n{\"a\": \"hel", want: fails(extract.ErrTruncated)},
	{name: "truncated in array", in: `{"a": 1, "b": [1, 2`, want: fails(extract.ErrTruncated)},
	{name: "truncated after number", in: `{"a": 1, "b": 2`, want: fails(extract.ErrTruncated)},
	{name: "truncated after literal", in: `{"a": true`, want: fails(extract.ErrTruncated)},
	{name: "truncated after colon", in: `{"a": 1, "b":`, want: fails(extract.ErrTruncated)},
	{name: "truncated in key", in: `{"a": 1, "b`, want: fails(extract.ErrTruncated)},
	{name: "truncated after key", in: `{"a": "x", "b"`, want: fails(extract.ErrTruncated)},
	{name: "truncated after comma", in: `{"a": 1,`, want: fails(extract.ErrTruncated)},
	{name: "truncated after open bracket", in: `{"a": [`, want: fails(extract.ErrTruncated)},
	{name: "truncated in literal", in: `{"a": tru`, want: fails(extract.ErrTruncated)},
	{name: "truncated in unquoted value", in: `{name: Ada Love`, want: fails(extract.ErrTruncated)},
	{name: "truncated in unquoted key", in: `{"a": "x", first na`, want: fails(extract.ErrTruncated)},
	{name: "truncated in number spelling", in: `{"a": "x", "b": 1.`, want: fails(extract.ErrTruncated)},
	{name: "truncated in escape", in: `{"a": "\u00`, want: fails(extract.ErrTruncated)},
	{name: "truncated in comment", in: `{"a": "x" /* more`, want: fails(extract.ErrTruncated)},
	{name: "truncated in smart quote", in: "{\"a\": \xe2\x80", want: fails(extract.ErrTruncated)},
	{name: "truncated top-level array", in: "[1, 2", want: fails(extract.ErrTruncated)},
	{name: "truncated after complete example", in: "Example: {\"a\": 1}\nAnswer: {\"a\": 2, \"b\"", want: fails(extract.ErrTruncated)},

	// Not repaired.
	{name: "missing colon", in: `{"a" 1}`, want: fails(extract.ErrMalformed)},
	{name: "escaped apostrophe in double quotes", in: `{"a": "it\'s"}`, want: fails(extract.ErrMalformed)},
	{name: "control character", in: "{\"a\": \"x\x01y\"}", want: fails(extract.ErrMalformed)},
	{name: "double comma", in: `{"a": [1,,2]}`, want: fails(extract.ErrMalformed)},
	{name: "inner object of malformed one", in: `{"a" 1, "b": {"c": 2}}`, want: fails(extract.ErrMalformed)},
	{name: "nesting beyond the limit", in: deep(extract.MaxDepth), want: fails(extract.ErrMalformed)},

	// Options.
	{name: "too large", in: `{"a": 1}`, opts: extract.Options{MaxBytes: 7}, want: fails(extract.ErrTooLarge)},
	{name: "at the size limit", in: `{"a": 1}`, opts: extract.Options{MaxBytes: 8}, want: ok(`{"a": 1}`, "")},
	{name: "too many values", in: `{"a": [1, 2]}`, opts: extract.Options{MaxValues: 3}, want: fails(extract.ErrTooLarge)},
	{name: "at the value limit", in: `{"a": [1, 'x']}`, opts: extract.Options{MaxValues: 4}, want: ok(`{"a": [1, "x"]}`, "single_quotes")},
	{name: "values counted over candidates", in: `{"a": 1} {"b": 2}`, opts: extract.Options{MaxValues: 3}, want: fails(extract.ErrTooLarge)},
	{
		name: "max candidates",
		in:   `{"a": 1} {"b": 2} {"c": 3}`,
		opts: extract.Options{MaxCandidates: 2},
		want: ok(`{"a": 1}`, "strip_prose", `{"b": 2}`, "strip_prose strip_prose"),
	},
	{name: "one candidate", in: `{"a": 1} {"b": 2}`, opts: extract.Options{MaxCandidates: 1}, want: ok(`{"a": 1}`, "strip_prose")},
	{name: "truncated past max candidates", in: `{"a": 1} {"b": 2} {"c": `, opts: extract.Options{MaxCandidates: 1}, want: fails(extract.ErrTruncated)},
	{name: "no repair strips fences", in: "Here:\n```json\n{\"a\": 1}\n```", opts: extract.Options{NoRepair: true}, want: ok(`{"a": 1}`, "strip_prose strip_fence strip_fence")},
	{name: "no repair trailing comma", in: `{"a": 1,}`, opts: extract.Options{NoRepair: true}, want: fails(extract.ErrMalformed)},
	{name: "no repair comment", in: `{"a": 1 // x` + "\n}", opts: extract.Options{NoRepair: true}, want: fails(extract.ErrMalformed)},
	{name: "no repair single quotes", in: `{'a': 1}`, opts: extract.Options{NoRepair: true}, want: fails(extract.ErrMalformed)},
	{name: "no repair unquoted key", in: `{a: 1}`, opts: extract.Options{NoRepair: true}, want: fails(extract.ErrMalformed)},
	{name: "no repair python literal", in: `{"a": None}`, opts: extract.Options{NoRepair: true}, want: fails(extract.ErrMalformed)},
	{name: "no repair smart quotes", in: `{“a”: 1}`, opts: extract.Options{NoRepair: true}, want: fails(extract.ErrMalformed)},
	{name: "no repair raw newline", in: "{\"a\": \"x\ny\"}", opts: extract.Options{NoRepair: true}, want: fails(extract.ErrMalformed)},
	{name: "no repair still reports truncation", in: `{"a": 1,`, opts: extract.Options{NoRepair: true}, want: fails(extract.ErrTruncated)},
	{name: "no repair unclosed", in: `{"a": [1]`, opts: extract.Options{NoRepair: true}, want: fails(extract.ErrTruncated)},
	{name: "repairs within the bound", in: "{" + strings.Repeat("a:1,", 255) + "z:0}", want: ok("{"+strings.Repeat(`"a":1,`, 255)+`"z":0}`, strings.TrimSpace(strings.Repeat("unquoted_key ", 256)))},
}

func TestCandidates(t *testing.T) {
	t.Parallel()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := candidates(tc.in, tc.opts)
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateErrors(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Candidates(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

// TestJSON checks that JSON returns what Candidates returns first.
func TestJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			all, wantErr := extract.Candidates(tc.in, tc.opts)
			want := append(all, extract.Candidate{})[0]
			got, err := extract.JSON(tc.in, tc.opts)
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("JSON(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
			if diff := cmp.Diff(asError(wantErr), asError(err), cmpopts.EquateErrors()); diff != "" {
				t.Errorf("JSON(%q) error mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

// TestRepairs checks offsets and details, which the table above leaves out.
func TestRepairs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want extract.Candidate
	}{
		{
			name: "prose and fences",
			in:   "Sure! Here is the JSON:\n```json\n{\"a\":1}\n```\nThanks!",
			want: extract.Candidate{
				JSON: []byte(`{"a":1}`),
				Repairs: []extract.Repair{
					{Kind: extract.KindStripProse, Offset: 0, Detail: "text before object"},
					{Kind: extract.KindStripFence, Offset: 24, Detail: "```json"},
					{Kind: extract.KindStripFence, Offset: 40, Detail: "```"},
					{Kind: extract.KindStripProse, Offset: 44, Detail: "text after object"},
				},
				Offset: 32,
				End:    39,
			},
		},
		{
			name: "prose inside the fence",
			in:   "```json\nHere:\n{}",
			want: extract.Candidate{
				JSON: []byte(`{}`),
				Repairs: []extract.Repair{
					{Kind: extract.KindStripFence, Offset: 0, Detail: "```json"},
					{Kind: extract.KindStripProse, Offset: 8, Detail: "text before object"},
				},
				Offset: 14,
				End:    16,
			},
		},
		{
			name: "syntax repairs",
			in:   " {'a': True, b: “c”, \"d\": \"x\ny\n\",} ",
			want: extract.Candidate{
				JSON: []byte(`{"a": true, "b": "c", "d": "x\ny\n"}`),
				Repairs: []extract.Repair{
					{Kind: extract.KindSingleQuotes, Offset: 2, Detail: "single-quoted string"},
					{Kind: extract.KindPythonLiteral, Offset: 7, Path: "a", Detail: "True as true"},
					{Kind: extract.KindUnquotedKey, Offset: 13, Detail: "unquoted object key"},
					{Kind: extract.KindSmartQuotes, Offset: 16, Path: "b", Detail: "typographic quotes as \""},
					{Kind: extract.KindRawNewline, Offset: 32, Path: "d", Detail: "raw newline, carriage return or tab escaped"},
					{Kind: extract.KindTrailingComma, Offset: 36, Detail: "trailing comma before '}'"},
				},
				Offset: 1,
				End:    38,
			},
		},
		{
			name: "comments",
			in:   "{/* a */\"a\":1// b\n}",
			want: extract.Candidate{
				JSON: []byte("{ \"a\":1 \n}"),
				Repairs: []extract.Repair{
					{Kind: extract.KindComment, Offset: 1, Detail: "/* */ comment"},
					{Kind: extract.KindComment, Offset: 13, Detail: "// comment"},
				},
				Offset: 0,
				End:    19,
			},
		},
		{
			name: "paths",
			in:   `{"a": [{b: 1_0}, {"first name": Ada}], "c": {"d": ("x",)}`,
			want: extract.Candidate{
				JSON: []byte(`{"a": [{"b": 10}, {"first name": "Ada"}], "c": {"d": ["x"]}}`),
				Repairs: []extract.Repair{
					{Kind: extract.KindUnquotedKey, Offset: 8, Path: "a[0]", Detail: "unquoted object key"},
					{Kind: extract.KindNumberSpelling, Offset: 11, Path: "a[0].b", Detail: "'_' between digits removed"},
					{Kind: extract.KindUnquotedValue, Offset: 32, Path: `a[1]["first name"]`, Detail: "unquoted value read as a string"},
					{Kind: extract.KindTuple, Offset: 50, Path: "c.d", Detail: "tuple read as an array"},
					{Kind: extract.KindTrailingComma, Offset: 54, Path: "c.d", Detail: "trailing comma before ')'"},
					{Kind: extract.KindUnclosed, Offset: 57, Path: "", Detail: "brackets left open at the end closed"},
				},
				Offset: 0,
				End:    57,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := extract.JSON(tc.in, extract.Options{})
			if err != nil {
				t.Fatalf("JSON(%q) = %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("JSON(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

// asError returns the *extract.Error in err as a value, or the zero Error.
func asError(err error) extract.Error {
	e := &extract.Error{}
	errors.As(err, &e)
	return *e
}

func TestErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		opts    extract.Options
		want    extract.Error
		wantMsg string
	}{
		{
			name:    "missing colon",
			in:      `{"a" 1}`,
			want:    extract.Error{Err: extract.ErrMalformed, Offset: 5, Reason: "expected ':' after object key"},
			wantMsg: "extract: malformed JSON at byte 5: expected ':' after object key",
		},
		{
			name:    "truncated string",
			in:      `ok: {"a": "hel`,
			want:    extract.Error{Err: extract.ErrTruncated, Offset: 10, Reason: "text ends inside string"},
			wantMsg: "extract: truncated JSON at byte 10: text ends inside string",
		},
		{
			name:    "truncated object",
			in:      `{"a": {"b": 1}, "c": 2`,
			want:    extract.Error{Err: extract.ErrTruncated, Offset: 0, Reason: "text ends inside object"},
			wantMsg: "extract: truncated JSON at byte 0: text ends inside object",
		},
		{
			name:    "too deep",
			in:      deep(extract.MaxDepth),
			want:    extract.Error{Err: extract.ErrMalformed, Offset: 5 + extract.MaxDepth - 1, Reason: "objects and arrays nested deeper than 128"},
			wantMsg: "extract: malformed JSON at byte 132: objects and arrays nested deeper than 128",
		},
		{
			name:    "first malformed region is reported",
			in:      `{"a": NaN} {"b" 2}`,
			want:    extract.Error{Err: extract.ErrMalformed, Offset: 6, Reason: "invalid number"},
			wantMsg: "extract: malformed JSON at byte 6: invalid number",
		},
		{
			name:    "more repairs than one per 16 bytes",
			in:      "{" + strings.Repeat("a:1,", 300) + "}",
			want:    extract.Error{Err: extract.ErrMalformed, Offset: 1025, Reason: "more repairs than one per 16 bytes of text: not JSON with slips"},
			wantMsg: "extract: malformed JSON at byte 1025: more repairs than one per 16 bytes of text: not JSON with slips",
		},
		{
			name:    "array only",
			in:      "x [1]",
			want:    extract.Error{Err: extract.ErrNoJSON, Offset: 2, Reason: "only top-level arrays, which are not objects"},
			wantMsg: "extract: no JSON object at byte 2: only top-level arrays, which are not objects",
		},
		{
			name:    "bracketed prose only",
			in:      "- [x] done",
			opts:    extract.Options{Arrays: true},
			want:    extract.Error{Err: extract.ErrNoJSON, Offset: 2, Reason: "only bracketed prose"},
			wantMsg: "extract: no JSON object at byte 2: only bracketed prose",
		},
		{
			name:    "unquoted value holding a key",
			in:      `{summary: Note: call back}`,
			want:    extract.Error{Err: extract.ErrMalformed, Offset: 14, Reason: `unquoted value holds ": ", which may start a key`},
			wantMsg: `extract: malformed JSON at byte 14: unquoted value holds ": ", which may start a key`,
		},
		{
			name:    "inner quote to the end",
			in:      `{"cmd": "echo "done`,
			want:    extract.Error{Err: extract.ErrMalformed, Offset: 14, Reason: "a quote read as inside a string leaves it open to the end of the text"},
			wantMsg: "extract: malformed JSON at byte 14: a quote read as inside a string leaves it open to the end of the text",
		},
		{
			name:    "cut after a number",
			in:      `{"a": [1, 2`,
			want:    extract.Error{Err: extract.ErrTruncated, Offset: 6, Reason: "text ends inside array"},
			wantMsg: "extract: truncated JSON at byte 6: text ends inside array",
		},
		{
			name:    "too large",
			in:      "{}",
			opts:    extract.Options{MaxBytes: 1},
			want:    extract.Error{Err: extract.ErrTooLarge, Offset: 1, Reason: "input longer than MaxBytes"},
			wantMsg: "extract: text too large at byte 1: input longer than MaxBytes",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := extract.JSON(tc.in, tc.opts)
			if diff := cmp.Diff(tc.want, asError(err), cmpopts.EquateErrors()); diff != "" {
				t.Errorf("JSON(%q) error mismatch (-want +got):\n%s", tc.in, diff)
			}
			if err == nil {
				t.Fatalf("JSON(%q) succeeded", tc.in)
			}
			if diff := cmp.Diff(tc.wantMsg, err.Error()); diff != "" {
				t.Errorf("JSON(%q) error text mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

// TestCleanObjectAllocs guards the hot path: an object that needs no
// repair costs its copy plus the repair list for its fence.
func TestCleanObjectAllocs(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want float64
	}{
		{name: "bare", in: " {\"name\": \"Ada\", \"age\": 36} \n", want: 1},
		{name: "fenced", in: typical, want: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := testing.AllocsPerRun(100, func() {
				if _, err := extract.JSON(tc.in, extract.Options{}); err != nil {
					t.Fatal(err)
				}
			})
			if got > tc.want {
				t.Errorf("JSON allocations = %v, want at most %v", got, tc.want)
			}
		})
	}
}

// scalar is what a TestScalar case checks, as a result.
func scalar(text string) result {
	c, err := extract.Scalar(text, extract.Options{})
	if err != nil {
		return result{Err: err}
	}
	kinds := make([]string, 0, len(c.Repairs))
	for _, rep := range c.Repairs {
		kinds = append(kinds, rep.Kind)
	}
	return ok(string(c.JSON), strings.Join(kinds, " "))
}

func TestScalar(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want result
	}{
		{name: "string", in: ` "Paris" `, want: ok(`"Paris"`, "")},
		{name: "number", in: "42\n", want: ok(`42`, "")},
		{name: "negative float", in: `-0.5`, want: ok(`-0.5`, "")},
		{name: "boolean", in: `true`, want: ok(`true`, "")},
		{name: "python literal", in: `False`, want: ok(`false`, "python_literal")},
		{name: "number spelling", in: `1_000`, want: ok(`1000`, "number_spelling")},
		{name: "words", in: `Paris, France: the capital`, want: ok(`"Paris, France: the capital"`, "unquoted_value")},
		{name: "fenced", in: "```json\n\"Oslo\"\n```", want: ok(`"Oslo"`, "strip_fence strip_fence")},
		{name: "fenced words", in: "```\nOslo\n```", want: ok(`"Oslo"`, "strip_fence unquoted_value strip_fence")},
		{name: "single quotes", in: `'it's'`, want: ok(`"it's"`, "single_quotes inner_quote")},
		{name: "backticks", in: "`ls -l`", want: ok(`"ls -l"`, "quoted_string")},
		{name: "empty", in: "  \n", want: fails(extract.ErrNoJSON)},
		{name: "object", in: `{"value": 1}`, want: fails(extract.ErrNoJSON)},
		{name: "array", in: `[1, 2]`, want: fails(extract.ErrNoJSON)},
		{name: "two lines", in: "Oslo\nNorway", want: fails(extract.ErrMalformed)},
		{name: "two values", in: `"a" "b"`, want: fails(extract.ErrMalformed)},
		{name: "cut off string", in: `"Par`, want: fails(extract.ErrTruncated)},
		{name: "NaN", in: `NaN`, want: fails(extract.ErrMalformed)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, scalar(tc.in), cmpopts.EquateErrors(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Scalar(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

// TestNoStrip: with stripping off, JSON that fences or prose surround is
// malformed, as strict JSON would find it; bare JSON still passes, and a
// text holding both gives the bare candidate alone.
func TestNoStrip(t *testing.T) {
	t.Parallel()
	opts := extract.Options{NoStrip: true}
	for _, text := range []string{"```json\n{\"a\": 1}\n```", "Here it is: {\"a\": 1}", "{\"a\": 1}\nHope this helps!"} {
		if _, err := extract.JSON(text, opts); !errors.Is(err, extract.ErrMalformed) {
			t.Errorf("JSON(%q) = %v, want ErrMalformed", text, err)
		}
		if _, err := extract.Candidates(text, opts); !errors.Is(err, extract.ErrMalformed) {
			t.Errorf("Candidates(%q) = %v, want ErrMalformed", text, err)
		}
		if c, err := extract.JSON(text, extract.Options{}); err != nil || string(c.JSON) != `{"a": 1}` {
			t.Errorf("with stripping, JSON(%q) = %s, %v", text, c.JSON, err)
		}
	}
	if c, err := extract.JSON(" {\"a\": 1}\n", opts); err != nil || string(c.JSON) != `{"a": 1}` {
		t.Errorf("bare JSON with NoStrip = %s, %v", c.JSON, err)
	}
	if _, err := extract.Scalar("```\n42\n```", opts); !errors.Is(err, extract.ErrMalformed) {
		t.Errorf("Scalar in a fence with NoStrip = %v, want ErrMalformed", err)
	}
	if c, err := extract.Scalar("42", opts); err != nil || string(c.JSON) != "42" {
		t.Errorf("Scalar(42) with NoStrip = %s, %v", c.JSON, err)
	}
}
