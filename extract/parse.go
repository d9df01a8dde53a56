package extract

import "strings"

// parser reads one object or array of the input as strict JSON. Only at a
// byte where strict JSON fails does it try one of the bounded repairs, so a
// valid object is never changed.
//
// A region is parsed once without output, which allocates nothing and
// counts the repairs and how much the output grows. Only a candidate that
// is kept and needs repairs is parsed again with emit set, into buffers of
// exactly the right size: out gets src[last:from] copied up to where each
// change starts, then the replacement, and last moves past the bytes it
// replaces.
type parser struct {
	src      string
	pos      int
	noRepair bool
	emit     bool // build out and repairs
	out      []byte
	last     int
	repairs  []Repair
	nrepairs int  // repairs made
	grow     int  // bytes the output is longer than the input region
	changed  bool // the output differs from the input region
	depth    int  // open objects and arrays
	nested   bool // an object or array was opened inside the region
	inString bool // the error is inside a double-quoted string
	err      Error
	work     int // bytes examined ahead of pos by peek, which are read again
}

// quote is how a string is delimited.
type quote uint8

const (
	quoteDouble      quote = iota // "…"
	quoteSingle                   // '…'
	quoteSmartDouble              // “…”
	quoteSmartSingle              // ‘…’
)

// The UTF-8 encodings of the typographic quotes are 0xE2 0x80 then one of:
const (
	smartLeftSingle  = 0x98 // ‘
	smartRightSingle = 0x99 // ’
	smartLeftDouble  = 0x9C // “
	smartRightDouble = 0x9D // ”
)

// Reasons for ErrMalformed and ErrTruncated.
const (
	reasonObjectEnd   = "text ends inside object"
	reasonArrayEnd    = "text ends inside array"
	reasonStringEnd   = "text ends inside string"
	reasonDepth       = "objects and arrays nested deeper than 128"
	reasonKey         = "expected object key"
	reasonColon       = "expected ':' after object key"
	reasonAfterMember = "expected ',' or '}' after object member"
	reasonAfterElem   = "expected ',' or ']' after array element"
	reasonValue       = "expected value"
	reasonNumber      = "invalid number"
	reasonLiteral     = "invalid literal"
	reasonEscape      = "invalid escape in string"
	reasonControl     = "control character in string"
	reasonComma       = "trailing comma (repairs off)"
	reasonComment     = "comment (repairs off)"
	reasonSingle      = "single-quoted string (repairs off)"
	reasonSmart       = "typographic quotes (repairs off)"
	reasonUnquoted    = "unquoted object key (repairs off)"
	reasonPython      = "Python literal (repairs off)"
	reasonRawNewline  = "raw newline or tab in string (repairs off)"
)

// fail records a malformed region at off and returns false.
func (p *parser) fail(off int, reason string) bool {
	p.err = Error{Err: ErrMalformed, Offset: off, Reason: reason}
	return false
}

// truncated records that the text ends inside the construct at off and
// returns false.
func (p *parser) truncated(off int, reason string) bool {
	p.err = Error{Err: ErrTruncated, Offset: off, Reason: reason}
	return false
}

// repair records a repair of kind at off, or fails with reasonOff when
// repairs are off.
func (p *parser) repair(kind string, off int, detail, reasonOff string) bool {
	if p.noRepair {
		return p.fail(off, reasonOff)
	}
	p.nrepairs++
	if p.emit {
		p.repairs = append(p.repairs, Repair{Kind: kind, Offset: off, Detail: detail})
	}
	return true
}

// splice replaces src[from:to] with s in the output.
func (p *parser) splice(from, to int, s string) {
	p.changed = true
	p.grow += len(s) - (to - from)
	if !p.emit {
		return
	}
	p.out = append(p.out, p.src[p.last:from]...)
	p.out = append(p.out, s...)
	p.last = to
}

// enter opens an object or array.
func (p *parser) enter() bool {
	if p.depth >= MaxDepth {
		return p.fail(p.pos, reasonDepth)
	}
	p.depth++
	p.nested = p.nested || p.depth > 1
	p.pos++
	return true
}

// object parses the object at pos.
func (p *parser) object() bool {
	start := p.pos
	if !p.enter() {
		return false
	}
	for first := true; ; first = false {
		if !p.space() {
			return false
		}
		if p.pos >= len(p.src) {
			return p.truncated(start, reasonObjectEnd)
		}
		if first && p.src[p.pos] == '}' {
			break
		}
		if !p.key() || !p.space() {
			return false
		}
		if p.pos >= len(p.src) {
			return p.truncated(start, reasonObjectEnd)
		}
		if p.src[p.pos] != ':' {
			return p.fail(p.pos, reasonColon)
		}
		p.pos++
		if !p.space() {
			return false
		}
		if p.pos >= len(p.src) {
			return p.truncated(start, reasonObjectEnd)
		}
		if !p.value() || !p.space() {
			return false
		}
		if p.pos >= len(p.src) {
			return p.truncated(start, reasonObjectEnd)
		}
		if c := p.src[p.pos]; c == '}' {
			break
		} else if c != ',' {
			return p.fail(p.pos, reasonAfterMember)
		}
		if done, ok := p.comma(start, '}'); !ok {
			return false
		} else if done {
			break
		}
	}
	p.pos++
	p.depth--
	return true
}

