package schema

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/guardgen/guardgen/internal/orderedjson"
	"github.com/guardgen/guardgen/internal/protoenum"
)

// scalarSchema describes a scalar field of kind with its rules.
func scalarSchema(kind protoreflect.Kind, fr *validatepb.FieldRules) *orderedjson.Object {
	switch kind {
	case protoreflect.BoolKind:
		s := new(orderedjson.Object).Set("type", "boolean")
		if br := fr.GetBool(); br.HasConst() {
			s.Set("const", br.GetConst())
		}
		return s
	case protoreflect.StringKind:
		return stringSchema(fr.GetString())
	case protoreflect.BytesKind:
		return bytesSchema(fr.GetBytes())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return numberSchema("integer", numericOf(fr), "-2147483648", "2147483647")
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return numberSchema("integer", numericOf(fr), "0", "4294967295")
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return int64Schema(numericOf(fr), false)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return int64Schema(numericOf(fr), true)
	default: // float, double
		return numberSchema("number", numericOf(fr), "", "")
	}
}

// numberSchema describes a JSON number; typeMin and typeMax are the
// range of the proto type ("" for none).
func numberSchema(typ string, nr *numRules, typeMin, typeMax string) *orderedjson.Object {
	s := new(orderedjson.Object).Set("type", typ)
	if nr == nil {
		nr = &numRules{}
	}
	bound := func(v *numVal, excl bool, inclusiveKey, exclusiveKey string) *orderedjson.Object {
		o := new(orderedjson.Object)
		if excl {
			return o.Set(exclusiveKey, json.Number(v.text))
		}
		return o.Set(inclusiveKey, json.Number(v.text))
	}
	lo := nr.lo != nil && nr.lo.finite()
	hi := nr.hi != nil && nr.hi.finite()
	if lo && hi && !nr.normal() {
		s.Set("anyOf", []any{
			bound(nr.lo, nr.loExcl, "minimum", "exclusiveMinimum"),
			bound(nr.hi, nr.hiExcl, "maximum", "exclusiveMaximum"),
		})
	} else {
		switch {
		case lo && nr.loExcl:
			s.Set("exclusiveMinimum", json.Number(nr.lo.text))
		case lo:
			s.Set("minimum", json.Number(nr.lo.text))
		case typeMin != "":
			s.Set("minimum", json.Number(typeMin))
		}
		switch {
		case hi && nr.hiExcl:
			s.Set("exclusiveMaximum", json.Number(nr.hi.text))
		case hi:
			s.Set("maximum", json.Number(nr.hi.text))
		case typeMax != "":
			s.Set("maximum", json.Number(typeMax))
		}
	}
	if nr.konst != nil && nr.konst.finite() {
		s.Set("const", json.Number(nr.konst.text))
	}
	if len(nr.in) > 0 {
		s.Set("enum", numbers(nr.in))
	}
	if len(nr.notIn) > 0 {
		describe(s, "Must not be one of "+texts(nr.notIn)+".")
	}
	if len(nr.examples) > 0 {
		s.Set("examples", numbers(nr.examples))
	}
	return s
}

// int64Schema describes a 64-bit integer, which protojson writes as a
// decimal string; range rules can only be stated in the description.
func int64Schema(nr *numRules, unsigned bool) *orderedjson.Object {
	nonNegative := unsigned
	if nr != nil && nr.lo != nil && nr.lo.val != nil && nr.normal() {
		// gte >= 0, or gt >= -1: no minus sign needed.
		limit := 0.0
		if nr.loExcl {
			limit = -1
		}
		f, _ := nr.lo.val.Float64()
		nonNegative = nonNegative || f >= limit
	}
	s := new(orderedjson.Object).Set("type", "string")
	if nonNegative {
		s.Set("pattern", unsignedPattern)
	} else {
		s.Set("pattern", signedPattern)
	}
	if nr == nil {
		return s
	}
	if nr.konst != nil {
		s.Set("const", nr.konst.text)
	}
	if len(nr.in) > 0 {
		s.Set("enum", strs(nr.in))
	}
	if note := rangeNote(nr.lo.textOrEmpty(), nr.loExcl, nr.hi.textOrEmpty(), nr.hiExcl, nr.normal(), numberWords); note != "" {
		describe(s, note)
	}
	if len(nr.notIn) > 0 {
		describe(s, "Must not be one of "+texts(nr.notIn)+".")
	}
	if len(nr.examples) > 0 {
		s.Set("examples", strs(nr.examples))
	}
	return s
}

