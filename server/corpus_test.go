package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/guardgen/guardgen/classifier"
	"github.com/guardgen/guardgen/extract"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/schema"
)

// corpusCase is one model output from testdata/corpus and what accept must
// make of it. A file holds "key: value" header lines ('#' starts a
// comment), then "-- output --" and the raw text, then for an accepted
// output "-- want --" and the expected message as protojson:
//
//	family     the family the case belongs to (see families)
//	target     a short name in guardgen.examples.v1, e.g. IncidentReport,
//	           or a full name, e.g. google.protobuf.ListValue
//	finish     stop (default), length, content_filter, refusal, ...
//	strict     true for strict_schema_mode in the server's options
//	request-strict
//	           true or false: the request's own strict_schema_mode
//	repairs    the distinct repair and coercion kinds expected, or none
//	fail       the expected FailureReason without its prefix, e.g. NO_JSON
//	path       the failure's JSON path: the decode error's, or the first
//	           violation's field path
//	truncated  true when the failure must be the extractor's ErrTruncated:
//	           text cut off inside a value, never completed
//	redacted   text that must appear nowhere in the failure or repairs
//
// The output ends before the newline that precedes the next marker.
type corpusCase struct {
	name          string
	family        string
	target        string
	finish        providerv1.FinishReason
	strict        bool
	requestStrict *bool
	repairs       []string // sorted, distinct; nil when not checked
	fail          guardgenv1.FailureReason
	path          string
	truncated     bool
	redacted      []string
	output        string
	want          string
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
		if err := c.set(key, strings.TrimSpace(value)); err != nil {
			return c, err
		}
	}
	switch {
	case c.target == "":
		return c, errors.New("no target")
	case !slices.ContainsFunc(families, func(f family) bool { return f.id == c.family }):
		return c, fmt.Errorf("unknown family %q", c.family)
	case (c.fail == 0) == (c.want == ""):
		return c, errors.New("want either a fail reason or a -- want -- message")
	case c.fail == 0 && c.repairs == nil:
		return c, errors.New("an accepted output must list its repairs (or none)")
	}
	return c, nil
}

// set applies one header line.
func (c *corpusCase) set(key, value string) error {
	switch key {
	case "family":
		c.family = value
	case "target":
		c.target = value
		if !strings.Contains(value, ".") {
			c.target = "guardgen.examples.v1." + value
		}
	case "finish":
		v, ok := providerv1.FinishReason_value["FINISH_REASON_"+strings.ToUpper(value)]
		if !ok {
			return fmt.Errorf("unknown finish reason %q", value)
		}
		c.finish = providerv1.FinishReason(v)
	case "strict", "request-strict", "truncated":
		b, err := strconv.ParseBool(value)
		if err != nil {
			return err
		}
		switch key {
		case "strict":
			c.strict = b
		case "request-strict":
			c.requestStrict = &b
		default:
			c.truncated = b
		}
	case "repairs":
		c.repairs = []string{}
		if value != "none" {
			c.repairs = strings.Fields(value)
			slices.Sort(c.repairs)
		}
	case "fail":
		v, ok := guardgenv1.FailureReason_value["FAILURE_REASON_"+value]
		if !ok {
			return fmt.Errorf("unknown failure reason %q", value)
		}
		c.fail = guardgenv1.FailureReason(v)
	case "path":
		c.path = value
	case "redacted":
		c.redacted = append(c.redacted, value)
	default:
		return fmt.Errorf("unknown header %q", key)
	}
	return nil
}

// TestCorpus runs accept on realistic model outputs: what GPT, Claude,
// Llama, Mistral and smaller models emit around and inside their JSON, and
// the ways they get the schema and the rules wrong. Every case must come
// out as its file says: the expected message with the expected repairs, or
// the expected failure.
func TestCorpus(t *testing.T) {
	t.Parallel()
	cases := readCorpus(t)
	resolver, err := schema.NewResolver(schema.Options{RequestTypesOff: true}) // compiled-in targets only
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, problem := range judge(resolver, c) {
				t.Error(problem)
			}
		})
	}
}

