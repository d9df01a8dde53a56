package semantic

import (
	"encoding/json"
	"strconv"
	"strings"
)

// maxDepth bounds how deep the value scanner follows nesting, as the
// extractor does.
const maxDepth = 128

// step is one element of a value's path: an object key or an array index.
type step struct {
	key   string
	index int // -1 for an object key
}

// span is where one scalar value sits in a JSON text.
type span struct {
	// start and end delimit the value's own text: what its tokens are
	// counted over (see the package doc).
	start, end int
	// raw0 and raw1 delimit the value as written, quotes included.
	raw0, raw1 int
	str        bool
}

// text is the value's own text in s.
func (v span) text(s string) string { return s[v.start:v.end] }

// scanValues calls emit for every scalar value of the JSON text s that is
// complete: followed by the byte that ends it, or, when whole says s is the
// whole document, by the end of s (in a prefix, a number at the very end
// may yet grow). It stops quietly where s ends or stops being JSON, so it
// serves a streaming prefix as well as a whole document. The path passed
// to emit is only valid during the call.
func scanValues(s string, whole bool, emit func(path []step, v span)) {
	sc := scanner{s: s, whole: whole, emit: emit}
	sc.value(0)
}

type scanner struct {
	s     string
	i     int
	whole bool
	path  []step
	emit  func([]step, span)
	stop  bool // ran out of input or off JSON
}

func (sc *scanner) space() {
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

func (sc *scanner) value(depth int) {
	sc.space()
	if sc.i >= len(sc.s) || depth > maxDepth {
		sc.stop = true
		return
	}
	switch sc.s[sc.i] {
	case '{':
		sc.object(depth)
	case '[':
		sc.array(depth)
	case '"':
		start := sc.i
		end, ok := sc.str()
		if !ok {
			return
		}
		v := span{start: start + 1, end: end, raw0: start, raw1: end + 1, str: true}
		if end == start+1 { // "": its closing quote decides it is empty
			v.start, v.end = end, end+1
		}
		sc.emit(sc.path, v)
	default:
		start := sc.i
		for sc.i < len(sc.s) && literalByte(sc.s[sc.i]) {
			sc.i++
		}
		if sc.i == start || (sc.i >= len(sc.s) && !sc.whole) {
			sc.stop = true
			return
		}
		sc.emit(sc.path, span{start: start, end: sc.i, raw0: start, raw1: sc.i})
	}
}

// literalByte reports a byte of a number, true, false or null.
func literalByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '+' || c == '.'
}

// str moves past the string that starts at sc.i and returns the index of
// its closing quote.
func (sc *scanner) str() (int, bool) {
	for j := sc.i + 1; j < len(sc.s); j++ {
		switch sc.s[j] {
		case '\\':
			j++
		case '"':
			sc.i = j + 1
			return j, true
		}
	}
	sc.stop = true
	return 0, false
}

func (sc *scanner) object(depth int) {
	sc.i++ // {
	for n := 0; !sc.stop; n++ {
		sc.space()
		if sc.i >= len(sc.s) {
			sc.stop = true
			return
		}
		if sc.s[sc.i] == '}' && n == 0 {
			sc.i++
			return
		}
		if sc.s[sc.i] != '"' {
			sc.stop = true
			return
		}
		start := sc.i
		end, ok := sc.str()
		if !ok {
			return
		}
		key := keyText(sc.s[start : end+1])
		sc.space()
		if sc.i >= len(sc.s) || sc.s[sc.i] != ':' {
			sc.stop = true
			return
		}
		sc.i++
		sc.path = append(sc.path, step{key: key, index: -1})
		sc.value(depth + 1)
		sc.path = sc.path[:len(sc.path)-1]
		if !sc.next('}') {
			return
		}
	}
}

func (sc *scanner) array(depth int) {
	sc.i++ // [
	for n := 0; !sc.stop; n++ {
		sc.space()
		if sc.i < len(sc.s) && sc.s[sc.i] == ']' && n == 0 {
			sc.i++
			return
		}
		sc.path = append(sc.path, step{index: n})
		sc.value(depth + 1)
		sc.path = sc.path[:len(sc.path)-1]
		if !sc.next(']') {
			return
		}
	}
}

// next moves past the ',' before another member, or the closing byte;
// false means the container ended (or the text did).
func (sc *scanner) next(closing byte) bool {
	if sc.stop {
		return false
	}
	sc.space()
	switch {
	case sc.i >= len(sc.s):
		sc.stop = true
		return false
	case sc.s[sc.i] == ',':
		sc.i++
		return true
	case sc.s[sc.i] == closing:
		sc.i++
		return false
	}
	sc.stop = true
	return false
}

// keyText decodes a quoted JSON key; keys are almost never escaped, so
// the common case costs nothing.
func keyText(quoted string) string {
	if !strings.Contains(quoted, `\`) {
		return quoted[1 : len(quoted)-1]
	}
	var k string
	if err := json.Unmarshal([]byte(quoted), &k); err != nil {
		return quoted[1 : len(quoted)-1]
	}
	return k
}

// appendStep renders one path element: .name for a field, [i] for an
// index, ["key"] for a map key, as classifier.FieldPath does.
func appendStep(b []byte, name string, index int, mapKey bool) []byte {
	switch {
	case index >= 0:
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(index), 10)
		return append(b, ']')
	case mapKey:
		b = append(b, '[')
		b = strconv.AppendQuote(b, name)
		return append(b, ']')
	}
	if len(b) > 0 {
		b = append(b, '.')
	}
	return append(b, name...)
}
