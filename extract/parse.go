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
	// maxRepairs bounds the repairs in the region (see repairBound);
	// maxValues the values, of which it has read values.
	maxRepairs        int
	maxValues, values int
	fenced            bool // the region is in a markdown fence, whose closing line ends it like the end of the text
	emit              bool // build out, repairs and path
	out               []byte
	last              int
	repairs           []Repair
	nrepairs          int  // repairs made
	grow              int  // bytes the output is longer than the input region
	changed           bool // the output differs from the input region
	depth             int  // open objects and arrays
	nested            bool // an object or array was opened inside the region
	inString          bool // the error is inside a double-quoted string
	// complete is set when the value just read ends in a delimiter of its
	// own: a '"' that certainly closes its string, '}' or ']'. Only after
	// such a value may brackets left open at the end be closed.
	complete bool
	closed   bool   // KindUnclosed was recorded
	cutOff   bool   // a comment runs to the end of the text
	bare     bool   // an unquoted value is an element of the region's own array
	keySpan  [2]int // the span of the text of the last key read, when emit is set
	ticks    int    // how many backticks opened the string being read
	inKey    bool   // the string being read is a key, which the first quote ends
	final    bool   // the text's end is the value's end, not a cut (Scalar)
	err      Error
	work     int // bytes examined ahead of pos by lookahead, which are read again
	// path and pathBuf say where pos is, and pathArena and pathSpans hold
	// the paths of the repairs made; all are kept only when emit is set
	// (see path.go).
	path      []int
	pathBuf   []byte
	pathArena []byte
	pathSpans [][2]int
}

// container is what holds the value being read.
type container uint8

const (
	inObject container = iota
	inArray
	inTuple
	inNothing // a top-level scalar
)

