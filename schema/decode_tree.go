package schema

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/guardgen/guardgen/internal/orderedjson"
)

// maxJSONDepth matches protojson's default recursion limit.
const maxJSONDepth = 10000

type nodeKind uint8

const (
	nullNode nodeKind = iota
	boolNode
	numberNode
	stringNode
	arrayNode
	objectNode
)

// node is a parsed JSON value that keeps object members in document order,
// duplicates included, so that the walk reports them.
type node struct {
	kind  nodeKind
	text  string // string value, or number as written
	bool  bool
	items []*node  // array
	keys  []string // object
	vals  []*node  // object, parallel to keys
}

// parseTree parses one JSON value (RFC 8259, as protojson reads it:
// invalid UTF-8 and lone surrogates are errors), and nothing after it
// but whitespace. It runs in time linear in len(data). Errors give a byte
// offset, never the text.
func parseTree(data []byte) (*node, *DecodeError) {
	n, _, err := parseTreeWithin(data, 0)
	return n, err
}

// parseTreeWithin is parseTree reading at most limit values (0: no
// limit); it returns how many it read.
func parseTreeWithin(data []byte, limit int) (*node, int, *DecodeError) {
	p := treeParser{data: data, text: string(data), limit: limit}
	p.space()
	if p.i == len(data) {
		return nil, 0, &DecodeError{Reason: "no JSON value"}
	}
	n := p.value(0)
	if p.err != nil {
		return nil, p.count, p.err
	}
	if p.space(); p.i < len(data) {
		return nil, p.count, &DecodeError{Reason: "unexpected data after the JSON value"}
	}
	return n, p.count, nil
}

// treeParser is a recursive-descent JSON parser. After the first error
// every method returns at once and the error stays in err.
type treeParser struct {
	data  []byte
	text  string // data, copied once: numbers and strings without escapes are slices of it
	limit int    // values to read at most; 0 means no limit
	count int    // values read
	i     int
	err   *DecodeError
	block []node // nodes are allocated in blocks
	buf   []byte // scratch for strings with escapes
	// The members and items of the open objects and arrays, copied into
	// slices of their exact size when each closes.
	keys  []string
	vals  []*node
	items []*node
	// The closed objects' and arrays' slices are carved from these.
	keySlab  []string
	nodeSlab []*node
}

// slabSize is how many keys or nodes one slab allocation holds.
const slabSize = 64

// carveKeys returns a copy of keys of its exact size, carved from a slab.
func (p *treeParser) carveKeys(keys []string) []string {
	if len(keys) > len(p.keySlab) {
		p.keySlab = make([]string, max(slabSize, len(keys)))
	}
	out := p.keySlab[:len(keys):len(keys)]
	p.keySlab = p.keySlab[len(keys):]
	copy(out, keys)
	return out
}

// carveNodes returns a copy of nodes of its exact size, carved from a slab.
func (p *treeParser) carveNodes(nodes []*node) []*node {
	if len(nodes) > len(p.nodeSlab) {
		p.nodeSlab = make([]*node, max(slabSize, len(nodes)))
	}
	out := p.nodeSlab[:len(nodes):len(nodes)]
	p.nodeSlab = p.nodeSlab[len(nodes):]
	copy(out, nodes)
	return out
}

func (p *treeParser) node(kind nodeKind) *node {
	if p.count++; p.limit > 0 && p.count > p.limit && p.err == nil {
		p.err = &DecodeError{Reason: "more than " + strconv.Itoa(p.limit) + " values"}
	}
	if len(p.block) == 0 {
		p.block = make([]node, 32)
	}
	n := &p.block[0]
	p.block = p.block[1:]
	n.kind = kind
	return n
}

// fail records a syntax error at the current byte, or "ends early" at the
// end of the input.
func (p *treeParser) fail() *node {
	if p.err == nil {
		if p.i >= len(p.data) {
			p.err = &DecodeError{Reason: "the JSON ends early"}
		} else {
			p.err = &DecodeError{Reason: "malformed JSON at byte " + strconv.Itoa(p.i)}
		}
	}
	return nil
}

func (p *treeParser) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *treeParser) value(depth int) *node {
	if p.err != nil { // past the value limit
		return nil
	}
	if depth > maxJSONDepth {
		p.err = &DecodeError{Reason: "the JSON is nested too deeply"}
		return nil
	}
	if p.i >= len(p.data) {
		return p.fail()
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, ok := p.str()
		if !ok {
			return nil
		}
		n := p.node(stringNode)
		n.text = s
		return n
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	case c == 't':
		return p.literal("true", boolNode, true)
	case c == 'f':
		return p.literal("false", boolNode, false)
	case c == 'n':
		return p.literal("null", nullNode, false)
	default:
		return p.fail()
	}
}

func (p *treeParser) literal(word string, kind nodeKind, b bool) *node {
	for k := 0; k < len(word); k++ {
		if p.i >= len(p.data) || p.data[p.i] != word[k] {
			return p.fail()
		}
		p.i++
	}
	n := p.node(kind)
	n.bool = b
	return n
}

func (p *treeParser) object(depth int) *node {
	n := p.node(objectNode)
	p.i++ // '{'
	p.space()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		return n
	}
	first := len(p.keys)
	defer func() {
		p.keys, p.vals = p.keys[:first], p.vals[:first]
	}()
	for {
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return p.fail()
		}
		key, ok := p.str()
		if !ok {
			return nil
		}
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return p.fail()
		}
		p.i++
		p.space()
		v := p.value(depth + 1)
		if v == nil {
			return nil
		}
		p.keys = append(p.keys, key)
		p.vals = append(p.vals, v)
		if !p.next('}') {
			return nil
		}
		if p.data[p.i-1] == '}' {
			n.keys = p.carveKeys(p.keys[first:])
			n.vals = p.carveNodes(p.vals[first:])
			return n
		}
	}
}

