package extract_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/guardgen/guardgen/extract"
)

// event is a reported value as a test compares it.
type event struct {
	Path      string
	Text      string
	Container bool
}

func pathString(path []extract.Step) string {
	var b strings.Builder
	for _, st := range path {
		if st.Index >= 0 {
			fmt.Fprintf(&b, "[%d]", st.Index)
		} else {
			fmt.Fprintf(&b, ".%s", st.Key)
		}
	}
	return b.String()
}

// scan gives a new Stream the text chunk by chunk, as it grows, and
// returns what it reported.
func scan(opts extract.StreamOptions, chunks ...string) ([]event, *extract.Stream) {
	s := extract.NewStream(opts)
	var got []event
	var text strings.Builder
	for _, c := range chunks {
		text.WriteString(c)
		s.Scan(text.String(), func(v extract.Value) {
			got = append(got, event{pathString(v.Path), v.Text, v.Container})
		})
	}
	return got, s
}

func TestStreamValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want []event
		// stops is set when the stream gives up on the text.
		stops bool
	}{
		{
			name: "ticket",
			text: `{"category": "billing", "priority": 3, "summary": "charged twice"}`,
			want: []event{
				{".category", `"billing"`, false},
				{".priority", `3`, false},
				{".summary", `"charged twice"`, false},
				{"", `{"category": "billing", "priority": 3, "summary": "charged twice"}`, true},
			},
		},
		{
			name: "nested, lists and prose around",
			text: "Sure! Here it is:\n```json\n{\"a\": {\"b\": [1, {\"c\": true}], \"d\": null}, \"e\": []}\n```\nAnything else?",
			want: []event{
				{".a.b[0]", `1`, false},
				{".a.b[1].c", `true`, false},
				{".a.b[1]", `{"c": true}`, true},
				{".a.b", `[1, {"c": true}]`, true},
				{".a.d", `null`, false},
				{".a", `{"b": [1, {"c": true}], "d": null}`, true},
				{".e", `[]`, true},
				{"", `{"a": {"b": [1, {"c": true}], "d": null}, "e": []}`, true},
			},
		},
		{
			name: "repairs the stream follows",
			text: "{name: 'Ada', // first\n  \"note\": \"say \"hi\" now\", 'born': 1815,\n  tags: [x y, \"z\",],\n  /* end */ }",
			want: []event{
				{".name", `'Ada'`, false},
				{".note", `"say "hi" now"`, false},
				{".born", `1815`, false},
				{".tags[0]", `x y`, false},
				{".tags[1]", `"z"`, false},
				{".tags", `[x y, "z",]`, true},
				{"", "{name: 'Ada', // first\n  \"note\": \"say \"hi\" now\", 'born': 1815,\n  tags: [x y, \"z\",],\n  /* end */ }", true},
			},
		},
		{
			name: "missing comma between members",
			text: "{\"a\": \"x\"\n \"b\": 2}",
			want: []event{{".a", `"x"`, false}, {".b", `2`, false}, {"", "{\"a\": \"x\"\n \"b\": 2}", true}},
		},
		{
			name: "escaped key and quote",
			text: `{"a\"b": "c\"d"}`,
			want: []event{{`.a"b`, `"c\"d"`, false}, {"", `{"a\"b": "c\"d"}`, true}},
		},
		{
			name: "text after the root is not read",
			text: `{"a": 1} {"b": 2}`,
			want: []event{{".a", `1`, false}, {"", `{"a": 1}`, true}},
		},
		{
			name:  "a tuple stops it",
			text:  `{"a": (1, 2)}`,
			stops: true,
		},
		{
			name:  "an array before any object stops it",
			text:  `[1] {"a": 1}`,
			stops: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, s := scan(extract.StreamOptions{}, tt.text)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			if stopped := s.Err() != nil; stopped != tt.stops {
				t.Errorf("Err = %v, want stopped %v", s.Err(), tt.stops)
			}
		})
	}
}

// TestStreamAnyCut: however the text is cut into writes, the same values
// are reported, and a prefix reports only values the whole text reports
// with the same text.
func TestStreamAnyCut(t *testing.T) {
	t.Parallel()
	texts := []string{
		"Here:\n```json\n{\"category\": \"billing\", \"priority\": 3, \"summary\": \"a \\\"b\\\" c\", \"tags\": [\"x\", 'y', {\"k\": [1, 2.5e3, -4]}], \"ok\": true}\n```",
		"{name: 'Ada', // first\n  \"note\": \"say \"hi\" now\", 'born': 1815,\n  tags: [x y, \"z\",],\n  /* end */ }",
		`{"a": {"b": {"c": {"d": [[], {}, [null]]}}}, "e": "ü€𝄞"}`,
	}
	r := rand.New(rand.NewPCG(7, 11))
	for _, text := range texts {
		want, _ := scan(extract.StreamOptions{}, text)
		for i := range len(text) + 1 {
			got, _ := scan(extract.StreamOptions{}, text[:i], text[i:])
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("cut at %d (-whole +cut):\n%s", i, diff)
			}
			prefix, _ := scan(extract.StreamOptions{}, text[:i])
			if diff := cmp.Diff(want[:len(prefix)], prefix, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("prefix of %d bytes reports values the whole text does not (-whole +prefix):\n%s", i, diff)
			}
		}
		for range 200 {
			var chunks []string
			for rest := text; rest != ""; {
				n := min(1+r.IntN(8), len(rest))
				chunks, rest = append(chunks, rest[:n]), rest[n:]
			}
			if got, _ := scan(extract.StreamOptions{}, chunks...); !cmp.Equal(want, got) {
				t.Fatalf("cut into %q: %v, want %v", chunks, got, want)
			}
		}
	}
}