// judge runs accept on c and lists how the outcome differs from what the
// case expects; nil when it is as expected.
func judge(resolver *schema.Resolver, c corpusCase) []string {
	target, err := resolver.Resolve(c.target, nil)
	if err != nil {
		return []string{err.Error()}
	}
	var a accepted
	f := c.generation(target).accept(c.response(), &a)
	if c.fail != 0 {
		return judgeFailure(c, f)
	}
	if f != nil {
		return []string{fmt.Sprintf("accept() failed: %v (%s)", f, f.Reason)}
	}
	want := target.Type.New().Interface()
	if err := protojson.Unmarshal([]byte(c.want), want); err != nil {
		return []string{fmt.Sprintf("bad -- want -- section: %v", err)}
	}
	var problems []string
	if diff := cmp.Diff(want, a.msg, protocmp.Transform()); diff != "" {
		problems = append(problems, fmt.Sprintf("accept() message mismatch (-want +got):\n%s", diff))
	}
	if diff := cmp.Diff(c.repairs, repairKinds(a.repairs)); diff != "" {
		problems = append(problems, fmt.Sprintf("accept() repair kinds mismatch (-want +got):\n%s\nrepairs: %v", diff, a.repairs))
	}
	return problems
}

// generation is the state accept runs in for c: the server's and the
// request's strict_schema_mode as the case says.
func (c corpusCase) generation(target *schema.Target) *generation {
	return &generation{
		s:      &Server{opts: c.options()},
		target: target,
		req:    &guardgenv1.GenerateRequest{Options: &guardgenv1.GenerateOptions{StrictSchemaMode: c.requestStrict}},
	}
}

// response is the provider's answer holding c's output.
// options are the default output settings, in the case's strict mode.
func (c corpusCase) options() Options {
	opts := defaultOptions()
	opts.StrictSchema = c.strict
	return opts
}

func (c corpusCase) response() *providerv1.CompleteResponse {
	return &providerv1.CompleteResponse{Content: c.output, FinishReason: c.finish}
}

// judgeFailure lists how f differs from the failure c expects.
func judgeFailure(c corpusCase, f *classifier.Failure) []string {
	switch {
	case f == nil:
		return []string{fmt.Sprintf("accept() succeeded, want %s", c.fail)}
	case f.Reason != c.fail:
		return []string{fmt.Sprintf("accept() failed with %s, want %s: %v", f.Reason, c.fail, f)}
	}
	var problems []string
	if got := failurePath(f); got != c.path {
		problems = append(problems, fmt.Sprintf("failure path = %q, want %q: %v", got, c.path, f))
	}
	if c.truncated && !errors.Is(f, extract.ErrTruncated) {
		problems = append(problems, fmt.Sprintf("failure is not a cut-off text (extract.ErrTruncated): %v", f))
	}
	detail, err := protojson.Marshal(f.Detail())
	if err != nil {
		return append(problems, err.Error())
	}
	for _, s := range c.redacted {
		if strings.Contains(string(detail), s) {
			problems = append(problems, fmt.Sprintf("the failure detail shows %q: %s", s, detail))
		}
	}
	if n := len([]rune(f.Preview)); n > 201 {
		problems = append(problems, fmt.Sprintf("preview of %d runes, want at most 201", n))
	}
	return problems
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

// BenchmarkCorpus runs accept over the whole corpus, one op per case.
//
//	go test -run '^$' -bench Corpus -benchmem ./server/
func BenchmarkCorpus(b *testing.B) {
	resolver, err := schema.NewResolver(schema.Options{RequestTypesOff: true}) // compiled-in targets only
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
		runs = append(runs, run{g: c.generation(target), resp: c.response()})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := runs[i%len(runs)]
		var a accepted
		r.g.accept(r.resp, &a)
		i++
	}
}
