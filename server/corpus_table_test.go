package server

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/guardgen/guardgen/schema"
)

// update rewrites the README's corpus table instead of checking it:
//
//	go test ./server/ -run TestCorpusTable -update
var update = flag.Bool("update", false, "rewrite the corpus table in README.md")

// family is a group of corpus cases that test one repair, one alignment or
// one kind of failure.
type family struct {
	id, what string
}

// families are the corpus's families, in the README table's order. Each
// holds at least minFamilyCases cases and must score at least minScore.
var families = []family{
	{"clean", "well-formed answers, which pass unchanged"},
	{"fences-prose", "fences, prose, tags and example objects around the answer"},
	{"comments-commas", "comments and trailing commas"},
	{"quote-styles", "single quotes, typographic quotes, raw newlines in strings"},
	{"inner-quote", `a quote inside a string that does not end it: "echo "done" > log"`},
	{"unquoted-keys", "keys without quotes, with spaces, in other scripts"},
	{"unquoted-values", "values without quotes: {name: Ada Lovelace, born: 1815}"},
	{"missing-comma", "missing commas between members and elements"},
	{"number-spelling", "numbers written 1_000, .5, 5., +3"},
	{"literals", "Python and JavaScript literals: True, False, None, undefined"},
	{"quoted-strings", "strings in backticks, code blocks and triple quotes"},
	{"early-close", "an object closed before its last members"},
	{"stray-bracket", "closing brackets that close nothing"},
	{"missing-value", "members with nothing after the colon"},
	{"tuple", "Python tuples for arrays"},
	{"unclosed", "brackets the answer forgot to close, after a complete value"},
	{"cut-off", "text cut off inside a value, or at the token limit: never completed"},
	{"keys", "keys in another case, with spaces, without accents, in other word styles"},
	{"booleans", "booleans written as strings, yes/no, 1/0"},
	{"numbers", "numbers in strings, with spaces, signs, thousands separators"},
	{"enums", "enum names in other cases, without prefixes, in longer answers"},
	{"choices", `strings with an "in" rule in other cases or in longer answers`},
	{"json-in-string", "JSON inside a string where an object or list belongs, the whole answer included"},
	{"lists", "a single value for a list, a list of one for a single value"},
	{"bare-array", "a bare array for a message, an array holding the answer"},
	{"unknown-keys", "keys no field has: dropped and listed, or refused when nothing is left"},
	{"strict", "strict_schema_mode, configured or per request"},
	{"any-shape", "Struct, Value, ListValue and wrapper targets: any JSON shape"},
	{"rules", "answers that parse but break a field rule or a business rule"},
	{"no-answer", "refusals, filters, prose, YAML and empty answers"},
}

const (
	minFamilyCases = 12
	minScore       = 0.95
	minCorpus      = 300
	tableStart     = "<!-- corpus-table:start (go test ./server/ -run TestCorpusTable -update) -->"
	tableEnd       = "<!-- corpus-table:end -->"
)

// tally counts one family's cases and how many came out as expected.
type tally struct {
	cases, accepted, refused int
}

func (t tally) score() float64 {
	if t.cases == 0 {
		return 0
	}
	return float64(t.accepted+t.refused) / float64(t.cases)
}

// TestCorpusTable checks the corpus's size and each family's size and
// score, and that the table in README.md is the one the corpus makes.
func TestCorpusTable(t *testing.T) {
	t.Parallel()
	cases := readCorpus(t)
	resolver, err := schema.NewResolver(schema.Options{RequestTypesOff: true}) // compiled-in targets only
	if err != nil {
		t.Fatal(err)
	}
	tallies := map[string]*tally{}
	for _, f := range families {
		tallies[f.id] = &tally{}
	}
	for _, c := range cases {
		ok := len(judge(resolver, c)) == 0
		tl := tallies[c.family]
		tl.cases++
		switch {
		case ok && c.fail == 0:
			tl.accepted++
		case ok:
			tl.refused++
		}
	}
	if len(cases) < minCorpus {
		t.Errorf("the corpus has %d cases, want at least %d", len(cases), minCorpus)
	}
	for _, f := range families {
		tl := tallies[f.id]
		if tl.cases < minFamilyCases || tl.score() < minScore {
			t.Errorf("family %s: %d cases scoring %.0f%%, want at least %d scoring %.0f%%",
				f.id, tl.cases, 100*tl.score(), minFamilyCases, 100*minScore)
		}
	}
	table := corpusTable(tallies, len(cases))
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := bytes.Cut(readme, []byte(tableStart))
	inner, after, ok2 := bytes.Cut(rest, []byte(tableEnd))
	if !ok1 || !ok2 {
		t.Fatalf("README.md has no corpus table between %q and %q", tableStart, tableEnd)
	}
	if *update {
		var out bytes.Buffer
		for _, part := range []string{string(before), tableStart, "\n", table, tableEnd, string(after)} {
			out.WriteString(part)
		}
		if err := os.WriteFile("../README.md", out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := strings.TrimPrefix(string(inner), "\n"); got != table {
		t.Errorf("README.md's corpus table is stale; run go test ./server/ -run TestCorpusTable -update\nwant:\n%s\ngot:\n%s", table, got)
	}
}

// corpusTable writes the README table: one row per family, then the total.
func corpusTable(tallies map[string]*tally, total int) string {
	var b strings.Builder
	b.WriteString("| family | what it holds | cases | accepted as expected | refused as expected | score |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: | ---: |\n")
	var sum tally
	for _, f := range families {
		tl := tallies[f.id]
		fmt.Fprintf(&b, "| `%s` | %s | %d | %d | %d | %.0f %% |\n", f.id, f.what, tl.cases, tl.accepted, tl.refused, 100*tl.score())
		sum.cases += tl.cases
		sum.accepted += tl.accepted
		sum.refused += tl.refused
	}
	fmt.Fprintf(&b, "| all | | %d | %d | %d | %.0f %% |\n", total, sum.accepted, sum.refused, 100*sum.score())
	return b.String()
}
