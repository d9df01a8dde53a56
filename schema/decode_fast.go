package schema

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/guardgen/guardgen/internal/wellknown"
)

// The fast decoder turns the JSON most answers are — a plain object of
// strings, integers, floats, booleans, enum names, nested objects and
// arrays, every key a field of the type — into protobuf wire bytes in one
// pass, and lets proto.Unmarshal build the message from them: no
// reflection per field, no token strings, one allocation per string field.
// It takes only what protojson would decode to the same message and gives
// up on anything else (an escape in a key, a number in another spelling,
// a type with a JSON form of its own but Timestamp, a map, bytes, a
// duplicate, a second member of a oneof, an unknown key, null in a list,
// ...); [Target.Decode] then runs protojson as before. Giving up
// is always safe, accepting is proved against protojson by
// TestDecodeFastAgreesWithProtojson and FuzzDecodeFast.

// timestampName is the one type with a JSON form of its own the fast
// decoder reads: most answers carry dates.
const timestampName = "google.protobuf.Timestamp"

// Timestamp bounds, as protojson checks them: 0001-01-01T00:00:00Z and
// 9999-12-31T23:59:59Z.
const (
	minTimestampSeconds = -62135596800
	maxTimestampSeconds = 253402300799
)

// fastMaxDepth bounds the nesting the fast decoder follows; deeper answers
// go to protojson, which has its own bound.
const fastMaxDepth = 32

// fastMaxFields bounds the fields of a message the fast decoder takes (the
// duplicate check is a fixed bitset).
const fastMaxFields = 256

// fastMsg is what the fast decoder knows of one message type.
type fastMsg struct {
	// byName finds a field by each name protojson accepts for it: its
	// JSON name first, then its proto name.
	byName map[string]*fastField
}

// fastField is one field of a fastMsg.
type fastField struct {
	num   protowire.Number
	index int // among the message's fields, for the duplicate check
	kind  protoreflect.Kind
	list  bool
	// oneof is the index+1 of the real oneof the field is in, else 0.
	oneof int
	// refuse sends a key of this field to protojson: maps, groups, bytes,
	// message types with a JSON form of their own and NullValue.
	refuse bool
	msg    *fastMsg // message kinds
	// timestamp is a google.protobuf.Timestamp field, read as protojson
	// reads one.
	timestamp bool
	enum      map[string]int32 // enum kinds: number by value name
}

// newFastMsg describes md and the message types its fields reach for the
// fast decoder; nil when md itself is one it does not take.
func newFastMsg(md protoreflect.MessageDescriptor) *fastMsg {
	return buildFastMsg(md, map[protoreflect.FullName]*fastMsg{})
}

func buildFastMsg(md protoreflect.MessageDescriptor, built map[protoreflect.FullName]*fastMsg) *fastMsg {
	if m, ok := built[md.FullName()]; ok {
		return m
	}
	fields := md.Fields()
	if wellknown.JSONForm(md.FullName()) || fields.Len() > fastMaxFields ||
		md.Oneofs().Len() > 64 || md.IsMapEntry() {
		return nil
	}
	m := &fastMsg{byName: make(map[string]*fastField, 2*fields.Len())}
	built[md.FullName()] = m
	ffs := make([]*fastField, fields.Len())
	for i := range fields.Len() {
		fd := fields.Get(i)
		f := &fastField{num: fd.Number(), index: i, kind: fd.Kind(), list: fd.IsList()}
		if oneof := fd.ContainingOneof(); oneof != nil && !oneof.IsSynthetic() {
			f.oneof = oneof.Index() + 1
		}
		switch {
		case fd.IsMap(), fd.Kind() == protoreflect.GroupKind, fd.Kind() == protoreflect.BytesKind, fd.IsExtension():
			f.refuse = true
		case fd.Kind() == protoreflect.MessageKind && fd.Message().FullName() == timestampName:
			f.timestamp = true
		case fd.Kind() == protoreflect.MessageKind:
			f.msg = buildFastMsg(fd.Message(), built)
			f.refuse = f.msg == nil
		case fd.Kind() == protoreflect.EnumKind:
			values := fd.Enum().Values()
			f.enum = make(map[string]int32, values.Len())
			for j := range values.Len() {
				f.enum[string(values.Get(j).Name())] = int32(values.Get(j).Number())
			}
			// NullValue reads JSON null as a value; protojson handles it.
			f.refuse = fd.Enum().FullName() == "google.protobuf.NullValue"
		}
		ffs[i] = f
		m.byName[fd.TextName()] = f
	}
	for i, f := range ffs {
		m.byName[fields.Get(i).JSONName()] = f // a JSON name wins, as in protojson
	}
	return m
}

