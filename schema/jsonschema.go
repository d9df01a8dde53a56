package schema

import (
	"strings"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/guardgen/guardgen/internal/orderedjson"
	"github.com/guardgen/guardgen/internal/wellknown"
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

// wellKnown returns the schema of a well-known type's JSON form, nil for
// other messages.
func (d *deriver) wellKnown(md protoreflect.MessageDescriptor, fr *validatepb.FieldRules) *orderedjson.Object {
	name := md.FullName()
	if wellknown.Wrapper(name) {
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
