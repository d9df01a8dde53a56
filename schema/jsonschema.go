package schema

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/guardgen/guardgen/internal/orderedjson"
	"github.com/guardgen/guardgen/internal/protoenum"
)

const (
	draft2020       = "https://json-schema.org/draft/2020-12/schema"
	durationPattern = `^-?[0-9]+(\.[0-9]{1,9})?s$`
	signedPattern   = `^-?[0-9]+$`
	unsignedPattern = `^[0-9]+$`
)

// deriver writes the JSON Schema of one root message. Message types other
// than the root are queued and written once each into $defs.
type deriver struct {
	root    protoreflect.FullName
	queued  map[protoreflect.FullName]bool
	pending []protoreflect.MessageDescriptor
}

// deriveJSONSchema returns the compact JSON Schema of md's protojson form.
func deriveJSONSchema(md protoreflect.MessageDescriptor) []byte {
	d := &deriver{root: md.FullName(), queued: map[protoreflect.FullName]bool{md.FullName(): true}}
	root := new(orderedjson.Object).Set("$schema", draft2020).Set("title", string(md.FullName()))
	if wk := d.wellKnown(md, nil); wk != nil {
		for k, v := range wk.All() {
			root.Set(k, v)
		}
		return orderedjson.Append(nil, root)
	}
	d.message(root, md)
	defs := new(orderedjson.Object)
	for len(d.pending) > 0 {
		next := d.pending[0]
		d.pending = d.pending[1:]
		defs.Set(string(next.FullName()), d.message(new(orderedjson.Object), next))
	}
	if defs.Len() > 0 {
		root.Set("$defs", defs)
	}
	return orderedjson.Append(nil, root)
}

// message writes the object schema of md into obj.
func (d *deriver) message(obj *orderedjson.Object, md protoreflect.MessageDescriptor) *orderedjson.Object {
	var notes []string
	if c := comment(md); c != "" {
		notes = append(notes, c)
	}
	var exactlyOne [][]string
	oneofs := md.Oneofs()
	for i := range oneofs.Len() {
		od := oneofs.Get(i)
		if od.IsSynthetic() {
			continue
		}
		var names []string
		for j := range od.Fields().Len() {
			names = append(names, od.Fields().Get(j).JSONName())
		}
		if oneofRules(od).GetRequired() {
			exactlyOne = append(exactlyOne, names)
		} else {
			notes = append(notes, "At most one of "+strings.Join(names, ", ")+" may be set.")
		}
	}
	mr := messageRules(md)
	for _, rule := range mr.GetOneof() {
		var names []string
		for _, n := range rule.GetFields() {
			if fd := md.Fields().ByName(protoreflect.Name(n)); fd != nil {
				names = append(names, fd.JSONName())
			}
		}
		if rule.GetRequired() {
			exactlyOne = append(exactlyOne, names)
		} else {
			notes = append(notes, "At most one of "+strings.Join(names, ", ")+" may be set.")
		}
	}
	if texts := ruleTexts(celRules(mr)); len(texts) > 0 {
		notes = append(notes, "Business rules: "+strings.Join(texts, "; ")+".")
	}

	obj.Set("type", "object")
	if len(notes) > 0 {
		obj.Set("description", strings.Join(notes, " "))
	}
	props := new(orderedjson.Object)
	required := []string{}
	for _, fd := range sortedFields(md) {
		fr := active(fieldRules(fd))
		props.Set(fd.JSONName(), d.field(fd, fr))
		if isRequired(fd, fr) {
			required = append(required, fd.JSONName())
		}
	}
	obj.Set("properties", props)
	if len(required) > 0 {
		obj.Set("required", required)
	}
	switch len(exactlyOne) {
	case 0:
	case 1:
		obj.Set("oneOf", alternatives(exactlyOne[0]))
	default:
		all := make([]any, len(exactlyOne))
		for i, names := range exactlyOne {
			all[i] = new(orderedjson.Object).Set("oneOf", alternatives(names))
		}
		obj.Set("allOf", all)
	}
	return obj.Set("additionalProperties", false)
}