func stringSchema(sr *validatepb.StringRules) *orderedjson.Object {
	s := new(orderedjson.Object).Set("type", "string")
	if sr == nil {
		return s
	}
	if sr.HasConst() {
		s.Set("const", sr.GetConst())
	}
	if in := sr.GetIn(); len(in) > 0 {
		s.Set("enum", in)
	}
	switch {
	case sr.HasLen():
		s.Set("minLength", uintNumber(sr.GetLen())).Set("maxLength", uintNumber(sr.GetLen()))
	default:
		if sr.HasMinLen() {
			s.Set("minLength", uintNumber(sr.GetMinLen()))
		}
		if sr.HasMaxLen() {
			s.Set("maxLength", uintNumber(sr.GetMaxLen()))
		}
	}
	wk := wellKnown(sr.ProtoReflect())
	if format, ok := stringFormats[wk]; ok {
		s.Set("format", format)
	}
	patterns, notes := stringPatterns(sr, wk)
	switch len(patterns) {
	case 0:
	case 1:
		s.Set("pattern", patterns[0])
	default:
		all := make([]any, len(patterns))
		for i, p := range patterns {
			all[i] = new(orderedjson.Object).Set("pattern", p)
		}
		s.Set("allOf", all)
	}
	for _, n := range append(notes, stringNotes(sr, wk)...) {
		describe(s, n)
	}
	if ex := sr.GetExample(); len(ex) > 0 {
		s.Set("examples", ex)
	}
	return s
}

// stringPatterns returns the patterns a string must match: the rule's own
// pattern, or else its prefix, suffix and contains, and a well-known
// rule's pattern. Next to a pattern of its own, prefix, suffix and
// contains are notes instead: one regular expression cannot say both.
func stringPatterns(sr *validatepb.StringRules, wk protoreflect.Name) (patterns, notes []string) {
	if sr.HasPattern() {
		patterns = append(patterns, sr.GetPattern())
	}
	literal := func(has bool, value, pattern, note string) {
		switch {
		case !has:
		case !sr.HasPattern():
			patterns = append(patterns, pattern)
		default:
			notes = append(notes, fmt.Sprintf(note, value))
		}
	}
	literal(sr.HasPrefix(), sr.GetPrefix(), "^"+regexp.QuoteMeta(sr.GetPrefix()), "Must start with %q.")
	literal(sr.HasSuffix(), sr.GetSuffix(), regexp.QuoteMeta(sr.GetSuffix())+"$", "Must end with %q.")
	literal(sr.HasContains(), sr.GetContains(), regexp.QuoteMeta(sr.GetContains()), "Must contain %q.")
	if p, ok := wellKnownStringPatterns[wk]; ok && !sr.HasPattern() {
		patterns = append(patterns, p)
	}
	return patterns, notes
}

// stringNotes restates the string rules JSON Schema has no keyword for.
func stringNotes(sr *validatepb.StringRules, wk protoreflect.Name) []string {
	var notes []string
	if note, ok := wellKnownStringNotes[wk]; ok {
		notes = append(notes, note)
	}
	if sr.GetWellKnownRegex() != validatepb.KnownRegex_KNOWN_REGEX_UNSPECIFIED {
		notes = append(notes, "Must be a valid HTTP header "+
			strings.TrimPrefix(protoenum.Lower(sr.GetWellKnownRegex()), "http_header_")+".")
	}
	if sr.HasNotContains() {
		notes = append(notes, fmt.Sprintf("Must not contain %q.", sr.GetNotContains()))
	}
	if notIn := sr.GetNotIn(); len(notIn) > 0 {
		notes = append(notes, "Must not be one of "+quoteList(notIn)+".")
	}
	if sr.HasLenBytes() {
		notes = append(notes, "Must be exactly "+strconv.FormatUint(sr.GetLenBytes(), 10)+" bytes long in UTF-8.")
	}
	if sr.HasMinBytes() {
		notes = append(notes, "Must be at least "+strconv.FormatUint(sr.GetMinBytes(), 10)+" bytes long in UTF-8.")
	}
	if sr.HasMaxBytes() {
		notes = append(notes, "Must be at most "+strconv.FormatUint(sr.GetMaxBytes(), 10)+" bytes long in UTF-8.")
	}
	return notes
}

