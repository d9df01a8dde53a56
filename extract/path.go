package extract

import (
	"strconv"
	"strings"
)

// The path of the value being read is kept written out in parser.pathBuf,
// with the length it had before each step in parser.path, so that a
// repair copies it rather than writes it.

// enterKey descends into the value of the member whose key was just read.
func (p *parser) enterKey() {
	if !p.emit {
		return
	}
	p.path = append(p.path, len(p.pathBuf))
	key := p.src[p.keySpan[0]:p.keySpan[1]]
	if isIdentifier(key) {
		if len(p.pathBuf) > 0 {
			p.pathBuf = append(p.pathBuf, '.')
		}
		p.pathBuf = append(p.pathBuf, key...)
		return
	}
	if len(key) > maxPathKey {
		key = strings.ToValidUTF8(key[:maxPathKey], "") + "…"
	}
	p.pathBuf = append(p.pathBuf, '[')
	p.pathBuf = strconv.AppendQuote(p.pathBuf, key)
	p.pathBuf = append(p.pathBuf, ']')
}

// enterIndex descends into the element at index i.
func (p *parser) enterIndex(i int) {
	if !p.emit {
		return
	}
	p.path = append(p.path, len(p.pathBuf))
	p.pathBuf = append(p.pathBuf, '[')
	p.pathBuf = strconv.AppendInt(p.pathBuf, int64(i), 10)
	p.pathBuf = append(p.pathBuf, ']')
}

// exitStep returns to the container.
func (p *parser) exitStep() {
	if p.emit {
		p.pathBuf = p.pathBuf[:p.path[len(p.path)-1]]
		p.path = p.path[:len(p.path)-1]
	}
}

// maxPathKey bounds how much of a key a path quotes: it is model output.
const maxPathKey = 64

// pathString returns the current path: services[0].region, with keys that
// are not identifiers in brackets (["first name"]). Consecutive repairs at
// one path share one string.
func (p *parser) pathString() string {
	if string(p.pathBuf) != p.lastPath {
		p.lastPath = string(p.pathBuf)
	}
	return p.lastPath
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
