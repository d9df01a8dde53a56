package schema

import (
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/internal/wellknown"
)

// Rules returns the protovalidate rules of the target: the field rules of
// every field that has some, by JSON path from the target ("services.name";
// lists and maps add no index), recursing into each message type once, and
// the message-level CEL rules of the target and the types it contains. The
// results are copies the caller may keep or change.
func (t *Target) Rules() ([]*guardgenv1.FieldRules, []*validatepb.Rule) {
	var fields []*guardgenv1.FieldRules
	var rules []*validatepb.Rule
	seen := map[protoreflect.FullName]bool{}
	var walk func(md protoreflect.MessageDescriptor, prefix string)
	walk = func(md protoreflect.MessageDescriptor, prefix string) {
		if seen[md.FullName()] || wellknown.JSONForm(md.FullName()) {
			return
		}
		seen[md.FullName()] = true
		rules = append(rules, celRules(messageRules(md))...)
		for _, fd := range sortedFields(md) {
			path := joinPath(prefix, fd.JSONName())
			if fr := fieldRules(fd); fr != nil {
				fields = append(fields, &guardgenv1.FieldRules{Path: path, Rules: proto.CloneOf(fr)})
			}
			value := fd
			if fd.IsMap() {
				value = fd.MapValue()
			}
			if child := value.Message(); child != nil {
				walk(child, path)
			}
		}
	}
	walk(t.Desc, "")
	return fields, rules
}

// celRules copies the message's CEL rules; bare cel_expression entries
// become rules with only an expression.
func celRules(mr *validatepb.MessageRules) []*validatepb.Rule {
	var out []*validatepb.Rule
	for _, e := range mr.GetCelExpression() {
		out = append(out, validatepb.Rule_builder{Expression: proto.String(e)}.Build())
	}
	for _, r := range mr.GetCel() {
		out = append(out, proto.CloneOf(r))
	}
	return out
}

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// sortedFields returns the fields of md in field-number order.
func sortedFields(md protoreflect.MessageDescriptor) []protoreflect.FieldDescriptor {
	fds := md.Fields()
	out := make([]protoreflect.FieldDescriptor, fds.Len())
	for i := range out {
		out[i] = fds.Get(i)
	}
	slices.SortFunc(out, func(a, b protoreflect.FieldDescriptor) int { return int(a.Number()) - int(b.Number()) })
	return out
}

// fieldRules returns the (buf.validate.field) option of fd, nil when it has
// none. protovalidate's resolver also reads options that arrived as unknown
// fields.
func fieldRules(fd protoreflect.FieldDescriptor) *validatepb.FieldRules {
	fr, err := protovalidate.ResolveFieldRules(fd)
	if err != nil {
		return nil
	}
	return fr
}

func messageRules(md protoreflect.MessageDescriptor) *validatepb.MessageRules {
	mr, err := protovalidate.ResolveMessageRules(md)
	if err != nil {
		return nil
	}
	return mr
}

func oneofRules(od protoreflect.OneofDescriptor) *validatepb.OneofRules {
	or, err := protovalidate.ResolveOneofRules(od)
	if err != nil {
		return nil
	}
	return or
}

// active drops rules that protovalidate never applies.
func active(fr *validatepb.FieldRules) *validatepb.FieldRules {
	if fr.GetIgnore() == validatepb.Ignore_IGNORE_ALWAYS {
		return nil
	}
	return fr
}

// isRequired reports whether a model must write the field for the message
// to decode and validate: proto2 required fields, fields with
// (buf.validate.field).required, implicit-presence singular fields whose
// rules reject the zero value, and lists and maps with a minimum size.
func isRequired(fd protoreflect.FieldDescriptor, fr *validatepb.FieldRules) bool {
	if fd.Cardinality() == protoreflect.Required {
		return true
	}
	if fr == nil {
		return false
	}
	if fr.GetRequired() {
		return true
	}
	if fr.GetIgnore() == validatepb.Ignore_IGNORE_IF_ZERO_VALUE {
		return false
	}
	switch {
	case fd.IsMap():
		return fr.GetMap().GetMinPairs() > 0
	case fd.IsList():
		return fr.GetRepeated().GetMinItems() > 0
	case fd.HasPresence():
		return false // omitted means unset, and unset skips the rules
	}
	return rejectsZero(fd, fr)
}

