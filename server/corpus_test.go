package server

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/guardgen/guardgen/classifier"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/schema"
)

// corpusCase is one model output from testdata/corpus and what accept must
// make of it. A file holds "key: value" header lines ('#' starts a
// comment), then "-- output --" and the raw text, then for an accepted
// output "-- want --" and the expected message as protojson:
//
//	target    short name in guardgen.examples.v1, e.g. IncidentReport
//	finish    stop (default), length, content_filter, refusal, ...
//	strict    true for strict_schema_mode
//	repairs   the distinct repair and coercion kinds expected, or none
//	fail      the expected FailureReason without its prefix, e.g. NO_JSON
//	path      the failure's JSON path: the decode error's, or the first
//	          violation's field path
//	redacted  text that must appear nowhere in the failure or repairs
//
// The output ends before the newline that precedes the next marker.
type corpusCase struct {
	name     string
	target   string
	finish   providerv1.FinishReason
	strict   bool
	repairs  []string // sorted, distinct; nil when not checked
	fail     guardgenv1.FailureReason
	path     string
	redacted []string
	output   string
	want     string
}

func readCorpus(tb testing.TB) []corpusCase {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.txt"))
	if err != nil {
		tb.Fatal(err)
	}
	cases := make([]corpusCase, 0, len(files))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		c, err := parseCase(string(data))
		if err != nil {
			tb.Fatalf("%s: %v", file, err)
		}
		c.name = strings.TrimSuffix(filepath.Base(file), ".txt")
		cases = append(cases, c)
	}
	return cases
}

func parseCase(data string) (corpusCase, error) {
	c := corpusCase{finish: providerv1.FinishReason_FINISH_REASON_STOP}
	header, rest, ok := strings.Cut(data, "-- output --\n")
	if !ok {
		return c, errors.New("no -- output -- section")
	}
	var ok2 bool
	if c.output, c.want, ok2 = strings.Cut(rest, "\n-- want --\n"); !ok2 {
		c.output = strings.TrimSuffix(rest, "\n")
	}
	for line := range strings.Lines(header) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			return c, fmt.Errorf("header line %q is not key: value", line)
		}
		value = strings.TrimSpace(value)
		switch key {
		case "target":
			c.target = "guardgen.examples.v1." + value
		case "finish":
			v, ok := providerv1.FinishReason_value["FINISH_REASON_"+strings.ToUpper(value)]
			if !ok {
				return c, fmt.Errorf("unknown finish reason %q", value)
			}
			c.finish = providerv1.FinishReason(v)
		case "strict":
			b, err := strconv.ParseBool(value)
			if err != nil {
				return c, err
			}
			c.strict = b
		case "repairs":
			c.repairs = []string{}
			if value != "none" {
				c.repairs = strings.Fields(value)
				slices.Sort(c.repairs)
			}
		case "fail":
			v, ok := guardgenv1.FailureReason_value["FAILURE_REASON_"+value]
			if !ok {
				return c, fmt.Errorf("unknown failure reason %q", value)
			}
			c.fail = guardgenv1.FailureReason(v)
		case "path":
			c.path = value
		case "redacted":
			c.redacted = append(c.redacted, value)
		default:
			return c, fmt.Errorf("unknown header %q", key)
		}
	}
	switch {
	case c.target == "":
		return c, errors.New("no target")
	case (c.fail == 0) == (c.want == ""):
		return c, errors.New("want either a fail reason or a -- want -- message")
	case c.fail == 0 && c.repairs == nil:
		return c, errors.New("an accepted output must list its repairs (or none)")
	}
	return c, nil
}

// TestCorpus runs accept on realistic model outputs: what GPT, Claude,
// Llama and Mistral emit around and inside their JSON, and the ways they
// get the schema and the rules wrong.
func TestCorpus(t *testing.T) {
	t.Parallel()
	cases := readCorpus(t)
	if len(cases) < 60 {
		t.Errorf("the corpus has %d cases, want at least 60", len(cases))
	}
	resolver, err := schema.NewResolver(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			target, err := resolver.Resolve(c.target, nil)
			if err != nil {
				t.Fatal(err)
			}
			g := &generation{s: &Server{opts: Options{PreviewLength: 200, StrictSchema: c.strict}}, target: target}
			a, f := g.accept(&providerv1.CompleteResponse{Content: c.output, FinishReason: c.finish})
			if c.fail != 0 {
				checkFailure(t, c, f)
				return
			}
			if f != nil {
				t.Fatalf("accept() failed: %v (%s)", f, f.Reason)
			}
			want := target.Type.New().Interface()
			if err := protojson.Unmarshal([]byte(c.want), want); err != nil {
				t.Fatalf("bad -- want -- section: %v", err)
			}
			if diff := cmp.Diff(want, a.msg, protocmp.Transform()); diff != "" {
				t.Errorf("accept() message mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.repairs, repairKinds(a.repairs)); diff != "" {
				t.Errorf("accept() repair kinds mismatch (-want +got):\n%s\nrepairs: %v", diff, a.repairs)
			}
		})
	}
}

