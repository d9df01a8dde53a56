package config

import (
	"fmt"
	"strconv"
	"strings"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	configv1 "github.com/guardgen/guardgen/gen/guardgen/config/v1"
)

// describe rewrites decoding errors so that each names the key it is about
// and, for a scalar of the wrong form, the value and what the field
// accepts: "llm_pipeline.execution.max_attempts: -2 is not a valid whole
// number (must be 1–10)" instead of the YAML library's "invalid integer:
// strconv.ParseUint: …". An error whose position is not a node of the
// document is left as it is.
func describe(data []byte, errs []*Error) []*Error {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return errs
	}
	root := (&configv1.Config{}).ProtoReflect().Descriptor()
	for _, e := range errs {
		if e.Line == 0 {
			continue
		}
		n, ok := nodeAt(doc.Content[0], root, "", e.Line, e.Column)
		if !ok {
			continue
		}
		if n.scalar() {
			e.Reason = fmt.Sprintf("%s: %s is not a valid %s", n.path, shown(n.value), kindWord(n.fd))
			if r := allowed(n.fd.Kind(), n.rules()); r != "" {
				e.Reason += " (must be " + r + ")"
			}
			continue
		}
		if n.path != "" {
			e.Reason = n.path + ": " + e.Reason
		}
	}
	return errs
}

// located is what nodeAt found at a position: the field path of the key or
// value there, the field, the value node when the position is a value, and
// whether that value is one item of the (list) field.
type located struct {
	path  string
	fd    protoreflect.FieldDescriptor
	value *yaml.Node
	item  bool
}

// scalar reports whether the value found is one scalar of a scalar field
// (or list of scalars): a value whose form alone can be wrong.
func (l located) scalar() bool {
	return l.value != nil && l.value.Kind == yaml.ScalarNode && l.fd.Message() == nil && !l.fd.IsMap() && (l.item || !l.fd.IsList())
}

// rules are the protovalidate rules the value found must pass: a list
// item's are the list's items rules.
func (l located) rules() *validate.FieldRules {
	rules, _ := proto.GetExtension(l.fd.Options(), validate.E_Field).(*validate.FieldRules)
	if l.item {
		return rules.GetRepeated().GetItems()
	}
	return rules
}

// nodeAt finds the node at line:col under n, a node holding a message of
// type md reached by path, and says which field it belongs to.
func nodeAt(n *yaml.Node, md protoreflect.MessageDescriptor, path string, line, col int) (located, bool) {
	if n.Kind != yaml.MappingNode {
		return located{}, false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		fd := fieldNamed(md, k.Value)
		if fd == nil {
			continue
		}
		p := join(path, string(fd.Name()))
		if k.Line == line && k.Column == col {
			return located{path: p, fd: fd}, true
		}
		if found, ok := valueAt(v, fd, p, line, col); ok {
			return found, true
		}
	}
	return located{}, false
}

// valueAt finds the node at line:col in v, the value of field fd at path.
func valueAt(v *yaml.Node, fd protoreflect.FieldDescriptor, path string, line, col int) (located, bool) {
	if v.Line == line && v.Column == col {
		return located{path: path, fd: fd, value: v}, true
	}
	switch {
	case fd.IsMap():
		if v.Kind != yaml.MappingNode {
			return located{}, false
		}
		for i := 0; i+1 < len(v.Content); i += 2 {
			k, mv := v.Content[i], v.Content[i+1]
			p := fmt.Sprintf("%s[%q]", path, k.Value)
			if k.Line == line && k.Column == col {
				return located{path: p, fd: fd.MapKey(), value: k}, true
			}
			if found, ok := valueAt(mv, fd.MapValue(), p, line, col); ok {
				return found, true
			}
		}
	case fd.IsList():
		if v.Kind != yaml.SequenceNode {
			return located{}, false
		}
		for i, item := range v.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			if item.Line == line && item.Column == col {
				return located{path: p, fd: fd, value: item, item: true}, true
			}
			if fd.Message() != nil {
				if found, ok := nodeAt(item, fd.Message(), p, line, col); ok {
					return found, true
				}
			}
		}
	case fd.Message() != nil:
		return nodeAt(v, fd.Message(), path, line, col)
	}
	return located{}, false
}

