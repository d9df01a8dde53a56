package extract

import "strings"

// quote is how a string is delimited.
type quote uint8

const (
	quoteDouble       quote = iota // "…"
	quoteSingle                    // '…'
	quoteSmartDouble               // “…”
	quoteSmartSingle               // ‘…’
	quoteTripleDouble              // """…"""
	quoteTripleSingle              // '''…'''
	quoteBackticks                 // `…`, ``…``, or a ``` code block: parser.ticks backticks
)

// The UTF-8 encodings of the typographic quotes are 0xE2 0x80 then one of:
const (
	smartLeftSingle  = 0x98 // ‘
	smartRightSingle = 0x99 // ’
	smartLeftDouble  = 0x9C // “
	smartRightDouble = 0x9D // ”
)

// key parses an object key at pos and keeps its text's span in p.key.
func (p *parser) key() bool {
	start := p.pos
	var ok bool
	switch c := p.src[start]; {
	case c == '"':
		p.inKey = true
		ok = p.str(quoteDouble)
	case c == '\'':
		p.inKey = true
		ok = p.str(quoteSingle)
	case p.smartOpen(start):
		p.inKey = true
		ok = p.smart()
	case isKeyStart(c):
		return p.bareKey()
	default:
		return p.fail(start, reasonKey)
	}
	p.inKey = false
	if ok && p.emit {
		open, closing := 1, 1
		if p.src[start] == 0xE2 {
			open, closing = 3, 3
		}
		p.keySpan = [2]int{start + open, max(start+open, p.pos-closing)}
	}
	return ok
}

// smartOpen reports whether an opening typographic quote starts at i.
func (p *parser) smartOpen(i int) bool {
	src := p.src
	return i+2 < len(src) && src[i] == 0xE2 && src[i+1] == 0x80 &&
		(src[i+2] == smartLeftDouble || src[i+2] == smartLeftSingle)
}

// smart parses a string delimited by typographic quotes at pos.
func (p *parser) smart() bool {
	i := p.pos
	q := quoteSmartDouble
	if p.src[i+2] == smartLeftSingle {
		q = quoteSmartSingle
	}
	if !p.repair(KindSmartQuotes, i, detailSmartQuotes, reasonSmart) {
		return false
	}
	p.splice(i, i+3, `"`)
	p.pos = i + 3
	return p.body(i, q)
}

// str parses a string at pos delimited by an ASCII quote.
func (p *parser) str(q quote) bool {
	start := p.pos
	if q == quoteSingle {
		if !p.repair(KindSingleQuotes, start, detailSingleQuotes, reasonSingle) {
			return false
		}
		p.splice(start, start+1, `"`)
	}
	p.pos++
	return p.body(start, q)
}

// triple parses a Python triple-quoted string at pos.
func (p *parser) triple(q quote) bool {
	start := p.pos
	if !p.repair(KindQuotedString, start, detailTripleQuotes, reasonQuoted) {
		return false
	}
	p.splice(start, start+3, `"`)
	p.pos = start + 3
	return p.body(start, q)
}

// backticks parses a string in backticks at pos: a code span (`…`,
// “…“) or a code block (```lang … ```), whose language tag and the
// newlines next to its fences are dropped.
func (p *parser) backticks() bool {
	src := p.src
	start := p.pos
	i := start
	for i < len(src) && src[i] == '`' {
		i++
	}
	p.ticks = i - start
	detail := detailBackticks
	if p.ticks >= 3 {
		detail = detailCodeBlock
		for k := 0; i < len(src) && k < maxTag && isTagByte(src[i]); k++ {
			i++
		}
		for i < len(src) && (src[i] == ' ' || src[i] == '\t') {
			i++
		}
		if strings.HasPrefix(src[i:], "\r\n") {
			i += 2
		} else if i < len(src) && src[i] == '\n' {
			i++
		}
	}
	if !p.repair(KindQuotedString, start, detail, reasonQuoted) {
		return false
	}
	p.splice(start, i, `"`)
	p.pos = i
	return p.body(start, quoteBackticks)
}