func checkFailure(t *testing.T, c corpusCase, f *classifier.Failure) {
	t.Helper()
	if f == nil {
		t.Fatalf("accept() succeeded, want %s", c.fail)
	}
	if f.Reason != c.fail {
		t.Fatalf("accept() failed with %s, want %s: %v", f.Reason, c.fail, f)
	}
	if got := failurePath(f); got != c.path {
		t.Errorf("failure path = %q, want %q: %v", got, c.path, f)
	}
	detail, err := protojson.Marshal(f.Detail())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range c.redacted {
		if strings.Contains(string(detail), s) {
			t.Errorf("the failure detail shows %q: %s", s, detail)
		}
	}
	if n := len([]rune(f.Preview)); n > 201 {
		t.Errorf("preview of %d runes, want at most 201", n)
	}
}

// failurePath is where a failure points: the decode error's path, or the
// first violation's field.
func failurePath(f *classifier.Failure) string {
	var de *schema.DecodeError
	if errors.As(f, &de) {
		return de.Path
	}
	if len(f.Violations) > 0 {
		return classifier.FieldPath(f.Violations[0])
	}
	return ""
}

// repairKinds returns the distinct kinds, sorted.
func repairKinds(repairs []*guardgenv1.Repair) []string {
	kinds := []string{}
	for _, r := range repairs {
		if !slices.Contains(kinds, r.GetKind()) {
			kinds = append(kinds, r.GetKind())
		}
	}
	slices.Sort(kinds)
	return kinds
}

// largeOutputs returns corpus-like outputs of about n bytes for each
// target: long strings, many list items, map entries, unknown fields,
// repairs, coercions, prose, example objects and cut-off answers.
func largeOutputs(n int) map[string]struct{ target, output string } {
	fill := func(unit string) string { return strings.Repeat(unit, max(1, n/len(unit))) }
	items := func(unit string) string { // comma-separated, n bytes
		s := fill(unit + ",")
		return s[:len(s)-1]
	}
	const (
		ticket   = "guardgen.examples.v1.TicketClassification"
		incident = "guardgen.examples.v1.IncidentReport"
		tree     = "guardgen.examples.v1.TaskTree"
	)
	head := `{"title":"Checkout down","severity":"SEVERITY_HIGH","detectedAt":"2024-05-01T10:00:00Z","team":"payments",`
	// 60 levels: objects and lists nest 120 deep, under extract.MaxDepth.
	step := `{"title":"` + strings.Repeat("s", max(1, n/60-30)) + `","subtasks":[`
	deep := strings.Repeat(step, 60) + `{"title":"leaf"}` + strings.Repeat("]}", 60)
	return map[string]struct{ target, output string }{
		"long summary":       {ticket, `{"category":"billing","priority":3,"summary":"` + fill("charged twice ") + `"}`},
		"long emoji summary": {ticket, `{"category":"billing","priority":3,"summary":"` + fill("😡 “quoted” \\\" ") + `"}`},
		"prose before":       {ticket, fill("Let me think about this ticket step by step. ") + "\n```json\n" + `{"category":"billing","priority":3,"summary":"s"}` + "\n```"},
		"prose with braces":  {ticket, fill("{placeholder} [note] ") + `{"category":"billing","priority":3,"summary":"s"}`},
		"many examples":      {ticket, fill(`Example: {"category":"other","priority":0,"summary":""} `)},
		"raw newlines":       {ticket, `{"category":"billing","priority":3,"summary":"` + fill("line\n") + `"}`},
		"single quotes":      {incident, head + `'labels':{` + items(`'k':'v'`) + `}}`},
		"many services":      {incident, head + `"services":[` + items(`{"name":"api","region":"eu-west-1","errorRatePercent":"12.5"}`) + `]}`},
		"many unknown":       {incident, head + items(`"extra_field":{"nested":[1,2,3]}`) + `}`},
		"many coercions":     {incident, head + `"services":[` + items(`{"name":"api","errorRatePercent":" 1.5"}`) + `]}`},
		"trailing commas":    {incident, head + `"timeline":[` + fill(`{"at":"2024-05-01T10:00:00Z","event":"paged",},`) + `],}`},
		"python literals":    {incident, head + `"timeline":[` + items(`{"at":None,"event":None}`) + `]}`},
		"comments":           {tree, `{"title":"t", ` + fill("// a comment\n") + `"subtasks":[]}`},
		"unquoted keys":      {tree, `{title:"t",subtasks:[` + items(`{title:"u",estimateMinutes:5}`) + `]}`},
		"deep tree":          {tree, deep},
		"truncated":          {incident, head + `"services":[` + fill(`{"name":"api","region":"eu-west-1"},`)},
		"truncated string":   {ticket, `{"category":"billing","priority":3,"summary":"` + fill("x")},
	}
}

