package partial

import (
	"encoding/json"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/guardgen/guardgen/extract"
	"github.com/guardgen/guardgen/internal/wellknown"
	"github.com/guardgen/guardgen/schema"
)

// hopKind is how a value sits in what holds it.
type hopKind uint8

const (
	hopField   hopKind = iota // the whole value of a field
	hopElement                // an element of a list field
	hopEntry                  // an entry of a map field
)

// hop is one step from the root to a value: a field, and for an element
// or entry, which one.
type hop struct {
	fd    protoreflect.FieldDescriptor
	kind  hopKind
	index int    // of an element
	key   string // of an entry, as written
}

// unit is a complete value the builder reads, or a container it notes.
type unit struct {
	hops        []hop // empty for the root
	fd          protoreflect.FieldDescriptor
	kind        hopKind
	container   bool
	json, proto string
}

// resolve finds what the complete value v is in the target's terms: a unit
// to read, a container to note, or (ok false) nothing the builder shows:
// a value inside a unit (it comes with the unit), or under a key that
// names no field (the decoder drops it). After the well-known roots
// (Struct, ListValue) it walks v's path once, a field at each step: the
// last, a list or map, or a nested message; the cases share the unit it
// builds.
func (b *Builder) resolve(v extract.Value) (unit, bool) {
	if len(v.Path) == 0 {
		return unit{container: true}, true
	}
	var u unit
	md := b.t.Desc
	switch md.FullName() {
	case "google.protobuf.Struct":
		// The root's members are the entries of Struct.fields.
		st := v.Path[0]
		if st.Index >= 0 || len(v.Path) > 1 {
			return u, false
		}
		fd := md.Fields().ByName("fields")
		u.hops = []hop{{fd: fd, kind: hopEntry, key: st.Key}}
		u.fd, u.kind = fd, hopEntry
		u.json, u.proto = strconv.Quote(st.Key), "fields["+strconv.Quote(st.Key)+"]"
		return u, true
	case "google.protobuf.ListValue":
		// The root's elements are ListValue.values.
		st := v.Path[0]
		if st.Index < 0 || len(v.Path) > 1 {
			return u, false
		}
		fd := md.Fields().ByName("values")
		u.hops = []hop{{fd: fd, kind: hopElement, index: st.Index}}
		u.fd, u.kind = fd, hopElement
		u.json, u.proto = "["+strconv.Itoa(st.Index)+"]", "values["+strconv.Itoa(st.Index)+"]"
		return u, true
	}
	var js, ps strings.Builder
	for i := 0; i < len(v.Path); i++ {
		st := v.Path[i]
		if md == nil || st.Index >= 0 {
			return u, false // inside a scalar or well-known value, or an array where a message belongs
		}
		fd := b.t.Field(md, st.Key, b.opts.Strict)
		if fd == nil {
			return u, false
		}
		if js.Len() > 0 {
			js.WriteByte('.')
			ps.WriteByte('.')
		}
		js.WriteString(fd.JSONName())
		ps.WriteString(string(fd.Name()))
		last := i == len(v.Path)-1
		switch {
		case last:
			u.hops = append(u.hops, hop{fd: fd, kind: hopField})
			// A list, a map or a message that closed is noted; any other
			// value (and one of those written as a scalar, which decoding
			// may read, say a string holding JSON) is a unit.
			u.container = v.Container && (fd.IsList() || fd.IsMap() || nested(fd))
		case fd.IsList() || fd.IsMap():
			next := v.Path[i+1]
			if i+1 != len(v.Path)-1 {
				return u, false // inside an element or entry: it comes whole
			}
			h := hop{fd: fd, kind: hopElement, index: next.Index}
			if fd.IsMap() {
				if next.Index >= 0 {
					return u, false
				}
				key, ok := quoteKey(fd.MapKey().Kind(), next.Key)
				if !ok {
					return u, false
				}
				h = hop{fd: fd, kind: hopEntry, key: next.Key}
				js.WriteString("[" + strconv.Quote(next.Key) + "]")
				ps.WriteString("[" + key + "]")
			} else {
				if next.Index < 0 {
					return u, false
				}
				js.WriteString("[" + strconv.Itoa(next.Index) + "]")
				ps.WriteString("[" + strconv.Itoa(next.Index) + "]")
			}
			u.hops = append(u.hops, h) // the element or entry is the last step
		case nested(fd):
			u.hops = append(u.hops, hop{fd: fd, kind: hopField})
			md = fd.Message()
			continue
		default:
			return u, false // inside a scalar or well-known value
		}
		h := u.hops[len(u.hops)-1]
		u.fd, u.kind = h.fd, h.kind
		u.json, u.proto = js.String(), ps.String()
		return u, true
	}
	return u, false
}