// alternatives is a oneOf list requiring exactly one of names.
func alternatives(names []string) []any {
	out := make([]any, len(names))
	for i, n := range names {
		out[i] = new(orderedjson.Object).Set("required", []string{n})
	}
	return out
}

// ruleTexts describes CEL rules by their messages, or their expressions
// where they have no message.
func ruleTexts(rules []*validatepb.Rule) []string {
	var out []string
	for _, r := range rules {
		if m := r.GetMessage(); m != "" {
			out = append(out, m)
		} else if e := r.GetExpression(); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// field returns the schema of a field: a list, a map or a single value.
func (d *deriver) field(fd protoreflect.FieldDescriptor, fr *validatepb.FieldRules) *orderedjson.Object {
	var s *orderedjson.Object
	switch {
	case fd.IsMap():
		s = d.mapSchema(fd, fr.GetMap())
	case fd.IsList():
		rr := fr.GetRepeated()
		s = new(orderedjson.Object).Set("type", "array").Set("items", d.value(fd, active(rr.GetItems())))
		if rr.HasMinItems() {
			s.Set("minItems", uintNumber(rr.GetMinItems()))
		}
		if rr.HasMaxItems() {
			s.Set("maxItems", uintNumber(rr.GetMaxItems()))
		}
		if rr.GetUnique() {
			s.Set("uniqueItems", true)
		}
	default:
		s = d.value(fd, fr)
	}
	if texts := ruleTexts(fieldCEL(fr)); len(texts) > 0 {
		describe(s, "Must satisfy: "+strings.Join(texts, "; ")+".")
	}
	if c := comment(fd); c != "" {
		s.Set("description", strings.TrimSpace(c+" "+descriptionOf(s)))
	}
	return s
}

// fieldCEL lists a field's own CEL rules.
func fieldCEL(fr *validatepb.FieldRules) []*validatepb.Rule {
	var out []*validatepb.Rule
	for _, e := range fr.GetCelExpression() {
		out = append(out, validatepb.Rule_builder{Expression: &e}.Build())
	}
	return append(out, fr.GetCel()...)
}

func (d *deriver) mapSchema(fd protoreflect.FieldDescriptor, mr *validatepb.MapRules) *orderedjson.Object {
	s := new(orderedjson.Object).Set("type", "object")
	s.Set("propertyNames", keySchema(fd.MapKey(), active(mr.GetKeys())))
	s.Set("additionalProperties", d.value(fd.MapValue(), active(mr.GetValues())))
	if mr.HasMinPairs() {
		s.Set("minProperties", uintNumber(mr.GetMinPairs()))
	}
	if mr.HasMaxPairs() {
		s.Set("maxProperties", uintNumber(mr.GetMaxPairs()))
	}
	return s
}

// keySchema describes map keys, which protojson always writes as strings.
func keySchema(fd protoreflect.FieldDescriptor, fr *validatepb.FieldRules) *orderedjson.Object {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return stringSchema(fr.GetString())
	case protoreflect.BoolKind:
		return new(orderedjson.Object).Set("type", "string").Set("enum", []string{"true", "false"})
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return int64Schema(numericOf(fr), true)
	default:
		return int64Schema(numericOf(fr), false)
	}
}

// value returns the schema of one value of fd (one item of a list).
func (d *deriver) value(fd protoreflect.FieldDescriptor, fr *validatepb.FieldRules) *orderedjson.Object {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		md := fd.Message()
		if s := d.wellKnown(md, fr); s != nil {
			return s
		}
		return d.ref(md)
	case protoreflect.EnumKind:
		return enumSchema(fd.Enum(), fr.GetEnum())
	default:
		return scalarSchema(fd.Kind(), fr)
	}
}

