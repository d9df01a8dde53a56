package extract

import "strings"

// value parses a value at pos, which is before the end of the text. in is
// what holds it.
func (p *parser) value(in container) bool {
	p.complete = false
	if p.values++; p.values > p.maxValues && p.maxValues > 0 {
		p.err = Error{Err: ErrTooLarge, Offset: p.pos, Reason: reasonValues}
		return false
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array(inArray)
	case c == '(':
		return p.array(inTuple)
	case c == '"':
		if strings.HasPrefix(p.src[p.pos:], `"""`) {
			return p.triple(quoteTripleDouble)
		}
		return p.str(quoteDouble)
	case c == '\'':
		if strings.HasPrefix(p.src[p.pos:], `'''`) {
			return p.triple(quoteTripleSingle)
		}
		return p.str(quoteSingle)
	case c == '`':
		return p.backticks()
	case (c == ',' || c == '}') && in == inObject:
		return p.missingValue()
	case isDigit(c) || c == '-' || c == '+' || c == '.':
		return p.number(in)
	case p.smartOpen(p.pos):
		return p.smart()
	case isWordStart(c):
		return p.word(in)
	}
	return p.fail(p.pos, reasonValue)
}

// missingValue reads nothing between a member's ':' and the next ',' or
// '}' as null.
func (p *parser) missingValue() bool {
	if !p.repair(KindMissingValue, p.pos, detailMissingValue, reasonMissingValue) {
		return false
	}
	p.splice(p.pos, p.pos, "null")
	return true
}

// number parses the number at pos, repairing its spelling, or reads the
// word it starts as an unquoted value: 2024-05-01, 12.5%, 1815 in London.
// A number the text ends in is left for the caller to report: it may be
// cut off.
func (p *parser) number(in container) bool {
	start := p.pos
	n := scanNumber(p.src, start)
	if !n.ok || p.wordFollows(n.end) {
		return p.unquoted(start, in)
	}
	if n.fixed() && !p.respell(start, n) {
		return false
	}
	p.pos = n.end
	return true
}

// spelling is what scanNumber found.
type spelling struct {
	end                 int
	ok                  bool // a number, possibly misspelled
	plus, leadingDot    bool // +3, .5
	trailingDot, groups bool // 5., 1_000
}

func (n spelling) fixed() bool { return n.plus || n.leadingDot || n.trailingDot || n.groups }