// nested reports whether fd holds one message whose fields the builder
// shows one by one: any message but the well-known types, whose values
// come whole (and not a list or map of them: their elements come whole).
func nested(fd protoreflect.FieldDescriptor) bool {
	md := fd.Message()
	return md != nil && !fd.IsList() && !fd.IsMap() && !wellknown.JSONForm(md.FullName())
}

// wrap writes the JSON of an answer that holds only text at u's place.
func (b *Builder) wrap(u unit, text string) string {
	var w strings.Builder
	w.Grow(len(text) + 16*len(u.hops))
	closers := make([]byte, 0, 2*len(u.hops))
	for i, h := range u.hops {
		if i == 0 && b.t.Form() == schema.FormArray {
			w.WriteByte('[')
			closers = append(closers, ']')
			continue
		}
		if i == 0 && b.t.Desc.FullName() == "google.protobuf.Struct" {
			w.WriteByte('{')
			writeKey(&w, h.key)
			closers = append(closers, '}')
			continue
		}
		w.WriteByte('{')
		writeKey(&w, h.fd.JSONName())
		closers = append(closers, '}')
		switch h.kind {
		case hopElement:
			w.WriteByte('[')
			closers = append(closers, ']')
		case hopEntry:
			w.WriteByte('{')
			writeKey(&w, h.key)
			closers = append(closers, '}')
		}
	}
	w.WriteString(text)
	for i := len(closers) - 1; i >= 0; i-- {
		w.WriteByte(closers[i])
	}
	return w.String()
}

// writeKey writes key as a JSON object key and its colon.
func writeKey(w *strings.Builder, key string) {
	k, _ := json.Marshal(key) // a string always marshals
	w.Write(k)
	w.WriteByte(':')
}

// decode reads text as the value at u's place: as the final answer is
// read, through extract.JSON's repairs and Target.Decode's alignment. The
// message it returns holds that value and nothing else, or it fails.
func (b *Builder) decode(u unit, text string) (proto.Message, error) {
	c, err := extract.JSON(b.wrap(u, text), extract.Options{MaxBytes: b.opts.MaxBytes, Arrays: b.t.Form() == schema.FormArray})
	if err != nil {
		return nil, ErrUnreadable
	}
	msg, _, err := b.t.Decode(c.JSON, schema.DecodeOptions{Strict: b.opts.Strict})
	if err != nil || !only(msg.ProtoReflect(), u.hops) {
		return nil, ErrUnreadable
	}
	return msg, nil
}

// only reports whether m holds the value at hops and nothing else: text
// that a repair could read as more than one value (a missing comma, say)
// must not slip another field in.
func only(m protoreflect.Message, hops []hop) bool {
	for i, h := range hops {
		n := 0
		m.Range(func(protoreflect.FieldDescriptor, protoreflect.Value) bool { n++; return n < 2 })
		if n != 1 || !m.Has(h.fd) {
			return n == 0 && i == len(hops)-1 && h.kind == hopField // an empty value: nothing set
		}
		switch h.kind {
		case hopElement:
			return m.Get(h.fd).List().Len() == 1
		case hopEntry:
			return m.Get(h.fd).Map().Len() == 1
		}
		if i < len(hops)-1 {
			m = m.Get(h.fd).Message()
		}
	}
	return true
}

// read reads the unit u, whose text is text, merges it into the partial
// message and checks it.
func (b *Builder) read(u unit, text string) error {
	msg, err := b.decode(u, text)
	if err != nil {
		return err
	}
	b.checkUnit(u, msg)
	proto.Merge(b.msg, msg)
	if u.kind == hopElement {
		// Elements are merged in order; a list of another length means the
		// indices no longer match the text's.
		if got := b.parentOf(u).Get(u.fd).List().Len(); got != u.hops[len(u.hops)-1].index+1 {
			return ErrUnreadable
		}
	}
	b.note(u)
	return nil
}