// rejectsZero reports whether the rules fail the zero value of fd's kind.
// An enum's zero is always defined, so defined_only alone does not count.
func rejectsZero(fd protoreflect.FieldDescriptor, fr *validatepb.FieldRules) bool {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return stringRejectsEmpty(fr.GetString())
	case protoreflect.BytesKind:
		return bytesRejectEmpty(fr.GetBytes())
	case protoreflect.BoolKind:
		br := fr.GetBool()
		return br.HasConst() && br.GetConst()
	case protoreflect.EnumKind:
		er := fr.GetEnum()
		return (er.HasConst() && er.GetConst() != 0) ||
			(len(er.GetIn()) > 0 && !slices.Contains(er.GetIn(), 0)) ||
			slices.Contains(er.GetNotIn(), 0)
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return false
	}
	return numericOf(fr).rejectsZero()
}

func stringRejectsEmpty(sr *validatepb.StringRules) bool {
	if sr == nil {
		return false
	}
	switch {
	case sr.GetMinLen() > 0, sr.GetLen() > 0, sr.GetMinBytes() > 0, sr.GetLenBytes() > 0,
		sr.HasConst() && sr.GetConst() != "",
		len(sr.GetIn()) > 0 && !slices.Contains(sr.GetIn(), ""),
		slices.Contains(sr.GetNotIn(), ""),
		sr.GetPrefix() != "", sr.GetSuffix() != "", sr.GetContains() != "",
		sr.HasPattern() && !matchesEmpty(sr.GetPattern()):
		return true
	}
	// Every well-known format but uri_ref and the HTTP header regexes
	// rejects the empty string.
	switch wellKnown(sr.ProtoReflect()) {
	case "", "uri_ref", "well_known_regex":
		return false
	}
	return true
}

func bytesRejectEmpty(br *validatepb.BytesRules) bool {
	if br == nil {
		return false
	}
	return br.GetMinLen() > 0 || br.GetLen() > 0 ||
		(br.HasConst() && len(br.GetConst()) > 0) ||
		(len(br.GetIn()) > 0 && !slices.ContainsFunc(br.GetIn(), func(b []byte) bool { return len(b) == 0 })) ||
		len(br.GetPrefix()) > 0 || len(br.GetSuffix()) > 0 || len(br.GetContains()) > 0 ||
		(br.HasPattern() && !matchesEmpty(br.GetPattern())) ||
		wellKnown(br.ProtoReflect()) != ""
}

func matchesEmpty(pattern string) bool {
	re, err := regexp.Compile(pattern)
	return err == nil && re.MatchString("")
}

// numVal is one number from a rule: its text as written in JSON and its
// value for comparisons (nil for NaN).
type numVal struct {
	text string
	val  *big.Float
}

// finite reports whether the value can be written as a JSON number.
func (n numVal) finite() bool { return n.val != nil && !n.val.IsInf() }

// textOrEmpty returns the text of a bound, "" when there is none.
func (n *numVal) textOrEmpty() string {
	if n == nil {
		return ""
	}
	return n.text
}

// numRules are the rules of any numeric type (int32 to double), read by
// reflection because protovalidate has one message per type.
type numRules struct {
	konst          *numVal
	lo, hi         *numVal
	loExcl, hiExcl bool
	in, notIn      []numVal
	examples       []numVal
}