// Reasons for ErrMalformed and ErrTruncated.
const (
	reasonObjectEnd     = "text ends inside object"
	reasonArrayEnd      = "text ends inside array"
	reasonStringEnd     = "text ends inside string"
	reasonValueEnd      = "text ends inside value"
	reasonDepth         = "objects and arrays nested deeper than 128"
	reasonKey           = "expected object key"
	reasonColon         = "expected ':' after object key"
	reasonAfterMember   = "expected ',' or '}' after object member"
	reasonAfterElem     = "expected ',' or ']' after array element"
	reasonAfterTuple    = "expected ',' or ')' after tuple element"
	reasonValue         = "expected value"
	reasonNumber        = "invalid number"
	reasonEscape        = "invalid escape in string"
	reasonControl       = "control character in string"
	reasonAmbiguous     = "unquoted value holds \": \", which may start a key"
	reasonUnbalanced    = "unquoted value with unbalanced brackets"
	reasonTupleWord     = "unquoted value in a tuple"
	reasonMismatch      = "closing bracket that does not match"
	reasonInnerEnd      = "a quote read as inside a string leaves it open to the end of the text"
	reasonTooMany       = "more repairs than one per 16 bytes of text: not JSON with slips"
	reasonValues        = "more values than MaxValues"
	reasonComma         = "trailing comma (repairs off)"
	reasonComment       = "comment (repairs off)"
	reasonSingle        = "single-quoted string (repairs off)"
	reasonSmart         = "typographic quotes (repairs off)"
	reasonUnquoted      = "unquoted object key (repairs off)"
	reasonPython        = "Python literal (repairs off)"
	reasonRawNewline    = "raw newline or tab in string (repairs off)"
	reasonInnerQuote    = "quote inside a string (repairs off)"
	reasonUnquotedValue = "unquoted value (repairs off)"
	reasonMissingComma  = "missing comma (repairs off)"
	reasonSpelling      = "number spelling (repairs off)"
	reasonQuoted        = "backticks or triple quotes (repairs off)"
	reasonEarlyClose    = "'}' before more members (repairs off)"
	reasonStray         = "stray closing bracket (repairs off)"
	reasonMissingValue  = "missing value (repairs off)"
	reasonTuple         = "tuple (repairs off)"
	reasonUnclosed      = "unclosed object or array (repairs off)"
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
	switch {
	case p.noRepair:
		return p.fail(off, reasonOff)
	case p.nrepairs >= p.maxRepairs:
		return p.fail(off, reasonTooMany)
	}
	p.nrepairs++
	if p.emit {
		p.repairs = append(p.repairs, Repair{Kind: kind, Offset: off, Detail: detail})
		p.notePath()
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

// leave closes the object or array whose closer is at pos.
func (p *parser) leave() {
	p.pos++
	p.depth--
	p.complete = true
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
			p.leave()
			return p.dropStrayAfter()
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
		p.enterKey()
		ok := p.value(inObject)
		p.exitStep()
		if !ok || !p.space() {
			return false
		}
		done, ok := p.next(start, inObject)
		if !ok {
			return false
		}
		if done && !p.earlyClose() {
			return p.err.Err == nil
		}
	}
}

// array parses the array at pos, or the tuple when in is inTuple.
func (p *parser) array(in container) bool {
	start := p.pos
	if in == inTuple && !p.repair(KindTuple, start, detailTuple, reasonTuple) {
		return false
	}
	if !p.enter() {
		return false
	}
	if in == inTuple {
		p.splice(start, start+1, "[")
	}
	closer := closerOf(in)
	for i := 0; ; i++ {
		if !p.space() {
			return false
		}
		if p.pos >= len(p.src) {
			return p.truncated(start, reasonArrayEnd)
		}
		if i == 0 && p.src[p.pos] == closer {
			p.closeWith(in)
			return p.dropStrayAfter()
		}
		p.enterIndex(i)
		ok := p.value(in)
		p.exitStep()
		if !ok || !p.space() {
			return false
		}
		done, ok := p.next(start, in)
		if !ok {
			return false
		}
		if done {
			return p.dropStrayAfter()
		}
	}
}

// closeWith consumes the closer at pos of the array or tuple.
func (p *parser) closeWith(in container) {
	if in == inTuple {
		p.splice(p.pos, p.pos+1, "]")
	}
	p.leave()
}

func closerOf(in container) byte {
	switch in {
	case inObject:
		return '}'
	case inTuple:
		return ')'
	}
	return ']'
}

// next reads what follows a member or element of the container opened at
// start, with pos past the whitespace after it: the closer (done), a comma
// (not done), or what a repair can make of something else. ok is false when
// the region fails.
func (p *parser) next(start int, in container) (done, ok bool) {
	closer := closerOf(in)
	for {
		if p.atEnd() {
			return p.closeAtEnd(start, in)
		}
		c := p.src[p.pos]
		switch {
		case c == closer:
			p.closeWith(in)
			return true, true
		case c == ',':
			done, ok := p.comma(start, in)
			if done && ok {
				p.closeWith(in)
			}
			return done, ok
		case isCloser(c):
			if !p.stray(closer) {
				return false, false
			}
			continue
		case p.startsItem(c, in):
			if !p.repair(KindMissingComma, p.pos, detailMissingComma, reasonMissingComma) {
				return false, false
			}
			p.splice(p.pos, p.pos, ",")
			return false, true
		}
		return false, p.fail(p.pos, afterReason(in))
	}
}

func afterReason(in container) string {
	switch in {
	case inObject:
		return reasonAfterMember
	case inTuple:
		return reasonAfterTuple
	}
	return reasonAfterElem
}

func isCloser(c byte) bool { return c == '}' || c == ']' || c == ')' }

// startsItem reports whether c, after a member or element and whitespace,
// starts another one: a key in an object, a value in an array. A tuple
// takes no missing commas: (1 2) is not Python.
func (p *parser) startsItem(c byte, in container) bool {
	switch in {
	case inObject:
		return c == '"' || c == '\'' || p.smartOpen(p.pos) || isIdentStart(c)
	case inArray:
		return c == '"' || c == '\'' || c == '{' || c == '[' || c == '(' || c == '`' ||
			isDigit(c) || c == '-' || c == '+' || c == '.' || isIdentStart(c) || c >= 0x80
	}
	return false
}

// atEnd reports whether pos is where the text, or the fence the region is
// in, ends.
func (p *parser) atEnd() bool {
	return p.pos >= len(p.src) || p.fenced && strings.HasPrefix(p.src[p.pos:], "```")
}

// closeAtEnd handles the end of the text (or of the fence) after a member
// or element of the container opened at start: the brackets left open are
// closed when the value before ends in its own delimiter, and the text is
// cut off otherwise.
func (p *parser) closeAtEnd(start int, in container) (done, ok bool) {
	reason := reasonObjectEnd
	if in != inObject {
		reason = reasonArrayEnd
	}
	switch {
	case !p.complete || p.cutOff:
		if p.pos >= len(p.src) {
			return false, p.truncated(start, reason)
		}
		return false, p.fail(p.pos, afterReason(in))
	case !p.closed:
		if !p.repair(KindUnclosed, p.pos, detailUnclosed, reasonUnclosed) {
			if p.pos >= len(p.src) {
				return false, p.truncated(start, reason)
			}
			return false, false
		}
		p.closed = true
	}
	closer := "]"
	if in == inObject {
		closer = "}"
	}
	p.splice(p.pos, p.pos, closer)
	p.depth--
	p.complete = true
	return true, true
}

// comma consumes the ',' at pos in the container opened at start. If the
// next significant byte is the closer, the comma is a trailing one: it is
// removed, pos moves to the closer and done is true. ok is false when the
// region fails.
func (p *parser) comma(start int, in container) (done, ok bool) {
	closer := closerOf(in)
	at := p.pos
	p.pos++
	next := p.peek()
	switch {
	case next < len(p.src) && p.src[next] != closer:
		return false, true
	case next < len(p.src):
	case in == inObject:
		return false, p.truncated(start, reasonObjectEnd)
	default:
		return false, p.truncated(start, reasonArrayEnd)
	}
	detail := detailCommaArray
	switch in {
	case inObject:
		detail = detailCommaObject
	case inTuple:
		detail = detailCommaTuple
	}
	if !p.repair(KindTrailingComma, at, detail, reasonComma) {
		return false, false
	}
	p.splice(at, at+1, "")
	return true, p.space()
}

// stray drops the closing bracket at pos, which does not close the
// innermost open container, when what follows it is a comma or another
// closer: {"a": [1]], "b": 2}. Followed by the end of the text it is more
// likely the wrong closer ({"a": [1, 2}), and refused.
func (p *parser) stray(closer byte) bool {
	at := p.pos
	p.pos++
	next := p.peek()
	if next >= len(p.src) || p.src[next] != ',' && !isCloser(p.src[next]) && !(p.fenced && strings.HasPrefix(p.src[next:], "```")) {
		return p.fail(at, reasonMismatch)
	}
	if !p.repair(KindStrayBracket, at, detailStrayBracket, reasonStray) {
		return false
	}
	p.splice(at, at+1, "")
	return p.space()
}

// earlyClose is called when the region's outermost object has just closed
// at pos-1. If a comma and another member follow ({"a": 1}, "b": 2}), that
// '}' was premature: it is dropped, the comma consumed, and true returned
// so that the member loop goes on. Otherwise pos stays and trailing stray
// closers (`{"a": 1}}`) are dropped.
func (p *parser) earlyClose() bool {
	if p.depth != 0 || p.noRepair || p.atEnd() {
		return false
	}
	at := p.pos - 1
	i := p.skipSpace(p.pos)
	if i < len(p.src) && p.src[i] == ',' && p.keyAhead(p.skipSpace(i+1)) {
		if !p.repair(KindEarlyClose, at, detailEarlyClose, reasonEarlyClose) {
			return false
		}
		p.splice(at, at+1, "")
		p.depth++
		p.complete = false
		p.pos = i + 1
		return true
	}
	p.dropStrayAfter()
	return false
}

// dropStrayAfter drops closing brackets right after the region's
// outermost object or array closed: `{"a": 1}}`. It returns false when the
// repairs run out.
func (p *parser) dropStrayAfter() bool {
	if p.depth != 0 || p.atEnd() {
		return true
	}
	for {
		i := p.skipSpace(p.pos)
		if i >= len(p.src) || !isCloser(p.src[i]) || p.noRepair {
			return true
		}
		if !p.repair(KindStrayBracket, i, detailStrayBracket, reasonStray) {
			return false
		}
		p.splice(p.pos, i+1, "")
		p.pos = i + 1
	}
}

// keyAhead reports whether a key and its ':' start at i: a quoted string
// or an identifier, then spaces and ':'. It reads ahead without consuming.
func (p *parser) keyAhead(i int) bool {
	src := p.src
	start := i
	defer func() { p.work += i - start }()
	if i >= len(src) {
		return false
	}
	switch c := src[i]; {
	case c == '"' || c == '\'':
		var ok bool
		if i, ok = lineStringEnd(src, i); !ok {
			return false
		}
	case isIdentStart(c):
		for i < len(src) && isIdent(src[i]) {
			i++
		}
	default:
		return false
	}
	for i < len(src) && (src[i] == ' ' || src[i] == '\t') {
		i++
	}
	return i < len(src) && src[i] == ':'
}

// skipSpace returns the offset of the first byte at or after i that is not
// whitespace, counting the bytes read ahead.
func (p *parser) skipSpace(i int) int {
	j := spaceEnd(p.src, i)
	p.work += j - i
	return j
}