// stringFormats maps well-known string rules to JSON Schema formats.
var stringFormats = map[protoreflect.Name]string{
	"email": "email", "hostname": "hostname", "ipv4": "ipv4", "ipv6": "ipv6",
	"uri": "uri", "uri_ref": "uri-reference", "uuid": "uuid",
}

// wellKnownStringPatterns maps well-known string rules to patterns.
var wellKnownStringPatterns = map[protoreflect.Name]string{
	"tuuid": "^[0-9a-fA-F]{32}$",
	"ulid":  "^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$",
}

// wellKnownStringNotes describes well-known string rules that have no format.
var wellKnownStringNotes = map[protoreflect.Name]string{
	"ip":                  "Must be an IPv4 or IPv6 address.",
	"address":             "Must be a hostname or an IP address.",
	"ip_with_prefixlen":   "Must be an IP address with a prefix length, e.g. 10.0.0.1/24.",
	"ipv4_with_prefixlen": "Must be an IPv4 address with a prefix length, e.g. 10.0.0.1/24.",
	"ipv6_with_prefixlen": "Must be an IPv6 address with a prefix length, e.g. fd00::1/64.",
	"ip_prefix":           "Must be an IP network prefix, e.g. 10.0.0.0/24.",
	"ipv4_prefix":         "Must be an IPv4 network prefix, e.g. 10.0.0.0/24.",
	"ipv6_prefix":         "Must be an IPv6 network prefix, e.g. fd00::/64.",
	"host_and_port":       "Must be a host and port, e.g. example.com:443 or [::1]:80.",
	"protobuf_fqn":        "Must be a fully-qualified Protobuf name without a leading dot.",
	"protobuf_dot_fqn":    "Must be a fully-qualified Protobuf name with a leading dot.",
}

func bytesSchema(br *validatepb.BytesRules) *orderedjson.Object {
	s := new(orderedjson.Object).Set("type", "string").Set("contentEncoding", "base64")
	if br == nil {
		return s
	}
	size := func(n uint64) string { return strconv.FormatUint(n, 10) + " bytes" }
	switch {
	case br.HasLen():
		describe(s, "Must decode to exactly "+size(br.GetLen())+".")
	case br.HasMinLen() && br.HasMaxLen():
		describe(s, "Must decode to "+strconv.FormatUint(br.GetMinLen(), 10)+" to "+size(br.GetMaxLen())+".")
	case br.HasMinLen():
		describe(s, "Must decode to at least "+size(br.GetMinLen())+".")
	case br.HasMaxLen():
		describe(s, "Must decode to at most "+size(br.GetMaxLen())+".")
	}
	if br.HasPattern() {
		describe(s, fmt.Sprintf("Must decode to UTF-8 text matching %q.", br.GetPattern()))
	}
	if wk := wellKnown(br.ProtoReflect()); wk != "" {
		describe(s, "Must decode to "+map[protoreflect.Name]string{
			"ip": "an IPv4 or IPv6 address", "ipv4": "an IPv4 address",
			"ipv6": "an IPv6 address", "uuid": "a UUID",
		}[wk]+" in binary form.")
	}
	return s
}

// enumSchema lists the value names that the rules admit.
func enumSchema(ed protoreflect.EnumDescriptor, er *validatepb.EnumRules) *orderedjson.Object {
	if ed.FullName() == "google.protobuf.NullValue" {
		return new(orderedjson.Object).Set("type", "null")
	}
	values := ed.Values()
	names := []string{}
	for i := range values.Len() {
		v := values.Get(i)
		n := int32(v.Number())
		if (er.HasConst() && er.GetConst() != n) ||
			(len(er.GetIn()) > 0 && !containsInt32(er.GetIn(), n)) ||
			containsInt32(er.GetNotIn(), n) {
			continue
		}
		names = append(names, string(v.Name()))
	}
	return new(orderedjson.Object).Set("type", "string").Set("enum", names)
}

func containsInt32(list []int32, n int32) bool {
	for _, v := range list {
		if v == n {
			return true
		}
	}
	return false
}