// TestAcceptLinear checks that accept's cost grows linearly with the size
// of corpus-like outputs: from 16 KiB to 64 KiB the heap allocated may grow
// about 4×, never the 16× of a quadratic step. Allocation is deterministic
// where time is not; extract.TestLinear bounds the bytes the extractor
// examines, and BenchmarkAcceptLarge reports the time.
func TestAcceptLinear(t *testing.T) {
	// Not parallel: it reads the process-wide allocation counters.
	if testing.Short() {
		t.Skip("allocation profile of 64 KiB inputs")
	}
	resolver, err := schema.NewResolver(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const factor = 6 // for 4× the input; a quadratic step would be 16×
	small, large := largeOutputs(16<<10), largeOutputs(64<<10)
	for name, in := range large {
		target, err := resolver.Resolve(in.target, nil)
		if err != nil {
			t.Fatal(err)
		}
		g := &generation{s: &Server{opts: Options{PreviewLength: 200}}, target: target}
		// cost is the least of three runs, after a warm-up, so that a stray
		// allocation elsewhere in the process does not count.
		cost := func(output string) uint64 {
			resp := &providerv1.CompleteResponse{Content: output, FinishReason: providerv1.FinishReason_FINISH_REASON_STOP}
			g.accept(resp)
			least := uint64(math.MaxUint64)
			for range 3 {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				g.accept(resp)
				runtime.ReadMemStats(&after)
				least = min(least, after.TotalAlloc-before.TotalAlloc)
			}
			return least
		}
		s, l := cost(small[name].output), cost(in.output)
		t.Logf("%-18s %7d B for %6d B, %8d B for %6d B", name, s, len(small[name].output), l, len(in.output))
		if l > factor*s+64<<10 {
			t.Errorf("%s: accept allocated %d B for %d B of output but %d B for %d B, want at most %d×",
				name, s, len(small[name].output), l, len(in.output), factor)
		}
	}
}

// BenchmarkAcceptLarge measures accept on 64 KiB corpus-like outputs.
// Issue budget: under 10 ms each.
//
//	go test -run '^$' -bench AcceptLarge -benchmem ./server/
func BenchmarkAcceptLarge(b *testing.B) {
	resolver, err := schema.NewResolver(schema.Options{})
	if err != nil {
		b.Fatal(err)
	}
	outputs := largeOutputs(64 << 10)
	names := make([]string, 0, len(outputs))
	for name := range outputs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		in := outputs[name]
		target, err := resolver.Resolve(in.target, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(strings.ReplaceAll(name, " ", "_"), func(b *testing.B) {
			g := &generation{s: &Server{opts: Options{PreviewLength: 200}}, target: target}
			resp := &providerv1.CompleteResponse{Content: in.output, FinishReason: providerv1.FinishReason_FINISH_REASON_STOP}
			b.SetBytes(int64(len(in.output)))
			b.ReportAllocs()
			for b.Loop() {
				g.accept(resp)
			}
		})
	}
}

// BenchmarkCorpus runs accept over the whole corpus, one op per case.
func BenchmarkCorpus(b *testing.B) {
	resolver, err := schema.NewResolver(schema.Options{})
	if err != nil {
		b.Fatal(err)
	}
	type run struct {
		g    *generation
		resp *providerv1.CompleteResponse
	}
	var runs []run
	for _, c := range readCorpus(b) {
		target, err := resolver.Resolve(c.target, nil)
		if err != nil {
			b.Fatal(err)
		}
		runs = append(runs, run{
			g:    &generation{s: &Server{opts: Options{PreviewLength: 200, StrictSchema: c.strict}}, target: target},
			resp: &providerv1.CompleteResponse{Content: c.output, FinishReason: c.finish},
		})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := runs[i%len(runs)]
		r.g.accept(r.resp)
		i++
	}
}
