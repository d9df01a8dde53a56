package schema

import (
	"strings"
	"unicode"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"golang.org/x/text/unicode/norm"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/guardgen/guardgen/internal/wellknown"
)

// alignment is what schema-aligned decoding needs to know about the message
// types a target reaches, derived once when the target is resolved so that
// decoding looks things up instead of working them out per output.
type alignment struct {
	// keys maps, per message type, a loosely written key (see looseKey) to
	// its field; a nil field means two fields share the loose key.
	keys map[protoreflect.FullName]map[string]protoreflect.FieldDescriptor
	// choices holds the allowed values of fields whose values are limited
	// to a list: enums, and strings with an "in" rule. For a repeated or
	// map field they are the rules of its items or values.
	choices map[protoreflect.FieldDescriptor]*choices
	// inStrings lists, per message type, the fields to visit to reach
	// every string with an "in" rule: those strings, and the message
	// fields that hold some below them.
	inStrings map[protoreflect.FullName][]protoreflect.FieldDescriptor
	// lists maps a message type to its only repeated field, when it has
	// exactly one (maps do not count), for a bare array to fill.
	lists map[protoreflect.FullName]protoreflect.FieldDescriptor
}

// newAlignment walks every message type md reaches, well-known types
// aside.
func newAlignment(md protoreflect.MessageDescriptor) *alignment {
	a := &alignment{
		keys:      map[protoreflect.FullName]map[string]protoreflect.FieldDescriptor{},
		choices:   map[protoreflect.FieldDescriptor]*choices{},
		inStrings: map[protoreflect.FullName][]protoreflect.FieldDescriptor{},
		lists:     map[protoreflect.FullName]protoreflect.FieldDescriptor{},
	}
	var order []protoreflect.MessageDescriptor
	var visit func(md protoreflect.MessageDescriptor)
	visit = func(md protoreflect.MessageDescriptor) {
		if _, seen := a.keys[md.FullName()]; seen || wellknown.JSONForm(md.FullName()) {
			return
		}
		a.addMessage(md)
		order = append(order, md)
		fields := md.Fields()
		for i := range fields.Len() {
			if child := valueOf(fields.Get(i)).Message(); child != nil {
				visit(child)
			}
		}
	}
	visit(md)
	a.findInStrings(order)
	return a
}

// valueOf returns the descriptor of fd's values: fd itself, or its map
// value.
func valueOf(fd protoreflect.FieldDescriptor) protoreflect.FieldDescriptor {
	if fd.IsMap() {
		return fd.MapValue()
	}
	return fd
}

// addMessage indexes one message type's keys, choices and list field.
func (a *alignment) addMessage(md protoreflect.MessageDescriptor) {
	keys := map[string]protoreflect.FieldDescriptor{}
	fields := md.Fields()
	var lists []protoreflect.FieldDescriptor
	for i := range fields.Len() {
		fd := fields.Get(i)
		for _, name := range []string{fd.JSONName(), string(fd.Name())} {
			k := looseKey(name)
			if other, ok := keys[k]; ok && other != fd {
				keys[k] = nil
			} else if !ok {
				keys[k] = fd
			}
		}
		if c := newChoices(valueOf(fd), valueRules(fd)); c != nil {
			a.choices[fd] = c
		}
		if fd.IsList() {
			lists = append(lists, fd)
		}
	}
	a.keys[md.FullName()] = keys
	if len(lists) == 1 {
		a.lists[md.FullName()] = lists[0]
	}
}

// valueRules returns the rules of fd's values: the field's own, its
// items' or its map values'.
func valueRules(fd protoreflect.FieldDescriptor) *validatepb.FieldRules {
	fr := active(fieldRules(fd))
	switch {
	case fd.IsList():
		return active(fr.GetRepeated().GetItems())
	case fd.IsMap():
		return active(fr.GetMap().GetValues())
	}
	return fr
}

// findInStrings fills inStrings: a message type is listed with its
// strings that have an "in" rule and its message fields whose types are
// listed, repeated until nothing changes (types may recurse).
func (a *alignment) findInStrings(order []protoreflect.MessageDescriptor) {
	for changed := true; changed; {
		changed = false
		for _, md := range order {
			var visit []protoreflect.FieldDescriptor
			fields := md.Fields()
			for i := range fields.Len() {
				fd := fields.Get(i)
				v := valueOf(fd)
				switch {
				case v.Kind() == protoreflect.StringKind && a.choices[fd] != nil:
					visit = append(visit, fd)
				case v.Message() != nil && a.inStrings[v.Message().FullName()] != nil:
					visit = append(visit, fd)
				}
			}
			if len(visit) != len(a.inStrings[md.FullName()]) {
				a.inStrings[md.FullName()] = visit
				changed = true
			}
		}
	}
}

// field returns the field of md that key names: by JSON name, by proto
// name, and then loosely (see looseKey). loose is set for the last; ok is
// false when the key loosely names two fields.
func (a *alignment) field(md protoreflect.MessageDescriptor, key string) (fd protoreflect.FieldDescriptor, loose, ok bool) {
	fields := md.Fields()
	if fd = fields.ByJSONName(key); fd != nil {
		return fd, false, true
	}
	if fd = fields.ByTextName(key); fd != nil {
		return fd, false, true
	}
	keys := a.keys[md.FullName()]
	if keys == nil { // a message type reached through google.protobuf.Any
		return nil, false, true
	}
	fd, found := keys[looseKey(key)]
	return fd, found, !found || fd != nil
}

// looseKey is how a key is compared when it is not written exactly: with
// surrounding spaces trimmed, accents removed, case folded, and '-', '_',
// '.', spaces and camelCase boundaries all set aside, so that " Priority ",
// "due-date", "Due Date", "dueDate" and "due_date" meet, and "descripcion"
// meets "descripción".
func looseKey(s string) string {
	s = strings.TrimSpace(s)
	ascii := true
	for i := range len(s) {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if !ascii {
		s = norm.NFD.String(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '-' || r == '_' || r == '.' || unicode.IsSpace(r) || unicode.Is(unicode.Mn, r):
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}