func (p *treeParser) array(depth int) *node {
	n := p.node(arrayNode)
	p.i++ // '['
	p.space()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		return n
	}
	first := len(p.items)
	defer func() { p.items = p.items[:first] }()
	for {
		p.space()
		v := p.value(depth + 1)
		if v == nil {
			return nil
		}
		p.items = append(p.items, v)
		if !p.next(']') {
			return nil
		}
		if p.data[p.i-1] == ']' {
			n.items = p.carveNodes(p.items[first:])
			return n
		}
	}
}

// next consumes the ',' or the closing delimiter after a member.
func (p *treeParser) next(closing byte) bool {
	p.space()
	if p.i < len(p.data) && (p.data[p.i] == ',' || p.data[p.i] == closing) {
		p.i++
		return true
	}
	p.fail()
	return false
}

// number consumes a number in JSON syntax and keeps it as written.
func (p *treeParser) number() *node {
	start := p.i
	digits := func() int {
		from := p.i
		for p.i < len(p.data) && '0' <= p.data[p.i] && p.data[p.i] <= '9' {
			p.i++
		}
		return p.i - from
	}
	if p.data[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.data) && p.data[p.i] == '0':
		p.i++
	case digits() == 0:
		return p.fail()
	}
	if p.i < len(p.data) && p.data[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return p.fail()
		}
	}
	if p.i < len(p.data) && (p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		p.i++
		if p.i < len(p.data) && (p.data[p.i] == '+' || p.data[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return p.fail()
		}
	}
	n := p.node(numberNode)
	n.text = p.text[start:p.i]
	return n
}

// str consumes a string and returns its value.
func (p *treeParser) str() (string, bool) {
	p.i++ // '"'
	start := p.i
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			s := p.text[start:p.i]
			p.i++
			return s, true
		case c == '\\' || c >= utf8.RuneSelf:
			return p.slowStr(start)
		case c < 0x20:
			p.fail()
			return "", false
		}
		p.i++
	}
	p.fail()
	return "", false
}

// slowStr finishes a string that holds escapes or non-ASCII bytes.
func (p *treeParser) slowStr(start int) (string, bool) {
	b := append(p.buf[:0], p.data[start:p.i]...)
	defer func() { p.buf = b[:0] }()
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			return string(b), true
		case c < 0x20:
			p.fail()
			return "", false
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(p.data[p.i:])
			if r == utf8.RuneError && size == 1 {
				p.err = &DecodeError{Reason: "invalid UTF-8 at byte " + strconv.Itoa(p.i)}
				return "", false
			}
			b = append(b, p.data[p.i:p.i+size]...)
			p.i += size
			continue
		case c != '\\':
			b = append(b, c)
			p.i++
			continue
		}
		p.i++ // '\\'
		if p.i >= len(p.data) {
			break
		}
		switch e := p.data[p.i]; e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := p.hex4(p.i + 1)
			if !ok {
				p.fail()
				return "", false
			}
			p.i += 4
			if utf16.IsSurrogate(r) {
				r2, ok := rune(-1), false
				if p.i+2 < len(p.data) && p.data[p.i+1] == '\\' && p.data[p.i+2] == 'u' {
					r2, ok = p.hex4(p.i + 3)
				}
				dec := utf16.DecodeRune(r, r2)
				if !ok || dec == utf8.RuneError {
					p.err = &DecodeError{Reason: "a lone surrogate escape at byte " + strconv.Itoa(p.i-5)}
					return "", false
				}
				r = dec
				p.i += 6
			}
			b = utf8.AppendRune(b, r)
		default:
			p.fail()
			return "", false
		}
		p.i++
	}
	p.fail()
	return "", false
}

// hex4 reads four hex digits at i.
func (p *treeParser) hex4(i int) (rune, bool) {
	var r rune
	for k := i; k < i+4; k++ {
		if k >= len(p.data) {
			p.i = len(p.data)
			return 0, false
		}
		c := p.data[k]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// clone returns a deep copy of n.
func (n *node) clone() *node {
	c := *n
	if n.items != nil {
		c.items = make([]*node, len(n.items))
		for i, item := range n.items {
			c.items[i] = item.clone()
		}
	}
	if n.keys != nil {
		c.keys = append([]string(nil), n.keys...)
		c.vals = make([]*node, len(n.vals))
		for i, v := range n.vals {
			c.vals[i] = v.clone()
		}
	}
	return &c
}

// appendJSON appends n as compact JSON.
func (n *node) appendJSON(b []byte) []byte {
	switch n.kind {
	case nullNode:
		return append(b, "null"...)
	case boolNode:
		return strconv.AppendBool(b, n.bool)
	case numberNode:
		return append(b, n.text...)
	case stringNode:
		return orderedjson.AppendString(b, n.text)
	case arrayNode:
		b = append(b, '[')
		for i, item := range n.items {
			if i > 0 {
				b = append(b, ',')
			}
			b = item.appendJSON(b)
		}
		return append(b, ']')
	default:
		b = append(b, '{')
		for i, key := range n.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = orderedjson.AppendString(b, key)
			b = append(b, ':')
			b = n.vals[i].appendJSON(b)
		}
		return append(b, '}')
	}
}