// TestStreamValuesAreJSON: each reported value, read with JSON, is what
// the whole text's candidate holds at its path.
func TestStreamValuesAreJSON(t *testing.T) {
	t.Parallel()
	text := "{name: 'Ada', \"born\": 1815, tags: ['x', \"y\"], \"note\": \"say \"hi\" now\", nested: {'k': True}}"
	_, s := scan(extract.StreamOptions{}, text)
	if s.Err() != nil {
		t.Fatal(s.Err())
	}
	got, _ := scan(extract.StreamOptions{}, text)
	for _, v := range got {
		if _, err := extract.JSON(`{"v": `+v.Text+`}`, extract.Options{}); err != nil {
			t.Errorf("value %s %q does not read as JSON: %v", v.Path, v.Text, err)
		}
	}
}

func TestStreamArraysRoot(t *testing.T) {
	t.Parallel()
	got, _ := scan(extract.StreamOptions{Arrays: true}, `Colors: ["red", "green"]`)
	want := []event{{"[0]", `"red"`, false}, {"[1]", `"green"`, false}, {"", `["red", "green"]`, true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
}

func TestStreamAnchoredAndGrowing(t *testing.T) {
	t.Parallel()
	for text, anchored := range map[string]bool{
		`  {"a": 1}`:              true,
		"```json\n{\"a\": 1}":     true,
		"Sure:\n{\"a\": 1}":       false,
		"```json\nNote:{\"a\": 1": false,
	} {
		if _, s := scan(extract.StreamOptions{}, text); s.Anchored() != anchored {
			t.Errorf("%q: Anchored = %v, want %v", text, s.Anchored(), anchored)
		}
	}
	_, s := scan(extract.StreamOptions{}, `{"a": {"b": "grow`)
	path, text, ok := s.Growing()
	if !ok || pathString(path) != ".a.b" || text != `"grow` {
		t.Errorf("Growing = %v %q %v, want .a.b \"grow", pathString(path), text, ok)
	}
	for _, prefix := range []string{`{"a": {"b`, `{"a": 12`, `{"a": "x",`} {
		if _, s := scan(extract.StreamOptions{}, prefix); func() bool { _, _, ok := s.Growing(); return ok }() {
			t.Errorf("%q: a string value is growing, want none", prefix)
		}
	}
}

func TestStreamBounds(t *testing.T) {
	t.Parallel()
	_, s := scan(extract.StreamOptions{MaxBytes: 8}, `{"a": `, `"long"}`)
	if !errors.Is(s.Err(), extract.ErrTooLarge) {
		t.Errorf("Err = %v past MaxBytes, want ErrTooLarge", s.Err())
	}
	_, s = scan(extract.StreamOptions{}, strings.Repeat(`{"a":`, extract.MaxDepth+1))
	if s.Err() == nil {
		t.Error("nesting past MaxDepth was followed")
	}
}

// FuzzStream: however a text is cut in two, the stream reports the same
// values, and never panics or reports a value of a prefix that the whole
// text reports otherwise.
//
//	go test ./extract/ -run '^$' -fuzz FuzzStream
func FuzzStream(f *testing.F) {
	for _, seed := range []string{
		`{"category": "billing", "priority": 3}`,
		"{name: 'Ada', // c\n tags: [x, \"y\",], \"q\": \"a \"b\" c\"}",
		"```json\n{\"a\": [1, {\"b\": [true, null]}]}\n```",
		`{"a": "\u00fc\\"", 'b': -1.5e3}`,
	} {
		f.Add(seed, uint16(len(seed)/2))
	}
	f.Fuzz(func(t *testing.T, text string, cut uint16) {
		i := int(cut) % (len(text) + 1)
		whole, _ := scan(extract.StreamOptions{Arrays: true}, text)
		split, _ := scan(extract.StreamOptions{Arrays: true}, text[:i], text[i:])
		if !cmp.Equal(whole, split, cmpopts.EquateEmpty()) {
			t.Fatalf("cut at %d: %v, whole: %v", i, split, whole)
		}
		prefix, _ := scan(extract.StreamOptions{Arrays: true}, text[:i])
		if len(prefix) > len(whole) || !cmp.Equal(whole[:len(prefix)], prefix, cmpopts.EquateEmpty()) {
			t.Fatalf("prefix of %d bytes: %v, whole: %v", i, prefix, whole)
		}
	})
}
