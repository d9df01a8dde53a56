package semantic_test

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/guardgen/guardgen/extract"
	examplesv1 "github.com/guardgen/guardgen/gen/guardgen/examples/v1"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/semantic"
)

// tok is a token and its log-probability, as a test writes them.
type tok struct {
	text string
	lp   float64
}

func tokens(ts ...tok) []*providerv1.TokenLogprob {
	out := make([]*providerv1.TokenLogprob, len(ts))
	for i, t := range ts {
		out[i] = &providerv1.TokenLogprob{Token: []byte(t.text), Logprob: t.lp}
	}
	return out
}

func spelled(ts []*providerv1.TokenLogprob) string {
	var b strings.Builder
	for _, t := range ts {
		b.Write(t.GetToken())
	}
	return b.String()
}

func checksOf(t *testing.T, md protoreflect.MessageDescriptor) *semantic.Checks {
	t.Helper()
	c, err := semantic.FromDescriptor(md)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var ticket = (&examplesv1.VerifiedTicketClassification{}).ProtoReflect().Descriptor()

var (
	priorityMark = semantic.Mark{Critical: true, MinConfidence: 0.7, Verify: "Is this priority justified by the ticket?"}
	summaryMark  = semantic.Mark{MinConfidence: 0.3}
)

// approx compares confidences computed two ways (a sum of logs, then exp).
var approx = cmpopts.EquateApprox(0, 1e-12)

// TestMeasureByHand checks confidences against products computed by hand
// for a known token sequence: which tokens count for which value.
func TestMeasureByHand(t *testing.T) {
	t.Parallel()
	ts := tokens(
		tok{`{"`, -0.01}, tok{"category", -0.02}, tok{`":"`, -0.03}, // structure before the value: not counted
		tok{"bill", -0.1}, tok{"ing", -0.2}, // category's text
		tok{`","`, -0.04}, tok{"priority", -0.05}, tok{`":`, -0.06},
		tok{"3", -0.7}, // priority's text
		tok{`,"`, -0.08}, tok{"summary", -0.09}, tok{`":"`, -0.11},
		tok{"Char", -0.3}, tok{"ged", -0.4}, tok{` twice`, -0.5}, // summary's text
		tok{`"}`, -0.12},
	)
	content := spelled(ts)
	if content != `{"category":"billing","priority":3,"summary":"Charged twice"}` {
		t.Fatalf("test tokens spell %s", content)
	}
	got := checksOf(t, ticket).Measure(ticket, semantic.Output{Content: content, Tokens: ts, JSON: content, End: len(content)})
	want := semantic.Measurement{Values: []semantic.Confidence{
		{Path: "category", Known: true, Value: math.Exp(-0.1 - 0.2), Tokens: 2},
		{Path: "priority", Mark: priorityMark, Known: true, Value: math.Exp(-0.7), Tokens: 1},
		{Path: "summary", Mark: summaryMark, Known: true, Value: math.Exp(-0.3 - 0.4 - 0.5), Tokens: 3},
	}}
	if diff := cmp.Diff(want, got, approx); diff != "" {
		t.Errorf("Measure (-want +got):\n%s", diff)
	}
	if !got.Values[1].Below() || got.Values[2].Below() {
		t.Errorf("Below: priority %v (0.50 < 0.7), summary %v (0.30 = 0.3)", got.Values[1].Below(), got.Values[2].Below())
	}
}

// TestMeasureStraddlingTokens: a token holding a quote and value text
// counts whole; an empty string is decided by its closing quote; a token
// splitting a multi-byte character is placed by its bytes.
func TestMeasureStraddlingTokens(t *testing.T) {
	t.Parallel()
	ts := []*providerv1.TokenLogprob{
		{Token: []byte(`{"category": "`), Logprob: -0.01},
		{Token: []byte(`oth`), Logprob: -0.25},
		{Token: []byte(`er", "summary`), Logprob: -0.5},
		{Token: []byte(`": "caf`), Logprob: -0.125},
		{Token: []byte("\xc3"), Logprob: -1}, // é split in two tokens
		{Token: []byte("\xa9"), Logprob: -2},
		{Token: []byte(`", "priority": `), Logprob: -0.75},
		{Token: []byte(`1}`), Logprob: -0.0625},
	}
	content := spelled(ts)
	got := checksOf(t, ticket).Measure(ticket, semantic.Output{Content: content, Tokens: ts, JSON: content, End: len(content)})
	want := semantic.Measurement{Values: []semantic.Confidence{
		{Path: "category", Known: true, Value: math.Exp(-0.25 - 0.5), Tokens: 2},
		{Path: "summary", Mark: summaryMark, Known: true, Value: math.Exp(-0.125 - 1 - 2), Tokens: 3},
		{Path: "priority", Mark: priorityMark, Known: true, Value: math.Exp(-0.0625), Tokens: 1},
	}}
	if diff := cmp.Diff(want, got, approx); diff != "" {
		t.Errorf("Measure (-want +got):\n%s", diff)
	}

	empty := tokens(tok{`{"summary":"`, -0.1}, tok{`"`, -0.9}, tok{`}`, -0.2})
	content = spelled(empty)
	got = checksOf(t, ticket).Measure(ticket, semantic.Output{Content: content, Tokens: empty, JSON: content, End: len(content)})
	if len(got.Values) != 1 || math.Abs(got.Values[0].Value-math.Exp(-0.9)) > 1e-12 {
		t.Errorf("empty string: %+v, want the closing quote's probability %v", got.Values, math.Exp(-0.9))
	}
}

// TestMeasureAroundRepairs: fences and prose around the object shift it,
// and every value is measured; a repair inside it leaves the values whose
// text survived measured and the others unknown, with the reason.
func TestMeasureAroundRepairs(t *testing.T) {
	t.Parallel()
	verdict := (&guardgenv1.Verdict{}).ProtoReflect().Descriptor()
	tests := []struct {
		name    string
		md      protoreflect.MessageDescriptor
		content string
		want    []string // path=confidence-known
	}{
		{"fenced", ticket, "```json\n{\"category\": \"billing\", \"priority\": 2}\n```", []string{"category", "priority"}},
		{"prose around", ticket, "Sure! The category is \"billing\":\n{\"category\": \"billing\", \"priority\": 2}\nThanks", []string{"category", "priority"}},
		{"single quotes and a trailing comma", ticket, "{'category': 'billing', 'priority': 2, 'summary': 'double charge',}",
			[]string{"category", "priority", "summary"}},
		{"unquoted keys", ticket, "{category: \"technical\", priority: 4}", []string{"category", "priority"}},
		{"a Python literal", verdict, "{'supported': False, 'reason': 'the ticket says 2'}", []string{"supported?", "reason"}},
		{"smart quotes", ticket, "{\u201ccategory\u201d: \u201caccount\u201d, \u201cpriority\u201d: 5}", []string{"category", "priority"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := extract.JSON(tt.content, extract.Options{})
			if err != nil {
				t.Fatal(err)
			}
			ts := charTokens(tt.content)
			got := checksOf(t, tt.md).Measure(tt.md, semantic.Output{Content: tt.content, Tokens: ts, JSON: string(c.JSON), Offset: c.Offset, End: c.End})
			var paths []string
			for _, v := range got.Values {
				switch {
				case v.Known:
					paths = append(paths, v.Path)
				case v.Unavailable == semantic.ChangedByRepair:
					paths = append(paths, v.Path+"?")
				}
			}
			if diff := cmp.Diff(tt.want, paths); diff != "" {
				t.Errorf("measured values (-want +got; ? = changed by repair):\n%s", diff)
			}
			for _, v := range got.Values {
				// Each byte is a token of probability 0.5: a known value's
				// confidence tells how many bytes were counted.
				if v.Known && math.Abs(v.Value-math.Pow(0.5, float64(v.Tokens))) > 1e-12 {
					t.Errorf("%s: confidence %v from %d tokens", v.Path, v.Value, v.Tokens)
				}
			}
		})
	}
}

// TestMeasureFindsTheObject: with prose around the object that repeats a
// value, the value's tokens are the object's, not the prose's.
func TestMeasureFindsTheObject(t *testing.T) {
	t.Parallel()
	for _, content := range []string{
		"Sure! The category is \"billing\":\n{\"category\": \"billing\", \"priority\": 2}",
		"Sure! The category is 'billing':\n{'category': 'billing', 'priority': 2,}",
	} {
		c, err := extract.JSON(content, extract.Options{})
		if err != nil {
			t.Fatal(err)
		}
		// Byte i has probability exp(-(i+1)/1000): where a value is read
		// shows in its confidence.
		ts := make([]*providerv1.TokenLogprob, len(content))
		for i := range len(content) {
			ts[i] = &providerv1.TokenLogprob{Token: []byte{content[i]}, Logprob: -float64(i+1) / 1000}
		}
		got := checksOf(t, ticket).Measure(ticket, semantic.Output{Content: content, Tokens: ts, JSON: string(c.JSON), Offset: c.Offset, End: c.End})
		at := strings.LastIndex(content, "billing")
		want := 0.0
		for i := at; i < at+len("billing"); i++ {
			want -= float64(i+1) / 1000
		}
		if len(got.Values) == 0 || !got.Values[0].Known || math.Abs(got.Values[0].Value-math.Exp(want)) > 1e-12 {
			t.Errorf("%q: category %+v, want confidence %v from the object's bytes", content, got.Values, math.Exp(want))
		}
	}
}

// charTokens makes every byte a token of probability 0.5.
func charTokens(s string) []*providerv1.TokenLogprob {
	out := make([]*providerv1.TokenLogprob, len(s))
	for i := range len(s) {
		out[i] = &providerv1.TokenLogprob{Token: []byte{s[i]}, Logprob: math.Log(0.5)}
	}
	return out
}

// TestMeasurePrefix: a streaming caller measures each value once it is
// complete; a number at the very end of a prefix may still grow.
func TestMeasurePrefix(t *testing.T) {
	t.Parallel()
	full := `{"category":"billing","priority":3,"summary":"late"}`
	c := checksOf(t, ticket)
	tests := []struct {
		prefix string
		want   []string
	}{
		{`{"category":"bil`, nil},
		{`{"category":"billing"`, []string{"category"}},
		{`{"category":"billing","priority":3`, []string{"category"}},
		{`{"category":"billing","priority":3,`, []string{"category", "priority"}},
		{full, []string{"category", "priority", "summary"}},
	}
	for _, tt := range tests {
		ts := charTokens(tt.prefix)
		got := c.Measure(ticket, semantic.Output{Content: tt.prefix, Tokens: ts, JSON: tt.prefix, End: len(tt.prefix), Partial: true})
		var paths []string
		for _, v := range got.Values {
			paths = append(paths, v.Path)
		}
		if diff := cmp.Diff(tt.want, paths); diff != "" {
			t.Errorf("prefix %s (-want +got):\n%s", tt.prefix, diff)
		}
	}
}

func TestMeasureUnavailable(t *testing.T) {
	t.Parallel()
	c := checksOf(t, ticket)
	content := `{"priority":3}`
	tests := []struct {
		name   string
		tokens []*providerv1.TokenLogprob
		want   string
	}{
		{"no tokens", nil, semantic.NoLogprobs},
		{"tokens of another text", tokens(tok{`{"priority":4}`, -0.1}), semantic.Misspelled},
		{"tokens short of the text", tokens(tok{`{"priority":`, -0.1}), semantic.Misspelled},
		{"tokens past the text", tokens(tok{`{"priority":3}`, -0.1}, tok{"\n", -0.1}), semantic.Misspelled},
	}
	for _, tt := range tests {
		got := c.Measure(ticket, semantic.Output{Content: content, Tokens: tt.tokens, JSON: content, End: len(content)})
		if got.Unavailable != tt.want || len(got.Values) != 0 {
			t.Errorf("%s: %+v, want unavailable %q and no values", tt.name, got, tt.want)
		}
	}
}

// TestMeasurePaths: lists, maps, well-known types and nested messages get
// paths with JSON names, marks are inherited from an enclosing field, and
// unknown fields are left out.
func TestMeasurePaths(t *testing.T) {
	t.Parallel()
	incident := (&examplesv1.IncidentReport{}).ProtoReflect().Descriptor()
	c, err := checksOf(t, incident).With(incident, semantic.Override{Fields: map[string]*guardgenv1.FieldSemantics{
		"services":        {MinConfidence: 0.5},
		"services.region": {Critical: true, MinConfidence: 0.9},
		"detected_at":     {MinConfidence: 0.2},
	}})
	if err != nil {
		t.Fatal(err)
	}
	content := `{"title":"EU outage","detected_at":"2025-01-01T00:00:00Z","services":[{"name":"api","region":"eu-west-1"}],"labels":{"team":"payments"},"x_note":"dropped"}`
	got := c.Measure(incident, semantic.Output{Content: content, Tokens: charTokens(content), JSON: content, End: len(content)})
	var paths []string
	marks := map[string]semantic.Mark{}
	for _, v := range got.Values {
		paths = append(paths, v.Path)
		marks[v.Path] = v.Mark
	}
	want := []string{"title", "detectedAt", "services[0].name", "services[0].region", `labels["team"]`}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
	wantMarks := map[string]semantic.Mark{
		"title":              {},
		"detectedAt":         {MinConfidence: 0.2},
		"services[0].name":   {MinConfidence: 0.5},
		"services[0].region": {Critical: true, MinConfidence: 0.9},
		`labels["team"]`:     {},
	}
	if diff := cmp.Diff(wantMarks, marks); diff != "" {
		t.Errorf("marks (-want +got):\n%s", diff)
	}
}

func TestMissing(t *testing.T) {
	t.Parallel()
	c := checksOf(t, ticket)
	msg := &examplesv1.VerifiedTicketClassification{Category: "billing", Priority: 3, Summary: "x"}
	measured := semantic.Measurement{Values: []semantic.Confidence{{Path: "category", Known: true, Value: 1}, {Path: "summary", Known: true, Value: 1}}}
	want := []semantic.Confidence{{Path: "priority", Mark: priorityMark, Unavailable: semantic.NotInOutput}}
	if diff := cmp.Diff(want, c.Missing(msg, measured)); diff != "" {
		t.Errorf("Missing (-want +got):\n%s", diff)
	}
	if got := c.Missing(msg, semantic.Measurement{Unavailable: semantic.NoLogprobs}); got != nil {
		t.Errorf("Missing without a measurement = %v, want nothing", got)
	}
}

// TestMeasureRootScalar: a target whose JSON is a bare value (a
// google.protobuf.Value) is measured when verbatim and left unknown, not
// panicked on, when it is not.
func TestMeasureRootScalar(t *testing.T) {
	t.Parallel()
	value := (&structpb.Value{}).ProtoReflect().Descriptor()
	c := checksOf(t, value)
	got := c.Measure(value, semantic.Output{Content: "42", Tokens: charTokens("42"), JSON: "42", End: 2})
	if len(got.Values) != 1 || got.Values[0].Path != "" || !got.Values[0].Known || got.Values[0].Tokens != 2 {
		t.Errorf("verbatim: %+v", got.Values)
	}
	got = c.Measure(value, semantic.Output{Content: "n: 42", Tokens: charTokens("n: 42"), JSON: "42", End: 5})
	if len(got.Values) != 1 || got.Values[0].Known || got.Values[0].Unavailable != semantic.ChangedByRepair {
		t.Errorf("repaired: %+v", got.Values)
	}
}
