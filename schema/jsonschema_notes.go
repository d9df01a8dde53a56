package schema

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/guardgen/guardgen/internal/orderedjson"
)

// words name the two sides of a range for rangeNote.
type words struct{ gt, gte, lt, lte string }

var (
	numberWords = words{"greater than", "at least", "less than", "at most"}
	timeWords   = words{"after", "at or after", "before", "at or before"}
)

// rangeNote states a lower and an upper bound in words; an empty text
// means no bound on that side.
func rangeNote(lo string, loExcl bool, hi string, hiExcl bool, normal bool, w words) string {
	var parts []string
	switch {
	case lo != "" && loExcl:
		parts = append(parts, w.gt+" "+lo)
	case lo != "":
		parts = append(parts, w.gte+" "+lo)
	}
	switch {
	case hi != "" && hiExcl:
		parts = append(parts, w.lt+" "+hi)
	case hi != "":
		parts = append(parts, w.lte+" "+hi)
	}
	if len(parts) == 0 {
		return ""
	}
	join := " and "
	if !normal {
		join = " or "
	}
	return "Must be " + strings.Join(parts, join) + "."
}

func timestampNotes(s *orderedjson.Object, tr *validatepb.TimestampRules) {
	if tr == nil {
		return
	}
	text := func(t *timestamppb.Timestamp) string {
		if t == nil {
			return ""
		}
		return t.AsTime().UTC().Format(time.RFC3339Nano)
	}
	if tr.HasConst() {
		describe(s, "Must be "+text(tr.GetConst())+".")
	}
	lo, hi := tr.GetGt(), tr.GetLt()
	if lo == nil {
		lo = tr.GetGte()
	}
	if hi == nil {
		hi = tr.GetLte()
	}
	normal := lo == nil || hi == nil || hi.AsTime().After(lo.AsTime()) ||
		(hi.AsTime().Equal(lo.AsTime()) && tr.HasGte() && tr.HasLte())
	if note := rangeNote(text(lo), tr.HasGt(), text(hi), tr.HasLt(), normal, timeWords); note != "" {
		describe(s, note)
	}
	if tr.GetLtNow() {
		describe(s, "Must be in the past.")
	}
	if tr.GetGtNow() {
		describe(s, "Must be in the future.")
	}
	if tr.HasWithin() {
		describe(s, "Must be within "+durationText(tr.GetWithin())+" of the current time.")
	}
}

func durationNotes(s *orderedjson.Object, dr *validatepb.DurationRules) {
	if dr == nil {
		return
	}
	text := func(d *durationpb.Duration) string {
		if d == nil {
			return ""
		}
		return durationText(d)
	}
	if dr.HasConst() {
		describe(s, "Must be "+text(dr.GetConst())+".")
	}
	lo, hi := dr.GetGt(), dr.GetLt()
	if lo == nil {
		lo = dr.GetGte()
	}
	if hi == nil {
		hi = dr.GetLte()
	}
	normal := lo == nil || hi == nil || hi.AsDuration() > lo.AsDuration() ||
		(hi.AsDuration() == lo.AsDuration() && dr.HasGte() && dr.HasLte())
	if note := rangeNote(text(lo), dr.HasGt(), text(hi), dr.HasLt(), normal, numberWords); note != "" {
		describe(s, note)
	}
	if in := dr.GetIn(); len(in) > 0 {
		texts := make([]string, len(in))
		for i, d := range in {
			texts[i] = text(d)
		}
		s.Set("enum", texts)
	}
	if notIn := dr.GetNotIn(); len(notIn) > 0 {
		texts := make([]string, len(notIn))
		for i, d := range notIn {
			texts[i] = text(d)
		}
		describe(s, "Must not be one of "+strings.Join(texts, ", ")+".")
	}
}

// durationText writes a duration the way protojson does, e.g. "1.5s".
func durationText(d *durationpb.Duration) string {
	b, err := protojson.Marshal(d)
	if err != nil {
		return d.AsDuration().String()
	}
	return strings.Trim(string(b), `"`)
}

// describe appends a sentence to s's description.
func describe(s *orderedjson.Object, sentence string) {
	if prev := descriptionOf(s); prev != "" {
		sentence = prev + " " + sentence
	}
	s.Set("description", sentence)
}

func descriptionOf(s *orderedjson.Object) string {
	text, _ := s.Get("description")
	str, _ := text.(string)
	return str
}

// comment returns the leading comment of a declaration, on one line; empty
// for compiled-in descriptors, which carry no source info.
func comment(d protoreflect.Descriptor) string {
	loc := d.ParentFile().SourceLocations().ByDescriptor(d)
	return strings.Join(strings.Fields(loc.LeadingComments), " ")
}

func uintNumber(n uint64) json.Number { return json.Number(strconv.FormatUint(n, 10)) }

func numbers(vals []numVal) []any {
	out := make([]any, 0, len(vals))
	for _, v := range vals {
		if v.finite() {
			out = append(out, json.Number(v.text))
		}
	}
	return out
}

func strs(vals []numVal) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = v.text
	}
	return out
}

func texts(vals []numVal) string { return strings.Join(strs(vals), ", ") }

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