// fieldNamed finds the field a YAML key names: its proto name or its JSON
// name, as protoyaml accepts both.
func fieldNamed(md protoreflect.MessageDescriptor, key string) protoreflect.FieldDescriptor {
	if fd := md.Fields().ByName(protoreflect.Name(key)); fd != nil {
		return fd
	}
	return md.Fields().ByJSONName(key)
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// shown is a scalar as the file wrote it: numbers bare, anything else
// quoted, so that an empty or space-padded value is visible.
func shown(n *yaml.Node) string {
	if _, err := strconv.ParseFloat(n.Value, 64); err == nil {
		return n.Value
	}
	return strconv.Quote(n.Value)
}

// kindWord names what a field of fd's kind holds, for a reader of YAML.
func kindWord(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return "boolean (true or false)"
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		return "whole number"
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Sint32Kind, protoreflect.Sint64Kind,
		protoreflect.Sfixed32Kind, protoreflect.Sfixed64Kind:
		return "integer"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "number"
	case protoreflect.EnumKind:
		return "value of " + string(fd.Enum().Name())
	}
	return "string"
}

// allowed says which values of kind the protovalidate rules accept, as
// "1–10", "at least 1", "at most 65536" or "one of a, b", or "" when the
// rules set no bound. Unsigned values without a lower bound start at 0.
func allowed(kind protoreflect.Kind, rules *validate.FieldRules) string {
	var lo, hi string
	switch kind {
	case protoreflect.Uint32Kind:
		r := rules.GetUint32()
		lo, hi = "0", ""
		if r.HasGte() {
			lo = strconv.FormatUint(uint64(r.GetGte()), 10)
		}
		if r.HasLte() {
			hi = strconv.FormatUint(uint64(r.GetLte()), 10)
		}
	case protoreflect.Uint64Kind:
		r := rules.GetUint64()
		lo, hi = "0", ""
		if r.HasGte() {
			lo = strconv.FormatUint(r.GetGte(), 10)
		}
		if r.HasLte() {
			hi = strconv.FormatUint(r.GetLte(), 10)
		}
	case protoreflect.Int32Kind:
		r := rules.GetInt32()
		if r.HasGte() {
			lo = strconv.FormatInt(int64(r.GetGte()), 10)
		}
		if r.HasLte() {
			hi = strconv.FormatInt(int64(r.GetLte()), 10)
		}
	case protoreflect.DoubleKind:
		r := rules.GetDouble()
		if r.HasGte() {
			lo = strconv.FormatFloat(r.GetGte(), 'g', -1, 64)
		}
		if r.HasLte() {
			hi = strconv.FormatFloat(r.GetLte(), 'g', -1, 64)
		}
	case protoreflect.StringKind:
		if in := rules.GetString().GetIn(); len(in) > 0 {
			return "one of " + strings.Join(in, ", ")
		}
	case protoreflect.BoolKind:
		return "true or false"
	}
	switch {
	case lo != "" && hi != "":
		return lo + "–" + hi
	case lo != "" && lo != "0":
		return "at least " + lo
	case hi != "":
		return "at most " + hi
	}
	return ""
}

// outOfRange rewords a broken numeric bound to show the value and the
// range, "20 is out of range (must be 1–10)", in place of protovalidate's
// "must be greater than or equal to 1 and less than or equal to 10". The
// rule id stays, so a reader can still look the rule up.
func outOfRange(v *protovalidate.Violation) {
	fd := v.FieldDescriptor
	if fd == nil || fd.IsList() || fd.IsMap() || !v.FieldValue.IsValid() {
		return
	}
	_, rule, ok := strings.Cut(v.Proto.GetRuleId(), ".")
	if !ok || !rangeRules[rule] {
		return
	}
	rules, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
	r := allowed(fd.Kind(), rules)
	if r == "" {
		return
	}
	v.Proto.SetMessage(fmt.Sprintf("%v is out of range (must be %s)", v.FieldValue.Interface(), r))
}

// rangeRules are the protovalidate numeric bound rule ids (after the type,
// as in "uint32.gte_lte") that allowed can state.
var rangeRules = map[string]bool{"gte": true, "lte": true, "gte_lte": true}
