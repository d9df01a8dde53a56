package schema

import (
	"cmp"
	"encoding/base64"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/guardgen/guardgen/internal/wellknown"
)

// The fast encoder writes the protojson form of an accepted answer, the
// GenerateResponse's json, for the types most targets are: plain fields,
// enums, nested messages, lists, bytes and Timestamp. It walks a plan made
// once per type, with each field's JSON name already quoted, rather than
// protojson's encoder, which sorts a message's fields into declaration
// order on every call (3 % of a synthetic request's CPU, a tenth of its
// allocations). Its output is protojson's less the random spaces protojson
// adds to keep callers from comparing bytes; TestEncodeFastAgreesWithProtojson
// and FuzzEncodeFast prove it. A type with anything else (a map, a group,
// another type with a JSON form of its own, required fields, extensions)
// goes to protojson, and so does a value the plan does not take (invalid
// UTF-8, a Timestamp out of range, nesting past fastMaxDepth), which
// protojson then refuses or writes.

// encMsg is the fast encoder's plan of one message type.
type encMsg struct {
	fields []encField
}

// encField is one field of an encMsg, in declaration order.
type encField struct {
	fd   protoreflect.FieldDescriptor
	key  string // the quoted JSON name and a colon
	kind protoreflect.Kind
	list bool
	// mapValue is a map field's value, whose keys are written sorted, as
	// protojson sorts them.
	mapValue *encField
	msg      *encMsg // message kinds but Timestamp
	// timestamp is a google.protobuf.Timestamp field.
	timestamp bool
	enum      map[protoreflect.EnumNumber]string // enum kinds: the name protojson writes per number
}

// newEncMsg plans md and the message types its fields reach; nil when the
// fast encoder does not take md.
func newEncMsg(md protoreflect.MessageDescriptor) *encMsg {
	return buildEncMsg(md, map[protoreflect.FullName]*encMsg{})
}

func buildEncMsg(md protoreflect.MessageDescriptor, built map[protoreflect.FullName]*encMsg) *encMsg {
	if m, ok := built[md.FullName()]; ok {
		return m
	}
	fields := md.Fields()
	// A request-defined type is planned when resolved: the fast decoder's
	// bound on fields keeps a huge one's plan (and its enum maps) unbuilt.
	if wellknown.JSONForm(md.FullName()) || md.IsMapEntry() || md.ExtensionRanges().Len() > 0 || fields.Len() > fastMaxFields {
		return refuse(md, built)
	}
	m := &encMsg{fields: make([]encField, fields.Len())}
	built[md.FullName()] = m // before the fields: a type may contain itself
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.Cardinality() == protoreflect.Required || !isPlainName(fd.JSONName()) {
			return refuse(md, built)
		}
		f, ok := planField(fd, built)
		if !ok {
			return refuse(md, built)
		}
		f.key = strconv.Quote(fd.JSONName()) + ":"
		m.fields[i] = f
	}
	return m
}

// planField plans the values of fd; ok is false when the fast encoder
// does not take them.
func planField(fd protoreflect.FieldDescriptor, built map[protoreflect.FullName]*encMsg) (f encField, ok bool) {
	f = encField{fd: fd, kind: fd.Kind(), list: fd.IsList()}
	switch {
	case fd.IsMap():
		value, ok := planField(fd.MapValue(), built)
		if !ok {
			return f, false
		}
		f.mapValue = &value
	case fd.Kind() == protoreflect.GroupKind:
		return f, false
	case fd.Kind() == protoreflect.MessageKind && fd.Message().FullName() == timestampName:
		f.timestamp = true
	case fd.Kind() == protoreflect.MessageKind:
		if f.msg = buildEncMsg(fd.Message(), built); f.msg == nil {
			return f, false
		}
	case fd.Kind() == protoreflect.EnumKind:
		if fd.Enum().FullName() == "google.protobuf.NullValue" {
			return f, false // written as null
		}
		values := fd.Enum().Values()
		f.enum = make(map[protoreflect.EnumNumber]string, values.Len())
		for j := range values.Len() {
			n := values.Get(j).Number()
			if _, ok := f.enum[n]; !ok {
				f.enum[n] = string(values.ByNumber(n).Name()) // of aliases, the one protojson writes
			}
		}
	}
	return f, true
}