// fastBufs keeps the wire buffers of the fast decoder.
var fastBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// fastBufKeep is the largest buffer put back in fastBufs.
const fastBufKeep = 1 << 20

// decodeFast decodes data, a JSON object, into a new message of the
// target's type when it can be sure protojson would decode data to the
// same message; otherwise ok is false and nothing was decoded.
func (t *Target) decodeFast(data []byte) (m proto.Message, ok bool) {
	if t.fast == nil {
		return nil, false
	}
	bp := fastBufs.Get().(*[]byte)
	// The wire form of most answers is shorter than their JSON; one
	// allocation up front rather than doubling through append.
	d := fastDecoder{data: data, buf: slices.Grow((*bp)[:0], len(data)+64)}
	d.space()
	ok = d.object(t.fast)
	d.space()
	ok = ok && d.pos == len(data)
	if ok {
		m = t.Type.New().Interface()
		if err := proto.Unmarshal(d.buf, m); err != nil {
			m, ok = nil, false // a proto2 required field unset, say
		}
	}
	if cap(d.buf) <= fastBufKeep {
		*bp = d.buf[:0]
		fastBufs.Put(bp)
	}
	return m, ok
}

// fastDecoder reads JSON from data and appends wire bytes to buf. Every
// method reports false when the fast path gives up.
type fastDecoder struct {
	data  []byte
	pos   int
	buf   []byte
	depth int
}