// stringSpecial marks the bytes the string loop must look at; the rest are
// copied as they are.
var stringSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'], t['\''], t['`'], t[0xE2] = true, true, true, true, true
	return t
}()

// body parses the rest of the string opened at start with q, from pos.
// Strings not delimited by '"' are rewritten to be. It is one loop over
// the bytes, on the extractor's hot path (BenchmarkJSON): each case of the
// switch is one character class, and every case reads and changes the
// loop's state (i, escaped, inner).
func (p *parser) body(start int, q quote) bool {
	src, i := p.src, p.pos
	p.inString = q == quoteDouble
	escaped := false // a raw newline or tab was escaped already
	inner := -1      // where the first quote inside was escaped
	for i < len(src) {
		c := src[i]
		if !stringSpecial[c] {
			i++
			continue
		}
		switch {
		case c == '"' && q == quoteDouble, c == '\'' && q == quoteSingle:
			if p.inKey || p.closes(i) {
				if q == quoteSingle {
					p.splice(i, i+1, `"`)
				}
				return p.endString(i+1, inner >= 0)
			}
			if !p.innerQuote(i, &inner) {
				return false
			}
			if q == quoteDouble {
				p.splice(i, i+1, `\"`)
			}
			i++
		case c == '"' && q == quoteTripleDouble && strings.HasPrefix(src[i:], `"""`),
			c == '\'' && q == quoteTripleSingle && strings.HasPrefix(src[i:], `'''`):
			p.splice(i, i+3, `"`)
			return p.endString(i+3, false)
		case c == '"':
			p.splice(i, i+1, `\"`)
			i++
		case c == '`' && q == quoteBackticks:
			j := i
			for j < len(src) && src[j] == '`' {
				j++
			}
			if n := j - i; n == p.ticks || p.ticks >= 3 && n > p.ticks {
				p.splice(i, j, `"`)
				return p.endString(j, false)
			}
			i = j
		case c == '\\':
			n, ok := p.escape(i, start, q)
			if !ok {
				p.pos = i
				return false
			}
			i += n
		case c < 0x20:
			if q == quoteBackticks && p.ticks >= 3 && (c == '\n' || c == '\r') {
				if end := p.fenceEnd(i); end > i {
					p.splice(i, end, `"`)
					return p.endString(end, false)
				}
			}
			n, ok := p.control(i, q, &escaped)
			if !ok {
				p.pos = i
				return false
			}
			i += n
		case c == 0xE2 && i+2 < len(src) && src[i+1] == 0x80 &&
			(q == quoteSmartDouble && src[i+2] == smartRightDouble ||
				q == quoteSmartSingle && src[i+2] == smartRightSingle):
			// ’ is also the typographic apostrophe: Don’t.
			if p.inKey || p.closes(i+2) {
				p.splice(i, i+3, `"`)
				return p.endString(i+3, inner >= 0)
			}
			if !p.innerQuote(i, &inner) {
				return false
			}
			i += 3
		default: // ', ` or 0xE2 starting some other character
			i++
		}
	}
	p.pos = i
	if inner >= 0 {
		// Either cut off, or a quote read as inside the string was its
		// end after all ({"a" 1}): not the text's end for certain.
		p.inString = false
		return p.fail(inner, reasonInnerEnd)
	}
	return p.truncated(start, reasonStringEnd)
}

// innerQuote records the quote at i as inside its string, keeping the
// offset of the first such quote in inner.
func (p *parser) innerQuote(i int, inner *int) bool {
	if !p.repair(KindInnerQuote, i, detailInnerQuote, reasonInnerQuote) {
		p.pos = i
		return false
	}
	if *inner < 0 {
		*inner = i
	}
	return true
}

// endString ends a string whose closing quote ends before next. A string
// that needed an inner quote escaped and whose closing quote is the last
// thing in the text may have been cut off after an inner quote, so it
// does not count as complete.
func (p *parser) endString(next int, inner bool) bool {
	p.pos, p.inString = next, false
	p.complete = !inner || p.skipSpace(next) < len(p.src)
	return true
}