// scanNumber reads a number at i by the JSON grammar widened to the
// spellings models use: a leading '+', a fraction without an integer part
// (.5), an integer part without a fraction (5.), and '_' between digits.
func scanNumber(src string, i int) spelling {
	var n spelling
	switch src[i] {
	case '-':
		i++
	case '+':
		n.plus = true
		i++
	}
	switch {
	case i >= len(src):
		return n
	case src[i] == '.':
		if i+1 >= len(src) || !isDigit(src[i+1]) {
			return n
		}
		n.leadingDot = true
		i, n.groups = groupedDigits(src, i+1, n.groups)
	case src[i] == '0':
		i++
	case isDigit(src[i]):
		i, n.groups = groupedDigits(src, i, n.groups)
	default:
		return n
	}
	if i < len(src) && src[i] == '.' && !n.leadingDot {
		if i+1 < len(src) && isDigit(src[i+1]) {
			i, n.groups = groupedDigits(src, i+1, n.groups)
		} else {
			n.trailingDot = true
			i++
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') && !n.trailingDot {
		j := i + 1
		if j < len(src) && (src[j] == '+' || src[j] == '-') {
			j++
		}
		if j >= len(src) || !isDigit(src[j]) {
			n.end = j
			return n // 1e, 1e+: cut off or a word
		}
		i = digits(src, j)
	}
	n.end, n.ok = i, true
	return n
}

// groupedDigits returns the end of the digits at i, which may be grouped
// by single '_' between digits, and whether any were.
func groupedDigits(src string, i int, groups bool) (int, bool) {
	for {
		i = digits(src, i)
		if i+1 < len(src) && src[i] == '_' && isDigit(src[i+1]) {
			groups = true
			i++
			continue
		}
		return i, groups
	}
}

// respell records the spelling repairs of the number at [start, n.end)
// and writes it the JSON way.
func (p *parser) respell(start int, n spelling) bool {
	fixes := [...]struct {
		on     bool
		detail string
	}{
		{n.plus, detailPlus},
		{n.leadingDot, detailLeadingDot},
		{n.groups, detailDigitGroups},
		{n.trailingDot, detailTrailingDot},
	}
	for _, f := range fixes {
		if f.on && !p.repair(KindNumberSpelling, start, f.detail, reasonSpelling) {
			return false
		}
	}
	for i := start; i < n.end; i++ {
		switch c := p.src[i]; {
		case c == '+' || c == '_':
			p.splice(i, i+1, "")
		case c == '.' && n.leadingDot:
			p.splice(i, i, "0")
		case c == '.' && n.trailingDot:
			p.splice(i, i+1, "")
		}
	}
	return true
}

// word parses the word at pos: true, false or null; True, False, None or
// undefined, repaired; anything else is an unquoted value.
func (p *parser) word(in container) bool {
	start := p.pos
	end := start
	for end < len(p.src) && isIdent(p.src[end]) {
		end++
	}
	var with, detail string
	switch p.src[start:end] {
	case "true", "false", "null":
	case "True":
		with, detail = "true", detailTrue
	case "False":
		with, detail = "false", detailFalse
	case "None":
		with, detail = "null", detailNone
	case "undefined":
		with, detail = "null", detailUndefined
	default:
		return p.unquoted(start, in)
	}
	if p.wordFollows(end) {
		return p.unquoted(start, in)
	}
	if with != "" {
		if !p.repair(KindPythonLiteral, start, detail, reasonPython) {
			return false
		}
		p.splice(start, end, with)
	}
	p.pos = end
	return true
}

// wordFollows reports whether the number or literal ending at i is only
// the start of a longer unquoted value: it is glued to more text (12.5%,
// 2024-05-01), or followed on its line by a word that is not a key.
// Another value after spaces is a missing comma instead ([1 2 3]).
func (p *parser) wordFollows(i int) bool {
	src := p.src
	if i >= len(src) {
		return false
	}
	if c := src[i]; c != ' ' && c != '\t' {
		return !ends(src, i)
	}
	j := i
	for j < len(src) && (src[j] == ' ' || src[j] == '\t') {
		j++
	}
	p.work += j - i
	switch {
	case j >= len(src) || ends(src, j):
		return false
	case startsStructure(src[j]):
		return false // a missing comma
	case isIdentStart(src[j]) && p.keyAhead(j):
		return false // a key after a missing comma
	}
	return true
}

// ends reports whether src[i] ends a number or literal: a delimiter, a
// line end, a quote (a missing comma) or a comment.
func ends(src string, i int) bool {
	switch src[i] {
	case ',', '}', ']', ')', '\n', '\r', '"', '\'':
		return true
	case '/':
		end, _ := commentEnd(src, i)
		return end >= 0
	}
	return false
}

// startsStructure reports whether c starts a value that cannot continue
// an unquoted one: a string, object, array or number.
func startsStructure(c byte) bool {
	return c == '"' || c == '\'' || c == '{' || c == '[' || c == '-' || c == '+' || isDigit(c)
}

// unquoted reads the value at start, written without quotes, as a string.
// It runs to the next ',', '}', ']' or line end outside the brackets it
// opens itself, or to a comment, without the spaces before it; a scalar
// answer (Scalar) runs to the end of its line. It is refused in a tuple, when it holds ": " (which may start a key that lost
// its comma), when its brackets do not balance, and when it is NaN or
// Infinity, which have no JSON meaning; it is cut off when the text ends in
// it.
func (p *parser) unquoted(start int, in container) bool {
	if in == inTuple {
		return p.fail(start, reasonTupleWord)
	}
	src := p.src
	depth := 0
	i := start
	if in == inNothing { // a scalar answer: one line of words, commas and colons included
		for i < len(src) && src[i] != '\n' && src[i] != '\r' {
			i++
		}
	}
scan:
	for ; i < len(src); i++ {
		if !unquotedSpecial[src[i]] {
			continue
		}
		switch c := src[i]; {
		case c == '\n' || c == '\r':
			break scan
		case c == ',' || c == '}' || c == ']':
			if depth == 0 {
				break scan
			}
			if c != ',' {
				depth--
			}
		case c == '{' || c == '[' || c == '(':
			depth++
		case c == ')':
			if depth > 0 {
				depth--
			}
		case c == ':':
			if i+1 >= len(src) {
				continue
			}
			if next := src[i+1]; next == ' ' || next == '\t' || next == '\n' || next == '\r' {
				return p.fail(i, reasonAmbiguous)
			}
		case c == '/':
			if i > start && (src[i-1] == ' ' || src[i-1] == '\t') && i+1 < len(src) && (src[i+1] == '/' || src[i+1] == '*') {
				break scan
			}
		case c < 0x20 && c != '\t':
			return p.fail(i, reasonControl)
		}
	}
	if i >= len(src) && !p.final {
		return p.truncated(start, reasonValueEnd)
	}
	if depth != 0 {
		return p.fail(i, reasonUnbalanced)
	}
	end := i
	for end > start && (src[end-1] == ' ' || src[end-1] == '\t') {
		end--
	}
	switch src[start:end] {
	case "NaN", "Infinity", "-Infinity", "+Infinity":
		return p.fail(start, reasonNumber)
	}
	if !p.repair(KindUnquotedValue, start, detailUnquotedValue, reasonUnquotedValue) {
		return false
	}
	if in == inArray && p.depth == 1 {
		p.bare = true
	}
	p.quoteRaw(start, end)
	p.pos = end
	return true
}

// unquotedSpecial marks the bytes the unquoted-value scan must look at.
var unquotedSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	for _, c := range "\n\r,}]{[():/" {
		t[c] = true
	}
	return t
}()