func (d *fastDecoder) space() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// eat consumes c, after spaces.
func (d *fastDecoder) eat(c byte) bool {
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

// peek is the next byte after spaces, or 0 at the end.
func (d *fastDecoder) peek() byte {
	d.space()
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

// word consumes w when it is the next token.
func (d *fastDecoder) word(w string) bool {
	if len(d.data)-d.pos >= len(w) && string(d.data[d.pos:d.pos+len(w)]) == w {
		end := d.pos + len(w)
		if end < len(d.data) && isWordByte(d.data[end]) {
			return false
		}
		d.pos = end
		return true
	}
	return false
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c >= 0x80
}

// object reads a JSON object of message m.
func (d *fastDecoder) object(m *fastMsg) bool {
	if d.depth++; d.depth > fastMaxDepth || !d.eat('{') {
		return false
	}
	defer func() { d.depth-- }()
	if d.peek() == '}' {
		d.pos++
		return true
	}
	var seen [fastMaxFields / 64]uint64
	var oneofs uint64
	for {
		key, ok := d.key()
		if !ok {
			return false
		}
		f := m.byName[string(key)]
		if f == nil || f.refuse {
			return false
		}
		bit := uint64(1) << (f.index & 63)
		if seen[f.index>>6]&bit != 0 {
			return false // protojson refuses a duplicate
		}
		seen[f.index>>6] |= bit
		if !d.eat(':') {
			return false
		}
		d.space()
		switch {
		case d.word("null"):
			// protojson leaves the field unset, a oneof member too
		case f.oneof > 0:
			bit := uint64(1) << (f.oneof - 1)
			if oneofs&bit != 0 {
				return false // protojson refuses a second member of a oneof
			}
			oneofs |= bit
			if !d.value(f) {
				return false
			}
		case f.list:
			if !d.list(f) {
				return false
			}
		default:
			if !d.value(f) {
				return false
			}
		}
		if more, ok := d.separator('}'); !more {
			return ok
		}
	}
}

// separator reads what follows a member or an element: a comma (more
// follow) or closer (the container ends); anything else is not ok.
func (d *fastDecoder) separator(closer byte) (more, ok bool) {
	switch d.peek() {
	case ',':
		d.pos++
		return true, true
	case closer:
		d.pos++
		return false, true
	}
	return false, false
}

// key reads an object key without escapes.
func (d *fastDecoder) key() ([]byte, bool) {
	if !d.eat('"') {
		return nil, false
	}
	start := d.pos
	for d.pos < len(d.data) {
		switch c := d.data[d.pos]; {
		case c == '"':
			d.pos++
			return d.data[start : d.pos-1], true
		case c == '\\' || c < 0x20:
			return nil, false
		}
		d.pos++
	}
	return nil, false
}

// list reads a JSON array of the repeated field f, one element per record.
func (d *fastDecoder) list(f *fastField) bool {
	if !d.eat('[') {
		return false
	}
	if d.peek() == ']' {
		d.pos++
		return true
	}
	for {
		d.space()
		if !d.value(f) {
			return false
		}
		if more, ok := d.separator(']'); !more {
			return ok
		}
	}
}

// value reads one value of f and appends it as a record.
func (d *fastDecoder) value(f *fastField) bool {
	switch f.kind {
	case protoreflect.StringKind:
		d.buf = protowire.AppendTag(d.buf, f.num, protowire.BytesType)
		return d.str()
	case protoreflect.MessageKind:
		d.buf = protowire.AppendTag(d.buf, f.num, protowire.BytesType)
		start := d.open()
		if f.timestamp && !d.timestamp() || !f.timestamp && !d.object(f.msg) {
			return false
		}
		d.close(start)
		return true
	case protoreflect.BoolKind:
		var v uint64
		switch {
		case d.word("true"):
			v = 1
		case d.word("false"):
		default:
			return false
		}
		d.buf = protowire.AppendTag(d.buf, f.num, protowire.VarintType)
		d.buf = protowire.AppendVarint(d.buf, v)
		return true
	case protoreflect.EnumKind:
		name, ok := d.key() // an enum value name has no escapes either
		if !ok {
			return false
		}
		n, ok := f.enum[string(name)]
		if !ok {
			return false
		}
		d.buf = protowire.AppendTag(d.buf, f.num, protowire.VarintType)
		d.buf = protowire.AppendVarint(d.buf, uint64(int64(n)))
		return true
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return d.float(f)
	default:
		return d.integer(f)
	}
}

// open reserves a byte for the length of what follows.
func (d *fastDecoder) open() int {
	d.buf = append(d.buf, 0)
	return len(d.buf)
}

// close writes the length of what was appended since start, moving it up
// when the length takes more than the byte open reserved.
func (d *fastDecoder) close(start int) {
	n := len(d.buf) - start
	if size := protowire.SizeVarint(uint64(n)); size > 1 {
		for range size - 1 {
			d.buf = append(d.buf, 0)
		}
		copy(d.buf[start+size-1:], d.buf[start:start+n])
	}
	protowire.AppendVarint(d.buf[:start-1], uint64(n))
}

// str reads a JSON string and appends it length-prefixed, unescaped. It
// gives up on surrogate escapes (\ud83d\ude00), which protojson pairs its
// own way, and on invalid UTF-8, which protojson refuses.
func (d *fastDecoder) str() bool {
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return false
	}
	d.pos++
	start := d.open()
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			d.close(start)
			return true
		case c < 0x20:
			return false
		case c != '\\':
			// copy the run up to the next quote, escape or control byte
			run := d.pos
			for d.pos < len(d.data) && d.data[d.pos] != '"' && d.data[d.pos] != '\\' && d.data[d.pos] >= 0x20 {
				d.pos++
			}
			// A run ends at ASCII, so valid text is never split between
			// runs; protojson refuses invalid UTF-8 anywhere in the text.
			if !utf8.Valid(d.data[run:d.pos]) {
				return false
			}
			d.buf = append(d.buf, d.data[run:d.pos]...)
			continue
		}
		if d.pos+1 >= len(d.data) {
			return false
		}
		d.pos += 2
		switch e := d.data[d.pos-1]; e {
		case '"', '\\', '/':
			d.buf = append(d.buf, e)
		case 'b':
			d.buf = append(d.buf, '\b')
		case 'f':
			d.buf = append(d.buf, '\f')
		case 'n':
			d.buf = append(d.buf, '\n')
		case 'r':
			d.buf = append(d.buf, '\r')
		case 't':
			d.buf = append(d.buf, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok || r >= 0xD800 && r <= 0xDFFF {
				return false
			}
			d.buf = utf8.AppendRune(d.buf, r)
		default:
			return false
		}
	}
	return false
}

func (d *fastDecoder) hex4() (rune, bool) {
	if d.pos+4 > len(d.data) {
		return 0, false
	}
	var r rune
	for _, c := range d.data[d.pos : d.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	d.pos += 4
	return r, true
}

// number reads a JSON number and reports where it is and whether it is a
// plain integer (no fraction, no exponent).
func (d *fastDecoder) number() (text []byte, integer, ok bool) {
	start := d.pos
	if d.pos < len(d.data) && d.data[d.pos] == '-' {
		d.pos++
	}
	digits := d.digits()
	if digits == 0 || digits > 1 && d.data[d.pos-digits] == '0' {
		return nil, false, false // JSON has no leading zeros
	}
	integer = true
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if d.digits() == 0 {
			return nil, false, false
		}
		integer = false
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if d.digits() == 0 {
			return nil, false, false
		}
		integer = false
	}
	if d.pos < len(d.data) && isWordByte(d.data[d.pos]) {
		return nil, false, false
	}
	return d.data[start:d.pos], integer, true
}

func (d *fastDecoder) digits() int {
	start := d.pos
	for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
		d.pos++
	}
	return d.pos - start
}