// control handles the control character at i in a string: newlines,
// carriage returns and tabs are escaped (a repair in a plain string, part
// of the string's own repair in a code block or triple quotes); others
// fail. It returns how many bytes it consumed.
func (p *parser) control(i int, q quote, escaped *bool) (int, bool) {
	var with string
	switch p.src[i] {
	case '\n':
		with = `\n`
	case '\r':
		with = `\r`
	case '\t':
		with = `\t`
	default:
		return 0, p.fail(i, reasonControl)
	}
	switch {
	case q >= quoteTripleDouble:
	case !*escaped:
		if !p.repair(KindRawNewline, i, detailRawNewline, reasonRawNewline) {
			return 0, false
		}
		*escaped = true
	}
	p.splice(i, i+1, with)
	return 1, true
}

// fenceEnd returns the end of the closing fence that follows the line
// break at i, or i when no run of enough backticks starts the next line.
func (p *parser) fenceEnd(i int) int {
	src := p.src
	j := i + 1
	if src[i] == '\r' && j < len(src) && src[j] == '\n' {
		j++
	}
	for j < len(src) && (src[j] == ' ' || src[j] == '\t') {
		j++
	}
	k := j
	for k < len(src) && src[k] == '`' {
		k++
	}
	p.work += k - i
	if k-j < p.ticks {
		return i
	}
	return k
}

// closes reports whether the quote at i ends its string: what follows it
// on its line, after spaces, is , } ] ) : a comment, the end of the line or
// of the text, a closing fence, or another string that itself ends before
// one of those (a comma was missed between two strings). A quote followed
// by anything else is inside the string: "echo "done" > log".
func (p *parser) closes(i int) bool {
	src := p.src
	j := i + 1
	for j < len(src) && (src[j] == ' ' || src[j] == '\t') {
		j++
	}
	p.work += j - i - 1
	if j >= len(src) {
		return true
	}
	switch c := src[j]; c {
	case ',', '}', ']', ')', ':', '\n', '\r':
		return true
	case '/':
		end, _ := commentEnd(src, j)
		return end >= 0
	case '"', '\'':
		return p.stringAhead(j)
	}
	return p.fenced && strings.HasPrefix(src[j:], "```")
}

// stringAhead reports whether a string quoted with the quote at i ends on
// its line and is followed, after spaces, by , } ] ) : or a line end.
func (p *parser) stringAhead(i int) bool {
	src := p.src
	j, ok := lineStringEnd(src, i)
	defer func() { p.work += j - i }()
	if !ok {
		return false
	}
	for j < len(src) && (src[j] == ' ' || src[j] == '\t') {
		j++
	}
	if j >= len(src) {
		return true
	}
	switch src[j] {
	case ',', '}', ']', ')', ':', '\n', '\r':
		return true
	}
	return false
}

// lineStringEnd returns the end of the string quoted with the quote at i,
// and false when it does not close on its line.
func lineStringEnd(src string, i int) (int, bool) {
	q := src[i]
	j := i + 1
	for j < len(src) && src[j] != q && src[j] != '\n' {
		if src[j] == '\\' {
			j++
		}
		j++
	}
	if j >= len(src) || src[j] != q {
		return j, false
	}
	return j + 1, true
}

// escape checks the escape sequence at i, in the string opened at start,
// and returns its length. \' is valid only outside double-quoted strings,
// where it becomes a plain ', and \` only in backticks.
func (p *parser) escape(i, start int, q quote) (int, bool) {
	src := p.src
	if i+1 >= len(src) {
		return 0, p.truncated(start, reasonStringEnd)
	}
	switch src[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, true
	case 'u':
		for k := i + 2; k < i+6; k++ {
			if k >= len(src) {
				return 0, p.truncated(start, reasonStringEnd)
			}
			if !isHex(src[k]) {
				return 0, p.fail(i, reasonEscape)
			}
		}
		return 6, true
	case '\'':
		if q != quoteDouble {
			p.splice(i, i+2, "'")
			return 2, true
		}
	case '`':
		if q == quoteBackticks {
			p.splice(i, i+2, "`")
			return 2, true
		}
	}
	return 0, p.fail(i, reasonEscape)
}
