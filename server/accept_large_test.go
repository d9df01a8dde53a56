package server

import (
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/guardgen/guardgen/extract"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/schema"
)

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
		// The repairs and alignments of issue 9.
		"inner quotes":      {ticket, `{"category":"billing","priority":3,"summary":"` + fill(`said "no" `) + `"}`},
		"unquoted values":   {incident, head + `services:[` + items(`{name: checkout api, region: eu-west-1, errorRatePercent: 12.5}`) + `]}`},
		"missing commas":    {incident, head + `"timeline":[` + fill(`{"at":"2024-05-01T10:00:00Z" "event":"paged"} `) + `]}`},
		"number spellings":  {tree, `{"title":"t","subtasks":[` + items(`{"title":"u","estimateMinutes":1_0}`) + `]}`},
		"tuples":            {incident, head + `"services":(` + items(`{"name":"api","region":"eu-west-1","errorRatePercent":.5}`) + `)}`},
		"backtick strings":  {ticket, "{\"category\":\"billing\",\"priority\":3,\"summary\":`" + fill(`a "b" `) + "`}"},
		"missing values":    {tree, `{"title":"t","subtasks":[` + items(`{"title":"u","estimateMinutes":}`) + `]}`},
		"loose keys":        {tree, `{"Title":"t","Sub Tasks":[` + items(`{"TITLE":"u","Estimate-Minutes":5}`) + `]}`},
		"booleans as words": {"guardgen.examples.v1.Person", `{"name":"` + fill("Ada ") + `","born":1815,"alive":"yes"}`},
		"choices in words":  {"guardgen.examples.v1.TicketTags", `{"tags":[` + items(`"Urgent refund request"`) + `]}`},
		"json in a string":  {tree, `{"title":"t","subtasks":"[` + items(`{\"title\":\"u\"}`) + `]"}`},
		"bare array":        {"guardgen.examples.v1.TicketTags", `[` + items(`"urgent"`) + `]`},
		"picked element":    {ticket, `[{"category":"billing","priority":3,"summary":"s"},` + items(`{"note":"x"}`) + `]`},
		"list target":       {"google.protobuf.ListValue", `[` + items(`[1,"a",{"b":null}]`) + `]`},
		"closed at the end": {tree, `{"title":"t","subtasks":[` + items(`{"title":"u"}`)},
	}
}

// atValueLimit returns outputs just under extract.DefaultMaxValues values:
// the densest answers accept takes, whatever their size in bytes.
func atValueLimit() map[string]struct{ target, output string } {
	values := func(unit string, each int) string {
		n := (extract.DefaultMaxValues - 16) / each
		return strings.TrimSuffix(strings.Repeat(unit+",", n), ",")
	}
	head := `{"title":"Checkout down","severity":"SEVERITY_HIGH","detectedAt":"2024-05-01T10:00:00Z","team":"payments",`
	return map[string]struct{ target, output string }{
		"list":     {"google.protobuf.ListValue", `[` + values(`[1,"a",{"b":null}]`, 5) + `]`},
		"services": {"guardgen.examples.v1.IncidentReport", head + `"services":[` + values(`{"name":"api","region":"eu-west-1","errorRatePercent":12.5}`, 4) + `]}`},
		"timeline": {"guardgen.examples.v1.IncidentReport", head + `"timeline":[` + values(`{"at":"2024-05-01T10:00:00Z","event":"paged"}`, 3) + `]}`},
		"tags":     {"guardgen.examples.v1.TicketTags", `[` + values(`"Urgent"`, 1) + `]`},
		"tree":     {"guardgen.examples.v1.TaskTree", `{"title":"t","subtasks":[` + values(`{"title":"u","estimateMinutes":5}`, 3) + `]}`},
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
	resolver, err := schema.NewResolver(schema.Options{RequestTypesOff: true}) // compiled-in targets only
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
		g := &generation{s: &Server{opts: defaultOptions()}, target: target}
		// cost is the least of three runs, after a warm-up, so that a stray
		// allocation elsewhere in the process does not count.
		cost := func(output string) uint64 {
			resp := &providerv1.CompleteResponse{Content: output, FinishReason: providerv1.FinishReason_FINISH_REASON_STOP}
			var a accepted
			g.accept(resp, &a)
			least := uint64(math.MaxUint64)
			for range 3 {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				g.accept(resp, &a)
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

// BenchmarkAcceptLarge measures accept on corpus-like outputs of 64 KiB
// and of 1 MiB, the default output limit, and on the densest outputs
// accept takes, just under extract.DefaultMaxValues values. Issue budgets:
// under 10 ms at 64 KiB, under 50 ms at 1 MiB.
//
//	go test -run '^$' -bench AcceptLarge -benchmem ./server/
func BenchmarkAcceptLarge(b *testing.B) {
	resolver, err := schema.NewResolver(schema.Options{RequestTypesOff: true}) // compiled-in targets only
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []struct {
		name  string
		bytes int
	}{{"64KiB", 64 << 10}, {"1MiB", 1<<20 - 4<<10}, {"values", 0}} {
		outputs := largeOutputs(size.bytes)
		if size.bytes == 0 {
			outputs = atValueLimit()
		}
		names := make([]string, 0, len(outputs))
		for name := range outputs {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			in := outputs[name]
			if len(in.output) > 1<<20 {
				b.Fatalf("%s: %d bytes, more than the 1 MiB limit", name, len(in.output))
			}
			target, err := resolver.Resolve(in.target, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(size.name+"/"+strings.ReplaceAll(name, " ", "_"), func(b *testing.B) {
				g := &generation{s: &Server{opts: defaultOptions()}, target: target}
				resp := &providerv1.CompleteResponse{Content: in.output, FinishReason: providerv1.FinishReason_FINISH_REASON_STOP}
				b.SetBytes(int64(len(in.output)))
				b.ReportAllocs()
				var a accepted
				for b.Loop() {
					g.accept(resp, &a)
				}
			})
		}
	}
}