// numericOf reads the numeric rules set in fr, nil when there are none.
func numericOf(fr *validatepb.FieldRules) *numRules {
	if fr == nil {
		return nil
	}
	m := fr.ProtoReflect()
	which := m.WhichOneof(m.Descriptor().Oneofs().ByName("type"))
	if which == nil || which.Message() == nil {
		return nil
	}
	rm := m.Get(which).Message()
	fields := rm.Descriptor().Fields()
	if gte := fields.ByName("gte"); gte == nil || gte.Kind() == protoreflect.MessageKind {
		return nil // not a numeric rule type
	}
	one := func(name protoreflect.Name) *numVal {
		fd := fields.ByName(name)
		if fd == nil || !rm.Has(fd) {
			return nil
		}
		v := toNum(rm.Get(fd), fd.Kind())
		return &v
	}
	list := func(name protoreflect.Name) []numVal {
		fd := fields.ByName(name)
		if fd == nil {
			return nil
		}
		l := rm.Get(fd).List()
		out := make([]numVal, l.Len())
		for i := range out {
			out[i] = toNum(l.Get(i), fd.Kind())
		}
		return out
	}
	nr := &numRules{konst: one("const"), in: list("in"), notIn: list("not_in"), examples: list("example")}
	if nr.lo = one("gt"); nr.lo != nil {
		nr.loExcl = true
	} else {
		nr.lo = one("gte")
	}
	if nr.hi = one("lt"); nr.hi != nil {
		nr.hiExcl = true
	} else {
		nr.hi = one("lte")
	}
	return nr
}

func toNum(v protoreflect.Value, kind protoreflect.Kind) numVal {
	switch kind {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return numVal{strconv.FormatInt(v.Int(), 10), new(big.Float).SetInt64(v.Int())}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return numVal{strconv.FormatUint(v.Uint(), 10), new(big.Float).SetUint64(v.Uint())}
	}
	bits := 64
	if kind == protoreflect.FloatKind {
		bits = 32
	}
	f := v.Float()
	switch {
	case math.IsNaN(f):
		return numVal{text: "NaN"}
	case math.IsInf(f, 1):
		return numVal{"Infinity", new(big.Float).SetInf(false)}
	case math.IsInf(f, -1):
		return numVal{"-Infinity", new(big.Float).SetInf(true)}
	}
	return numVal{strconv.FormatFloat(f, 'g', -1, bits), new(big.Float).SetFloat64(f)}
}

// normal reports whether the bounds form one interval. protovalidate reads
// a lower bound above the upper one as "outside the interval".
func (nr *numRules) normal() bool {
	if nr.lo == nil || nr.hi == nil || nr.lo.val == nil || nr.hi.val == nil {
		return true
	}
	c := nr.hi.val.Cmp(nr.lo.val)
	return c > 0 || (c == 0 && !nr.loExcl && !nr.hiExcl)
}

// admits reports whether the rules accept x.
func (nr *numRules) admits(x *big.Float) bool {
	if nr.konst != nil && nr.konst.val != nil && nr.konst.val.Cmp(x) != 0 {
		return false
	}
	has := func(list []numVal) bool {
		return slices.ContainsFunc(list, func(n numVal) bool { return n.val != nil && n.val.Cmp(x) == 0 })
	}
	if (len(nr.in) > 0 && !has(nr.in)) || has(nr.notIn) {
		return false
	}
	aboveLo, belowHi := true, true
	if nr.lo != nil && nr.lo.val != nil {
		c := x.Cmp(nr.lo.val)
		aboveLo = c > 0 || (c == 0 && !nr.loExcl)
	}
	if nr.hi != nil && nr.hi.val != nil {
		c := x.Cmp(nr.hi.val)
		belowHi = c < 0 || (c == 0 && !nr.hiExcl)
	}
	if nr.normal() {
		return aboveLo && belowHi
	}
	return aboveLo || belowHi
}

func (nr *numRules) rejectsZero() bool {
	return nr != nil && !nr.admits(new(big.Float))
}

// wellKnown returns the name of the well_known format that string or bytes
// rules ask for ("email", "uuid", ...), or "" when none is switched on.
func wellKnown(m protoreflect.Message) protoreflect.Name {
	od := m.Descriptor().Oneofs().ByName("well_known")
	if od == nil {
		return ""
	}
	fd := m.WhichOneof(od)
	if fd == nil {
		return ""
	}
	switch v := m.Get(fd); fd.Kind() {
	case protoreflect.BoolKind:
		if !v.Bool() {
			return ""
		}
	case protoreflect.EnumKind:
		if v.Enum() == 0 {
			return ""
		}
	}
	return fd.Name()
}