// quoteRaw writes src[start:end], text without quotes, as a JSON string.
func (p *parser) quoteRaw(start, end int) {
	p.splice(start, start, `"`)
	if !strings.ContainsAny(p.src[start:end], "\"\\\t") {
		p.splice(end, end, `"`)
		return
	}
	for j := start; j < end; j++ {
		switch p.src[j] {
		case '"':
			p.splice(j, j+1, `\"`)
		case '\\':
			p.splice(j, j+1, `\\`)
		case '\t':
			p.splice(j, j+1, `\t`)
		}
	}
	p.splice(end, end, `"`)
}

// bareKey reads the key at pos, written without quotes: it runs to the
// ':' on its line, without the spaces before it, and may hold spaces
// itself (first name: "Ada").
func (p *parser) bareKey() bool {
	src := p.src
	start := p.pos
	i := start
	for ; i < len(src) && src[i] != ':'; i++ {
		switch c := src[i]; {
		case c == '"' || c == '\'' || c == '{' || c == '}' || c == '[' || c == ']' || c == ',' ||
			c == '\n' || c == '\r' || c < 0x20 && c != '\t':
			return p.fail(start, reasonKey)
		}
	}
	if i >= len(src) {
		return p.truncated(start, reasonObjectEnd)
	}
	end := i
	for end > start && (src[end-1] == ' ' || src[end-1] == '\t') {
		end--
	}
	if !p.repair(KindUnquotedKey, start, detailUnquotedKey, reasonUnquoted) {
		return false
	}
	p.quoteRaw(start, end)
	p.keySpan = [2]int{start, end}
	p.pos = end
	return true
}

// isWordStart reports whether c may start an unquoted value: anything
// printable that is not JSON punctuation or a quote.
func isWordStart(c byte) bool {
	switch c {
	case '{', '}', '[', ']', '(', ')', ',', ':', '"', '\'', '`', '\\':
		return false
	}
	return c > ' ' && c != 0x7f
}

// isKeyStart reports whether c may start a key written without quotes.
func isKeyStart(c byte) bool {
	return isIdentStart(c) || isDigit(c) || c >= 0x80
}