// ref points at md's schema, queueing it for $defs on first use.
func (d *deriver) ref(md protoreflect.MessageDescriptor) *orderedjson.Object {
	name := md.FullName()
	if name == d.root {
		return new(orderedjson.Object).Set("$ref", "#")
	}
	if !d.queued[name] {
		d.queued[name] = true
		d.pending = append(d.pending, md)
	}
	return new(orderedjson.Object).Set("$ref", "#/$defs/"+string(name))
}

var wrappers = map[protoreflect.FullName]bool{
	"google.protobuf.DoubleValue": true, "google.protobuf.FloatValue": true,
	"google.protobuf.Int64Value": true, "google.protobuf.UInt64Value": true,
	"google.protobuf.Int32Value": true, "google.protobuf.UInt32Value": true,
	"google.protobuf.BoolValue": true, "google.protobuf.StringValue": true,
	"google.protobuf.BytesValue": true,
}

func isWellKnown(name protoreflect.FullName) bool {
	switch name {
	case "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.Struct",
		"google.protobuf.Value", "google.protobuf.ListValue", "google.protobuf.FieldMask",
		"google.protobuf.Empty", "google.protobuf.Any":
		return true
	}
	return wrappers[name]
}

// wellKnown returns the schema of a well-known type's JSON form, nil for
// other messages.
func (d *deriver) wellKnown(md protoreflect.MessageDescriptor, fr *validatepb.FieldRules) *orderedjson.Object {
	name := md.FullName()
	if wrappers[name] {
		return scalarSchema(md.Fields().ByName("value").Kind(), fr)
	}
	s := new(orderedjson.Object)
	switch name {
	case "google.protobuf.Timestamp":
		s.Set("type", "string").Set("format", "date-time")
		timestampNotes(s, fr.GetTimestamp())
	case "google.protobuf.Duration":
		s.Set("type", "string").Set("pattern", durationPattern)
		durationNotes(s, fr.GetDuration())
	case "google.protobuf.Struct":
		s.Set("type", "object")
	case "google.protobuf.Value":
		// Any JSON value.
	case "google.protobuf.ListValue":
		s.Set("type", "array")
	case "google.protobuf.FieldMask":
		s.Set("type", "string").Set("description", "Comma-separated field paths in lowerCamelCase.")
	case "google.protobuf.Empty":
		s.Set("type", "object").Set("additionalProperties", false)
	case "google.protobuf.Any":
		typeURL := new(orderedjson.Object).Set("type", "string")
		if in := fr.GetAny().GetIn(); len(in) > 0 {
			typeURL.Set("enum", in)
		}
		if notIn := fr.GetAny().GetNotIn(); len(notIn) > 0 {
			describe(typeURL, "Must not be one of "+quoteList(notIn)+".")
		}
		s.Set("type", "object").Set("properties", new(orderedjson.Object).Set("@type", typeURL)).Set("required", []string{"@type"})
	default:
		return nil
	}
	return s
}

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

	// Patterns: the rule's own, or else prefix, suffix and contains.
	var patterns []string
	var notes []string
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
	if p, ok := stringPatterns[wk]; ok && !sr.HasPattern() {
		patterns = append(patterns, p)
	}
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

	if note, ok := stringNotes[wk]; ok {
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
	for _, n := range notes {
		describe(s, n)
	}
	if ex := sr.GetExample(); len(ex) > 0 {
		s.Set("examples", ex)
	}
	return s
}

// stringFormats maps well-known string rules to JSON Schema formats.
var stringFormats = map[protoreflect.Name]string{
	"email": "email", "hostname": "hostname", "ipv4": "ipv4", "ipv6": "ipv6",
	"uri": "uri", "uri_ref": "uri-reference", "uuid": "uuid",
}

// stringPatterns maps well-known string rules to patterns.
var stringPatterns = map[protoreflect.Name]string{
	"tuuid": "^[0-9a-fA-F]{32}$",
	"ulid":  "^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$",
}

// stringNotes describes well-known string rules that have no format.
var stringNotes = map[protoreflect.Name]string{
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
