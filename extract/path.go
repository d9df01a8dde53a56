package extract

import (
	"strconv"
	"strings"
)

// step is one level of the JSON path of the value being read: an object
// key, by its span in the input, or an array index.
type step struct {
	from, to int // the key's text; to < 0 for an index
	index    int
}

// enterKey descends into the value of the member whose key was just read.
func (p *parser) enterKey() {
	if p.emit {
		p.path = append(p.path, step{from: p.keySpan[0], to: p.keySpan[1]})
	}
}

// enterIndex descends into the element at index i.
func (p *parser) enterIndex(i int) {
	if p.emit {
		p.path = append(p.path, step{to: -1, index: i})
	}
}

// exitStep returns to the container.
func (p *parser) exitStep() {
	if p.emit {
		p.path = p.path[:len(p.path)-1]
	}
}

// maxPathKey bounds how much of a key a path quotes: it is model output.
const maxPathKey = 64

// pathString writes the current path: services[0].region, with keys that
// are not identifiers in brackets (["first name"]).
func (p *parser) pathString() string {
	if len(p.path) == 0 {
		return ""
	}
	var b strings.Builder
	for _, s := range p.path {
		if s.to < 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
			continue
		}
		key := p.src[s.from:s.to]
		if isIdentifier(key) {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(key)
			continue
		}
		if len(key) > maxPathKey {
			key = strings.ToValidUTF8(key[:maxPathKey], "") + "…"
		}
		b.WriteByte('[')
		b.WriteString(strconv.Quote(key))
		b.WriteByte(']')
	}
	return b.String()
}

// isIdentifier reports whether key can follow a '.' in a path.
func isIdentifier(key string) bool {
	if key == "" || len(key) > maxPathKey || !isIdentStart(key[0]) || key[0] == '$' {
		return false
	}
	for i := 1; i < len(key); i++ {
		if !isIdent(key[i]) || key[i] == '$' {
			return false
		}
	}
	return true
}