// refuse records that md is not planned. The refusal reaches every type
// being planned above md, up to the top one: a type that contains itself
// is never left with a plan that refers to a refused one.
func refuse(md protoreflect.MessageDescriptor, built map[protoreflect.FullName]*encMsg) *encMsg {
	built[md.FullName()] = nil
	return nil
}

// isPlainName reports whether a JSON name needs no escaping when quoted:
// strconv.Quote and protojson would then write it alike.
func isPlainName(s string) bool {
	for i := range len(s) {
		if c := s[i]; c < ' ' || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Encode returns msg, a message of the target's type, in its
// protojson form: compact, with JSON names, populated fields only. A
// message of another type is left to protojson.
func (t *Target) Encode(msg proto.Message) ([]byte, error) {
	if m := msg.ProtoReflect(); t.enc != nil && m.Descriptor() == t.Desc {
		if b, ok := t.enc.append(make([]byte, 0, 256), m, 0); ok {
			return b, nil
		}
	}
	return protojson.Marshal(msg)
}

// append writes m as a JSON object; ok is false when a value is one the
// fast encoder leaves to protojson.
func (p *encMsg) append(b []byte, m protoreflect.Message, depth int) (_ []byte, ok bool) {
	if depth > fastMaxDepth {
		return b, false
	}
	b = append(b, '{')
	first := true
	for i := range p.fields {
		f := &p.fields[i]
		if !m.Has(f.fd) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, f.key...)
		v := m.Get(f.fd)
		if f.mapValue != nil {
			if b, ok = f.mapValue.appendMap(b, v.Map(), depth); !ok {
				return b, false
			}
			continue
		}
		if !f.list {
			if b, ok = f.value(b, v, depth); !ok {
				return b, false
			}
			continue
		}
		l := v.List()
		b = append(b, '[')
		for j := range l.Len() {
			if j > 0 {
				b = append(b, ',')
			}
			if b, ok = f.value(b, l.Get(j), depth); !ok {
				return b, false
			}
		}
		b = append(b, ']')
	}
	return append(b, '}'), true
}

// appendMap writes a map whose values are f's: an object with the keys
// as strings, in protojson's order (false before true, numbers by value,
// strings by their bytes).
func (f *encField) appendMap(b []byte, m protoreflect.Map, depth int) (_ []byte, ok bool) {
	keys := make([]protoreflect.MapKey, 0, m.Len())
	m.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		keys = append(keys, k)
		return true
	})
	slices.SortFunc(keys, compareMapKeys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		switch v := k.Interface().(type) {
		case string:
			if b, ok = appendJSONString(b, v); !ok {
				return b, false
			}
		case bool:
			b = append(strconv.AppendBool(append(b, '"'), v), '"')
		case int32, int64:
			b = append(strconv.AppendInt(append(b, '"'), k.Int(), 10), '"')
		default: // uint32, uint64
			b = append(strconv.AppendUint(append(b, '"'), k.Uint(), 10), '"')
		}
		b = append(b, ':')
		if b, ok = f.value(b, m.Get(k), depth); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// compareMapKeys orders map keys of one kind.
func compareMapKeys(x, y protoreflect.MapKey) int {
	switch v := x.Interface().(type) {
	case string:
		return strings.Compare(v, y.String())
	case bool:
		switch {
		case v == y.Bool():
			return 0
		case !v:
			return -1
		}
		return 1
	case int32, int64:
		return cmp.Compare(x.Int(), y.Int())
	}
	return cmp.Compare(x.Uint(), y.Uint())
}

// value writes one value of f.
func (f *encField) value(b []byte, v protoreflect.Value, depth int) ([]byte, bool) {
	switch f.kind {
	case protoreflect.BoolKind:
		return strconv.AppendBool(b, v.Bool()), true
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return strconv.AppendInt(b, v.Int(), 10), true
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return strconv.AppendUint(b, v.Uint(), 10), true
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		b = strconv.AppendInt(append(b, '"'), v.Int(), 10)
		return append(b, '"'), true
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		b = strconv.AppendUint(append(b, '"'), v.Uint(), 10)
		return append(b, '"'), true
	case protoreflect.FloatKind:
		return appendJSONFloat(b, v.Float(), 32), true
	case protoreflect.DoubleKind:
		return appendJSONFloat(b, v.Float(), 64), true
	case protoreflect.StringKind:
		return appendJSONString(b, v.String())
	case protoreflect.BytesKind:
		b = base64.StdEncoding.AppendEncode(append(b, '"'), v.Bytes())
		return append(b, '"'), true
	case protoreflect.EnumKind:
		if name, ok := f.enum[v.Enum()]; ok {
			b = append(append(append(b, '"'), name...), '"')
			return b, true
		}
		return strconv.AppendInt(b, int64(v.Enum()), 10), true
	case protoreflect.MessageKind:
		if f.timestamp {
			return appendTimestamp(b, v.Message())
		}
		return f.msg.append(b, v.Message(), depth+1)
	}
	return b, false
}

// appendJSONFloat writes n as protojson does: encoding/json's spelling
// (exponent form below 1e-6 and from 1e21, at the width of the field's
// type), and the non-finite values as the strings "NaN", "Infinity" and
// "-Infinity".
func appendJSONFloat(b []byte, n float64, bitSize int) []byte {
	switch {
	case math.IsNaN(n):
		return append(b, `"NaN"`...)
	case math.IsInf(n, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(n, -1):
		return append(b, `"-Infinity"`...)
	}
	format := byte('f')
	if a := math.Abs(n); a != 0 {
		small, large := a < 1e-6, a >= 1e21
		if bitSize == 32 {
			small, large = float32(a) < 1e-6, float32(a) >= 1e21
		}
		if small || large {
			format = 'e'
		}
	}
	start := len(b)
	b = strconv.AppendFloat(b, n, format, -1, bitSize)
	if format == 'e' {
		// e-07 is written e-7, as encoding/json does.
		if e := b[start:]; len(e) >= 4 && e[len(e)-4] == 'e' && e[len(e)-3] == '-' && e[len(e)-2] == '0' {
			b[len(b)-2] = b[len(b)-1]
			b = b[:len(b)-1]
		}
	}
	return b
}

// appendJSONString writes s quoted as protojson does: ", \ and control
// characters escaped (the short forms where JSON has one, else \u00xx),
// everything else as it is. Invalid UTF-8 is left to protojson, which
// refuses it. These are not orderedjson's rules, which are encoding/json's
// (U+2028 escaped, invalid UTF-8 replaced).
func appendJSONString(b []byte, s string) ([]byte, bool) {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				return b, false
			}
			i += n
			continue
		}
		if c >= ' ' && c != '"' && c != '\\' {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			const hex = "0123456789abcdef"
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"'), true
}

// appendTimestamp writes a google.protobuf.Timestamp as protojson does:
// RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits. One out of
// protojson's range is left to it, which refuses it.
func appendTimestamp(b []byte, m protoreflect.Message) ([]byte, bool) {
	fields := m.Descriptor().Fields()
	secs := m.Get(fields.ByNumber(1)).Int()
	nanos := m.Get(fields.ByNumber(2)).Int()
	if secs < minTimestampSeconds || secs > maxTimestampSeconds || nanos < 0 || nanos >= 1e9 {
		return b, false
	}
	b = append(b, '"')
	b = time.Unix(secs, 0).UTC().AppendFormat(b, "2006-01-02T15:04:05")
	if nanos != 0 {
		digits := 9
		for n := nanos; n%1000 == 0 && digits > 3; n /= 1000 {
			digits -= 3
		}
		var buf [10]byte
		frac := strconv.AppendInt(buf[:0], nanos+1e9, 10)[1:] // nine digits, zero-padded
		b = append(append(b, '.'), frac[:digits]...)
	}
	return append(b, 'Z', '"'), true
}
