package schema

import (
	"errors"
	"math"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/guardgen/guardgen/internal/wellknown"
)

// errNumberRange is a number in a google.protobuf.Value out of the range
// of a double, which protojson refuses too.
var errNumberRange = errors.New("a number out of range")

// errDuplicateKey is a key given twice in a map or a Struct, which
// protojson refuses too.
var errDuplicateKey = errors.New("a key given twice")

// builder writes a tree the walker has checked (and aligned) into a
// message, as protojson would read the tree's JSON, without writing the
// JSON out and parsing it again. Every value was checked, so the
// conversions below cannot fail; the few well-known types with a form of
// their own (Duration, FieldMask, Any, Empty) go through protojson.
type builder struct {
	json protojson.UnmarshalOptions // for the delegated well-known types
}

// message writes object n into m: each member whose key names a field,
// null members left unset.
func (b builder) message(m protoreflect.Message, n *node) error {
	md := m.Descriptor()
	if wellknown.JSONForm(md.FullName()) {
		return b.wellKnown(m, n)
	}
	fields := md.Fields()
	for i, key := range n.keys {
		fd := fields.ByJSONName(key)
		if fd == nil {
			fd = fields.ByTextName(key)
		}
		val := n.vals[i]
		if fd == nil || val.kind == nullNode && !acceptsNull(fd) {
			continue // unknown, and dropped; or null, which means unset
		}
		var err error
		switch {
		case fd.IsList():
			err = b.list(m.Mutable(fd).List(), fd, val)
		case fd.IsMap():
			err = b.mapEntries(m.Mutable(fd).Map(), fd, val)
		case fd.Message() != nil:
			err = b.message(m.Mutable(fd).Message(), val)
		default:
			m.Set(fd, b.scalar(fd, val))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (b builder) list(l protoreflect.List, fd protoreflect.FieldDescriptor, n *node) error {
	for _, item := range n.items {
		if fd.Message() == nil {
			l.Append(b.scalar(fd, item))
			continue
		}
		v := l.NewElement()
		if err := b.message(v.Message(), item); err != nil {
			return err
		}
		l.Append(v)
	}
	return nil
}

func (b builder) mapEntries(mp protoreflect.Map, fd protoreflect.FieldDescriptor, n *node) error {
	value := fd.MapValue()
	for i, key := range n.keys {
		k := mapKey(fd.MapKey(), key)
		if mp.Has(k) { // "1" and "01" for an integer key
			return errDuplicateKey
		}
		if value.Message() == nil {
			mp.Set(k, b.scalar(value, n.vals[i]))
			continue
		}
		v := mp.NewValue()
		if err := b.message(v.Message(), n.vals[i]); err != nil {
			return err
		}
		mp.Set(k, v)
	}
	return nil
}

// mapKey converts a map key, which the walker checked.
func mapKey(fd protoreflect.FieldDescriptor, key string) protoreflect.MapKey {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(key).MapKey()
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(key == "true").MapKey()
	}
	return integer(fd.Kind(), key).MapKey()
}

// scalar converts a scalar or enum value, which the walker checked.
func (b builder) scalar(fd protoreflect.FieldDescriptor, n *node) protoreflect.Value {
	switch kind := fd.Kind(); kind {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(n.bool)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(n.text)
	case protoreflect.BytesKind:
		data, _ := decodeBase64(n.text)
		return protoreflect.ValueOfBytes(data)
	case protoreflect.EnumKind:
		if n.kind == stringNode {
			return protoreflect.ValueOfEnum(fd.Enum().Values().ByName(protoreflect.Name(n.text)).Number())
		}
		if n.kind == nullNode { // google.protobuf.NullValue
			return protoreflect.ValueOfEnum(0)
		}
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(integer(protoreflect.Int32Kind, n.text).Int()))
	case protoreflect.FloatKind:
		f, _ := parseFloat(n, kind)
		return protoreflect.ValueOfFloat32(float32(f))
	case protoreflect.DoubleKind:
		f, _ := parseFloat(n, kind)
		return protoreflect.ValueOfFloat64(f)
	default:
		return integer(kind, n.text)
	}
}

// integer converts integer text, which the walker checked, to kind.
func integer(kind protoreflect.Kind, text string) protoreflect.Value {
	bits, unsigned := intShape(kind)
	i, u, _ := parseInteger(text, bits, unsigned)
	switch {
	case unsigned && bits == 32:
		return protoreflect.ValueOfUint32(uint32(u))
	case unsigned:
		return protoreflect.ValueOfUint64(u)
	case bits == 32:
		return protoreflect.ValueOfInt32(int32(i))
	}
	return protoreflect.ValueOfInt64(i)
}

// wellKnown writes n into a well-known type by its JSON form.
func (b builder) wellKnown(m protoreflect.Message, n *node) error {
	md := m.Descriptor()
	fields := md.Fields()
	switch name := md.FullName(); {
	case wellknown.Wrapper(name):
		value := fields.ByName("value")
		m.Set(value, b.scalar(value, n))
	case name == "google.protobuf.Timestamp":
		t, _ := parseTimestamp(n.text)
		m.Set(fields.ByName("seconds"), protoreflect.ValueOfInt64(t.Unix()))
		m.Set(fields.ByName("nanos"), protoreflect.ValueOfInt32(int32(t.Nanosecond())))
	case name == "google.protobuf.Struct":
		return b.structFields(m, n)
	case name == "google.protobuf.ListValue":
		return b.listValues(m, n)
	case name == "google.protobuf.Value":
		return b.value(m, n)
	default: // Duration, FieldMask, Any, Empty: rare, and protojson's own forms
		return b.json.Unmarshal(n.appendJSON(nil), m.Interface())
	}
	return nil
}

// structFields writes object n into a google.protobuf.Struct.
func (b builder) structFields(m protoreflect.Message, n *node) error {
	mp := m.Mutable(m.Descriptor().Fields().ByName("fields")).Map()
	for i, key := range n.keys {
		k := protoreflect.ValueOfString(key).MapKey()
		if mp.Has(k) {
			return errDuplicateKey
		}
		v := mp.NewValue()
		if err := b.value(v.Message(), n.vals[i]); err != nil {
			return err
		}
		mp.Set(k, v)
	}
	return nil
}

// listValues writes array n into a google.protobuf.ListValue.
func (b builder) listValues(m protoreflect.Message, n *node) error {
	l := m.Mutable(m.Descriptor().Fields().ByName("values")).List()
	for _, item := range n.items {
		v := l.NewElement()
		if err := b.value(v.Message(), item); err != nil {
			return err
		}
		l.Append(v)
	}
	return nil
}

// value writes any JSON value n into a google.protobuf.Value.
func (b builder) value(m protoreflect.Message, n *node) error {
	fields := m.Descriptor().Fields()
	switch n.kind {
	case nullNode:
		m.Set(fields.ByName("null_value"), protoreflect.ValueOfEnum(0))
	case boolNode:
		m.Set(fields.ByName("bool_value"), protoreflect.ValueOfBool(n.bool))
	case numberNode:
		f, ok := parseFloat(n, protoreflect.DoubleKind)
		if !ok || math.IsNaN(f) {
			return errNumberRange
		}
		m.Set(fields.ByName("number_value"), protoreflect.ValueOfFloat64(f))
	case stringNode:
		m.Set(fields.ByName("string_value"), protoreflect.ValueOfString(n.text))
	case arrayNode:
		return b.listValues(m.Mutable(fields.ByName("list_value")).Message(), n)
	default:
		return b.structFields(m.Mutable(fields.ByName("struct_value")).Message(), n)
	}
	return nil
}

// build writes the walked tree root into a new message of the target type.
func (t *Target) build(root *node) (proto.Message, error) {
	m := t.Type.New()
	if err := (builder{json: t.discard}).message(m, root); err != nil {
		return nil, err
	}
	return m.Interface(), nil
}