// array parses the array at pos.
func (p *parser) array() bool {
	start := p.pos
	if !p.enter() {
		return false
	}
	for first := true; ; first = false {
		if !p.space() {
			return false
		}
		if p.pos >= len(p.src) {
			return p.truncated(start, reasonArrayEnd)
		}
		if first && p.src[p.pos] == ']' {
			break
		}
		if !p.value() || !p.space() {
			return false
		}
		if p.pos >= len(p.src) {
			return p.truncated(start, reasonArrayEnd)
		}
		if c := p.src[p.pos]; c == ']' {
			break
		} else if c != ',' {
			return p.fail(p.pos, reasonAfterElem)
		}
		if done, ok := p.comma(start, ']'); !ok {
			return false
		} else if done {
			break
		}
	}
	p.pos++
	p.depth--
	return true
}

// comma consumes the ',' at pos in the object or array opened at start,
// whose closing byte is closer. If the next significant byte is closer, the
// comma is a trailing one: it is removed, pos moves to closer and done is
// true. ok is false when the region fails.
func (p *parser) comma(start int, closer byte) (done, ok bool) {
	at := p.pos
	p.pos++
	next := p.peek()
	switch {
	case next < len(p.src) && p.src[next] != closer:
		return false, true
	case next < len(p.src):
	case closer == '}':
		return false, p.truncated(start, reasonObjectEnd)
	default:
		return false, p.truncated(start, reasonArrayEnd)
	}
	detail := detailCommaArray
	if closer == '}' {
		detail = detailCommaObject
	}
	if !p.repair(KindTrailingComma, at, detail, reasonComma) {
		return false, false
	}
	p.splice(at, at+1, "")
	return true, p.space()
}

// key parses an object key at pos.
func (p *parser) key() bool {
	switch c := p.src[p.pos]; {
	case c == '"':
		return p.str(quoteDouble)
	case c == '\'':
		return p.str(quoteSingle)
	case c == 0xE2:
		return p.smart(reasonKey)
	case isIdentStart(c):
		start := p.pos
		end := p.identEnd()
		if !p.repair(KindUnquotedKey, start, detailUnquotedKey, reasonUnquoted) {
			return false
		}
		p.splice(start, start, `"`)
		p.splice(end, end, `"`)
		p.pos = end
		return true
	}
	return p.fail(p.pos, reasonKey)
}

// value parses a value at pos, which is before the end of the text.
func (p *parser) value() bool {
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		return p.str(quoteDouble)
	case c == '\'':
		return p.str(quoteSingle)
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	case isIdentStart(c):
		return p.literal()
	case c == 0xE2:
		return p.smart(reasonValue)
	}
	return p.fail(p.pos, reasonValue)
}

// literal parses true, false or null, or repairs a Python literal. A word
// cut off by the end of the text is left for the caller to report.
func (p *parser) literal() bool {
	start := p.pos
	end := p.identEnd()
	p.pos = end
	if end >= len(p.src) {
		return true
	}
	var with, detail string
	switch p.src[start:end] {
	case "true", "false", "null":
		return true
	case "True":
		with, detail = "true", detailTrue
	case "False":
		with, detail = "false", detailFalse
	case "None":
		with, detail = "null", detailNone
	default:
		return p.fail(start, reasonLiteral)
	}
	if !p.repair(KindPythonLiteral, start, detail, reasonPython) {
		return false
	}
	p.splice(start, end, with)
	return true
}

// number parses a number by the strict JSON grammar. A number cut off by
// the end of the text is left for the caller to report.
func (p *parser) number() bool {
	end, bad := numberEnd(p.src, p.pos)
	if bad >= 0 {
		p.pos = bad
		return p.fail(bad, reasonNumber)
	}
	p.pos = end
	return true
}

