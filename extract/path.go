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

// notePath keeps the current path for the repair just recorded: written
// into one arena, shared with the repair before when it is the same path.
func (p *parser) notePath() {
	if n := len(p.pathSpans); n > 0 {
		if last := p.pathSpans[n-1]; string(p.pathArena[last[0]:last[1]]) == string(p.pathBuf) {
			p.pathSpans = append(p.pathSpans, last)
			return
		}
	}
	start := len(p.pathArena)
	p.pathArena = append(p.pathArena, p.pathBuf...)
	p.pathSpans = append(p.pathSpans, [2]int{start, len(p.pathArena)})
}

// setPaths gives the repairs this parser recorded, the last
// len(pathSpans) of repairs, their paths: services[0].region, with keys
// that are not identifiers in brackets (["first name"]). They share one
// string.
func (p *parser) setPaths() {
	arena := string(p.pathArena)
	recorded := p.repairs[len(p.repairs)-len(p.pathSpans):]
	for i, span := range p.pathSpans {
		recorded[i].Path = arena[span[0]:span[1]]
	}
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