// integer reads a plain JSON integer for an integer field, in its range.
func (d *fastDecoder) integer(f *fastField) bool {
	text, integer, ok := d.number()
	if !ok || !integer {
		return false // 1.0 and 1e2: protojson's reading, not ours
	}
	neg := text[0] == '-'
	if neg {
		text = text[1:]
	}
	if len(text) > 20 {
		return false
	}
	var mag uint64
	for _, c := range text {
		next := mag*10 + uint64(c-'0')
		if mag > math.MaxUint64/10 || next < mag {
			return false
		}
		mag = next
	}
	var lo int64
	var hi uint64
	switch f.kind {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		lo, hi = math.MinInt32, math.MaxInt32
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		lo, hi = math.MinInt64, math.MaxInt64
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		hi = math.MaxUint32
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		hi = math.MaxUint64
	default:
		return false
	}
	var v int64 // the value as a signed number, for the signed kinds
	switch {
	case neg && lo == 0:
		return false // protojson refuses a sign on an unsigned field, -0 too
	case neg && mag == 0:
	case neg:
		if mag-1 > uint64(-(lo + 1)) {
			return false
		}
		v = -int64(mag-1) - 1
	default:
		if mag > hi {
			return false
		}
		v = int64(mag)
	}
	switch f.kind {
	case protoreflect.Int32Kind, protoreflect.Int64Kind:
		d.buf = protowire.AppendTag(d.buf, f.num, protowire.VarintType)
		d.buf = protowire.AppendVarint(d.buf, uint64(v))
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		d.buf = protowire.AppendTag(d.buf, f.num, protowire.VarintType)
		d.buf = protowire.AppendVarint(d.buf, protowire.EncodeZigZag(v))
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind:
		d.buf = protowire.AppendTag(d.buf, f.num, protowire.VarintType)
		d.buf = protowire.AppendVarint(d.buf, mag)
	case protoreflect.Sfixed32Kind, protoreflect.Fixed32Kind:
		d.buf = protowire.AppendTag(d.buf, f.num, protowire.Fixed32Type)
		d.buf = protowire.AppendFixed32(d.buf, uint32(v))
	case protoreflect.Sfixed64Kind, protoreflect.Fixed64Kind:
		d.buf = protowire.AppendTag(d.buf, f.num, protowire.Fixed64Type)
		d.buf = protowire.AppendFixed64(d.buf, uint64(v))
	}
	return true
}

// float reads a JSON number for a float or double field, as protojson
// does: strconv.ParseFloat at the field's size, out of range refused.
func (d *fastDecoder) float(f *fastField) bool {
	text, _, ok := d.number()
	if !ok {
		return false
	}
	if f.kind == protoreflect.FloatKind {
		v, err := strconv.ParseFloat(string(text), 32)
		if err != nil {
			return false
		}
		d.buf = protowire.AppendTag(d.buf, f.num, protowire.Fixed32Type)
		d.buf = protowire.AppendFixed32(d.buf, math.Float32bits(float32(v)))
		return true
	}
	v, err := strconv.ParseFloat(string(text), 64)
	if err != nil {
		return false
	}
	d.buf = protowire.AppendTag(d.buf, f.num, protowire.Fixed64Type)
	d.buf = protowire.AppendFixed64(d.buf, math.Float64bits(v))
	return true
}

// timestamp reads an RFC 3339 string as protojson reads a Timestamp —
// time.Parse with time.RFC3339Nano, seconds within years 1 to 9999, at
// most nine fractional digits — and appends its seconds and nanos. A
// string with escapes is left to protojson.
func (d *fastDecoder) timestamp() bool {
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return false
	}
	end := d.pos + 1
	for end < len(d.data) && d.data[end] != '"' {
		if d.data[end] == '\\' || d.data[end] < 0x20 {
			return false
		}
		end++
	}
	if end >= len(d.data) {
		return false
	}
	s := string(d.data[d.pos+1 : end])
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return false
	}
	secs := t.Unix()
	if secs < minTimestampSeconds || secs > maxTimestampSeconds {
		return false
	}
	i, j := strings.LastIndexByte(s, '.'), strings.LastIndexAny(s, "Z-+")
	if i >= 0 && j >= i && j-i > len(".999999999") {
		return false
	}
	d.pos = end + 1
	d.buf = protowire.AppendTag(d.buf, 1, protowire.VarintType)
	d.buf = protowire.AppendVarint(d.buf, uint64(secs))
	d.buf = protowire.AppendTag(d.buf, 2, protowire.VarintType)
	d.buf = protowire.AppendVarint(d.buf, uint64(t.Nanosecond()))
	return true
}