// numberEnd returns the end of the number at i, or the offset of the byte
// that makes it invalid as bad (else -1). A number the text ends in runs
// to len(src).
func numberEnd(src string, i int) (end, bad int) {
	if src[i] == '-' {
		i++
	}
	if i >= len(src) {
		return i, -1
	}
	switch c := src[i]; {
	case c == '0':
		i++
	case '1' <= c && c <= '9':
		i = digits(src, i)
	default:
		return i, i
	}
	if i < len(src) && src[i] == '.' {
		if i = digits(src, i+1); i < len(src) && !isDigit(src[i-1]) {
			return i, i
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		if i < len(src) && !isDigit(src[i]) {
			return i, i
		}
		i = digits(src, i)
	}
	return i, -1
}

// smart parses a string delimited by typographic quotes at pos, whose
// first byte is 0xE2; anything else starting with 0xE2 fails with reason.
func (p *parser) smart(reason string) bool {
	i, src := p.pos, p.src
	if len(src)-i < 3 {
		// Possibly a quote cut in the middle of its encoding.
		p.pos = len(src)
		return true
	}
	var q quote
	switch {
	case src[i+1] == 0x80 && src[i+2] == smartLeftDouble:
		q = quoteSmartDouble
	case src[i+1] == 0x80 && src[i+2] == smartLeftSingle:
		q = quoteSmartSingle
	default:
		return p.fail(i, reason)
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

// stringSpecial marks the bytes the string loop must look at; the rest are
// copied as they are.
var stringSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'], t['\''], t[0xE2] = true, true, true, true
	return t
}()

// body parses the rest of the string opened at start with q, from pos.
// Strings not delimited by '"' are rewritten to be.
func (p *parser) body(start int, q quote) bool {
	src, i := p.src, p.pos
	p.inString = q == quoteDouble
	escaped := false // a raw newline or tab was escaped already
	for i < len(src) {
		c := src[i]
		if !stringSpecial[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			if q == quoteDouble {
				i++
				p.pos, p.inString = i, false
				return true
			}
			p.splice(i, i+1, `\"`)
			i++
		case c == '\'':
			if q == quoteSingle {
				p.splice(i, i+1, `"`)
				i++
				p.pos = i
				return true
			}
			i++
		case c == '\\':
			n, ok := p.escape(i, start, q)
			if !ok {
				p.pos = i
				return false
			}
			i += n
		case c < 0x20:
			var with string
			switch c {
			case '\n':
				with = `\n`
			case '\r':
				with = `\r`
			case '\t':
				with = `\t`
			default:
				p.pos = i
				return p.fail(i, reasonControl)
			}
			if !escaped && !p.repair(KindRawNewline, i, detailRawNewline, reasonRawNewline) {
				p.pos = i
				return false
			}
			escaped = true
			p.splice(i, i+1, with)
			i++
		case i+2 < len(src) && src[i+1] == 0x80 &&
			(q == quoteSmartDouble && src[i+2] == smartRightDouble ||
				q == quoteSmartSingle && src[i+2] == smartRightSingle):
			p.splice(i, i+3, `"`)
			i += 3
			p.pos = i
			return true
		default: // 0xE2 starting some other character
			i++
		}
	}
	p.pos = i
	return p.truncated(start, reasonStringEnd)
}

// escape checks the escape sequence at i, in the string opened at start,
// and returns its length. \' is valid only outside double-quoted strings,
// where it becomes a plain '.
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
	}
	return 0, p.fail(i, reasonEscape)
}

// space skips whitespace and comments, replacing each comment by a space.
// A comment the text ends in, or a lone '/' at its end, leaves pos at the
// end for the caller to report truncation.
func (p *parser) space() bool {
	src, i := p.src, p.pos
loop:
	for i < len(src) {
		switch src[i] {
		case ' ', '\t', '\n', '\r':
			i++
		case '/':
			end, detail := commentEnd(src, i)
			if end < 0 {
				break loop
			}
			if end >= len(src) {
				i = len(src)
				break loop
			}
			if !p.repair(KindComment, i, detail, reasonComment) {
				p.pos = i
				return false
			}
			p.splice(i, end, " ")
			i = end
		default:
			break loop
		}
	}
	p.pos = i
	return true
}

// peek returns the offset of the next byte after pos that is neither
// whitespace nor part of a comment, or len(p.src), without consuming
// anything. With repairs off it stops at comments, which then fail.
func (p *parser) peek() int {
	src, i := p.src, p.pos
	defer func() { p.work += i - p.pos }()
	for i < len(src) {
		switch src[i] {
		case ' ', '\t', '\n', '\r':
			i++
			continue
		case '/':
			if p.noRepair {
				return i
			}
			end, _ := commentEnd(src, i)
			if end < 0 {
				return i
			}
			if end >= len(src) {
				i = len(src)
				return i
			}
			i = end
			continue
		}
		return i
	}
	return i
}

// commentEnd returns the end of the comment at i, which holds a '/', and
// its detail. The end is len(src) when the text ends inside the comment,
// or -1 when the '/' does not start one.
func commentEnd(src string, i int) (int, string) {
	if i+1 >= len(src) {
		return len(src), ""
	}
	switch src[i+1] {
	case '/':
		if j := strings.IndexByte(src[i+2:], '\n'); j >= 0 {
			return i + 2 + j, detailLineComment
		}
		return len(src), detailLineComment
	case '*':
		if j := strings.Index(src[i+2:], "*/"); j >= 0 {
			return i + 2 + j + 2, detailBlockComment
		}
		return len(src), detailBlockComment
	}
	return -1, ""
}

// identEnd returns the end of the identifier at pos.
func (p *parser) identEnd() int {
	i := p.pos
	for i < len(p.src) && isIdent(p.src[i]) {
		i++
	}
	return i
}

func digits(src string, i int) int {
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isIdentStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '$'
}

func isIdent(c byte) bool { return isIdentStart(c) || isDigit(c) }
