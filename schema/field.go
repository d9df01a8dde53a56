package schema

import "google.golang.org/protobuf/reflect/protoreflect"

// Field returns the field of md, a message type the target reaches, that
// key names, as Decode reads keys: by JSON name, by proto name, and, unless
// strict, loosely (" Priority ", "due-date"). It returns nil when no field
// or several fields match.
func (t *Target) Field(md protoreflect.MessageDescriptor, key string, strict bool) protoreflect.FieldDescriptor {
	fd, loose, ok := t.align.field(md, key)
	if !ok || loose && strict {
		return nil
	}
	return fd
}

// Limited reports whether the values of fd (its items, for a list; its
// values, for a map) are limited to a list: an enum's values or the
// strings of an "in" rule. Such a value is worth showing only once whole.
func (t *Target) Limited(fd protoreflect.FieldDescriptor) bool {
	return t.align.choices[fd] != nil || valueOf(fd).Kind() == protoreflect.EnumKind
}
