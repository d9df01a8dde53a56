package semantic

import (
	"encoding/json"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// maxMessageDepth bounds the walks of decoded messages.
const maxMessageDepth = maxDepth

// Missing returns a Confidence with reason NotInOutput for every scalar
// value of m (the decoded answer) whose marks set a min_confidence and that
// got has no value for: a value the model's text holds under a key a repair
// renamed, say. Nothing is missing from a measurement that measured
// nothing.
func (c *Checks) Missing(m proto.Message, got Measurement) []Confidence {
	if !c.NeedsLogprobs() || got.Unavailable != "" {
		return nil
	}
	seen := make(map[string]bool, len(got.Values))
	for _, v := range got.Values {
		seen[v.Path] = true
	}
	var out []Confidence
	c.walk(m.ProtoReflect(), nil, Mark{}, 0, func(path []byte, _ protoreflect.Message, _ protoreflect.FieldDescriptor, _ protoreflect.Value, mark Mark, leaf bool) {
		if !leaf || mark.MinConfidence <= 0 || seen[string(path)] || covered(got.Values, string(path)) {
			return
		}
		out = append(out, Confidence{Path: string(path), Mark: mark, Unavailable: NotInOutput})
	})
	return out
}

// covered reports a value under path: one inside a well-known type's JSON
// form (a Struct's members) is measured by its own path.
func covered(values []Confidence, path string) bool {
	for _, v := range values {
		if strings.HasPrefix(v.Path, path) && len(v.Path) > len(path) && (v.Path[len(path)] == '.' || v.Path[len(path)] == '[') {
			return true
		}
	}
	return false
}

// Item is one value the verifier is asked about.
type Item struct {
	// Path is the value's path with JSON names.
	Path string
	// Question is the field's verify question.
	Question string
	// Value is the field's value as protojson.
	Value string
	// Critical says a "not supported" verdict fails the answer.
	Critical bool
}

// Items lists the values of m's fields that have a verify question, in
// field order, depth first: a field's value as a whole (a list as a list,
// a message as a message). It returns at most limit items and the number
// left out.
func (c *Checks) Items(m proto.Message, limit int) ([]Item, int) {
	if !c.Verifies() {
		return nil, 0
	}
	var items []Item
	dropped := 0
	c.walk(m.ProtoReflect(), nil, Mark{}, 0, func(path []byte, parent protoreflect.Message, fd protoreflect.FieldDescriptor, _ protoreflect.Value, _ Mark, leaf bool) {
		own, ok := c.Mark(fd)
		if !ok || own.Verify == "" || leaf && (fd.IsList() || fd.IsMap()) {
			return // a list or map is asked about once, as a whole
		}
		if len(items) == limit {
			dropped++
			return
		}
		items = append(items, Item{Path: string(path), Question: own.Verify, Value: fieldJSON(parent, fd), Critical: own.Critical})
	})
	return items, dropped
}

// visitFunc is told each field and value the walk reaches: parent holds
// fd, v is fd's value (or one element of it).
type visitFunc func(path []byte, parent protoreflect.Message, fd protoreflect.FieldDescriptor, v protoreflect.Value, mark Mark, leaf bool)

// walk calls fn for each populated field of m (leaf false) and each of its
// scalar values (leaf true: an element of a list, a value of a map, a
// singular scalar or well-known message), in field order, depth first,
// with the marks that apply. A singular scalar field is reported once, as
// a leaf.
func (c *Checks) walk(m protoreflect.Message, path []byte, inherited Mark, depth int,
	fn visitFunc,
) {
	if depth > maxMessageDepth {
		return
	}
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue
		}
		mark := inherited
		if own, ok := c.Mark(fd); ok {
			mark = own
		}
		p := appendStep(path, fd.JSONName(), -1, false)
		v := m.Get(fd)
		switch {
		case fd.IsList():
			fn(p, m, fd, v, mark, false)
			list := v.List()
			for j := range list.Len() {
				c.element(appendStep(p, "", j, false), m, fd, fd.Message(), list.Get(j), mark, depth, fn)
			}
		case fd.IsMap():
			fn(p, m, fd, v, mark, false)
			v.Map().Range(func(k protoreflect.MapKey, e protoreflect.Value) bool {
				c.element(appendStep(p, k.String(), -1, true), m, fd, fd.MapValue().Message(), e, mark, depth, fn)
				return true
			})
		default:
			c.element(p, m, fd, fd.Message(), v, mark, depth, fn)
		}
	}
}

// element reports one value: a leaf, or a message to walk into.
func (c *Checks) element(path []byte, parent protoreflect.Message, fd protoreflect.FieldDescriptor, md protoreflect.MessageDescriptor, v protoreflect.Value, mark Mark, depth int,
	fn visitFunc,
) {
	if md == nil || wellKnown(md) {
		fn(path, parent, fd, v, mark, true)
		return
	}
	if !fd.IsList() && !fd.IsMap() {
		fn(path, parent, fd, v, mark, false)
	}
	c.walk(v.Message(), path, mark, depth+1, fn)
}

// fieldJSON renders parent's field fd as protojson, by rendering a message
// of parent's type that has only that field.
func fieldJSON(parent protoreflect.Message, fd protoreflect.FieldDescriptor) string {
	holder := parent.New()
	holder.Set(fd, parent.Get(fd))
	js, err := protojson.Marshal(holder.Interface())
	if err != nil {
		return ""
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(js, &members); err != nil {
		return ""
	}
	return string(members[fd.JSONName()])
}
