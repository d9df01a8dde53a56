package schema

import (
	"strconv"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// alignInStrings rewrites, in the decoded message m at path, each string
// whose field has an "in" rule and whose value is not allowed, when it
// names exactly one allowed value: written in another case or with spaces
// around it (ChangeCoerceChoice), or inside a longer answer
// (ChangePickChoice). Strings that name none, or several, are left for
// validation to report. protojson reads such strings without complaint, so
// this runs on the message, after decoding, on both paths.
func (t *Target) alignInStrings(m protoreflect.Message, path string, changes []Change) []Change {
	for _, fd := range t.align.inStrings[m.Descriptor().FullName()] {
		if !m.Has(fd) {
			continue
		}
		p := joinPath(path, fd.JSONName())
		v := valueOf(fd)
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			for i := range l.Len() {
				item := p + "[" + strconv.Itoa(i) + "]"
				if v.Message() != nil {
					changes = t.alignInStrings(l.Get(i).Message(), item, changes)
				} else if to, c, ok := t.choose(fd, item, l.Get(i).String()); ok {
					l.Set(i, protoreflect.ValueOfString(to))
					changes = append(changes, c)
				}
			}
		case fd.IsMap():
			changes = t.alignMapInStrings(m.Mutable(fd).Map(), fd, v, p, changes)
		case v.Message() != nil:
			changes = t.alignInStrings(m.Mutable(fd).Message(), p, changes)
		default:
			if to, c, ok := t.choose(fd, p, m.Get(fd).String()); ok {
				m.Set(fd, protoreflect.ValueOfString(to))
				changes = append(changes, c)
			}
		}
	}
	return changes
}

// alignMapInStrings is alignInStrings for the values of one map field. It
// is a function of its own because the closure Range takes captures
// changes: inline, that moved changes to the heap on every call, maps or
// not.
func (t *Target) alignMapInStrings(mp protoreflect.Map, fd, v protoreflect.FieldDescriptor, p string, changes []Change) []Change {
	mp.Range(func(k protoreflect.MapKey, val protoreflect.Value) bool {
		item := p + "[" + quoteKey(k.String()) + "]"
		if v.Message() != nil {
			changes = t.alignInStrings(val.Message(), item, changes)
		} else if to, c, ok := t.choose(fd, item, val.String()); ok {
			mp.Set(k, protoreflect.ValueOfString(to))
			changes = append(changes, c)
		}
		return true
	})
	return changes
}

// choose returns the allowed value of fd that s names and the change that
// records it; ok is false when s is allowed already or names none.
func (t *Target) choose(fd protoreflect.FieldDescriptor, path, s string) (to string, c Change, ok bool) {
	ch := t.align.choices[fd]
	if ch.allows(s) {
		return "", c, false
	}
	kind := ChangeCoerceChoice
	if to, ok = ch.spelled(s); !ok {
		kind = ChangePickChoice
		if to, ok = ch.within(s); !ok {
			return "", c, false
		}
	}
	c = Change{Kind: kind, Path: path, Detail: quoteOutput(s) + " → " + to}
	if isRedacted(fd) {
		c.Detail = "→ " + to
	}
	return to, c, true
}
