package extract

import "strings"

// scanner walks the text outside objects: prose, markdown fences and
// top-level arrays. It hands every '{' and '[' it meets to a parser and
// moves on past the region the parser consumed, so no byte is scanned
// twice except the whitespace around a candidate.
type scanner struct {
	src       string
	maxBytes  int
	maxValues int // values left to read in the text
	max       int // candidates of each kind to collect; the rest are parsed and dropped
	noRepair  bool
	arrays    bool        // top-level arrays are candidates too
	objects   int         // object candidates collected
	lists     int         // array candidates collected
	first     Candidate   // the only candidate collected when max is 1
	cands     []Candidate // the objects when max is more than 1
	arrCands  []Candidate // the arrays when max is more than 1
	fence     fence
	firstText int // offset of the first non-whitespace byte
	array     int // offset of the first top-level array that is not a candidate, -1 if none
	malformed *Error
	truncated *Error // or too large: an error that ends the scan
	work      int    // bytes examined, for the linear-time tests
}

// fence is the markdown code fence the scanner is in, if any.
type fence struct {
	open       bool
	start, end int // the opening fence line: ``` and its language tag
	after      int // first non-whitespace byte after end, -1 until needed
}

func newScanner(text string, opts Options) scanner {
	s := scanner{
		src:      text,
		maxBytes: opts.MaxBytes,
		max:      opts.MaxCandidates,
		noRepair: opts.NoRepair,
		arrays:   opts.Arrays,
		array:    -1,
	}
	if s.maxBytes <= 0 {
		s.maxBytes = DefaultMaxBytes
	}
	if s.maxValues = opts.MaxValues; s.maxValues <= 0 {
		s.maxValues = DefaultMaxValues
	}
	if s.max <= 0 {
		s.max = DefaultMaxCandidates
	}
	return s
}

// run scans the whole text and returns the error to report, if any.
func (s *scanner) run() error {
	src := s.src
	if len(src) > s.maxBytes {
		return &Error{Err: ErrTooLarge, Offset: s.maxBytes, Reason: "input longer than MaxBytes"}
	}
	s.firstText = s.nonSpace(0)
	for i := s.firstText; i < len(src); {
		j := i
		for j < len(src) && !proseSpecial[src[j]] {
			j++
		}
		s.work += j - i
		if i = j; i == len(src) {
			break
		}
		if src[i] == '`' {
			i = s.fenceMarker(i)
			continue
		}
		i = s.region(i)
		if s.truncated != nil {
			return s.truncated
		}
	}
	switch {
	case s.objects+s.lists > 0:
		return nil
	case s.malformed != nil:
		return s.malformed
	case s.array >= 0 && !s.arrays:
		return &Error{Err: ErrNoJSON, Offset: s.array, Reason: "only top-level arrays, which are not objects"}
	case s.array >= 0:
		return &Error{Err: ErrNoJSON, Offset: s.array, Reason: "only bracketed prose"}
	}
	return &Error{Err: ErrNoJSON, Offset: 0, Reason: "no '{' outside strings and arrays"}
}

// maxTag bounds a fence's language tag, which is reported in a Repair.
const maxTag = 32

// proseSpecial marks the bytes the scanner stops at outside objects.
var proseSpecial = [256]bool{'`': true, '{': true, '[': true}

// fenceMarker handles a run of backticks at i and returns where scanning
// goes on. Three or more open a fence, with an optional language tag, or
// close the open one; fewer are inline code, i.e. prose.
func (s *scanner) fenceMarker(i int) int {
	src := s.src
	j := i
	for j < len(src) && src[j] == '`' {
		j++
	}
	s.work += j - i
	if j-i < 3 {
		return j
	}
	if s.fence.open {
		s.fence.open = false
		return j
	}
	k := j
	for k < len(src) && k-j < maxTag && isTagByte(src[k]) {
		k++
	}
	s.work += k - j
	s.fence = fence{open: true, start: i, end: k, after: -1}
	return k
}

// parse parses the object or array at i with p, emitting output and
// repairs into the given buffers if they are not nil.
func (s *scanner) parse(p *parser, i int, out []byte, repairs []Repair) {
	*p = parser{
		src:        s.src,
		pos:        i,
		last:       i,
		noRepair:   s.noRepair,
		maxRepairs: repairBound(len(s.src)),
		fenced:     s.fence.open,
		emit:       out != nil,
		out:        out,
		repairs:    repairs,
	}
	if out != nil {
		p.pathSpans = make([][2]int, 0, cap(repairs)-len(repairs))
	}
	if out == nil { // the emit pass reads a region that passed already
		p.maxValues, p.values = s.maxValues, 1 // the region's own object or array
		if s.maxValues < 1 {
			p.err = Error{Err: ErrTooLarge, Offset: i, Reason: reasonValues}
			return
		}
	}
	if s.src[i] == '{' {
		p.object()
	} else {
		p.array(inArray)
	}
	// The parser only moves forward, apart from reading ahead, which it
	// counts in work.
	s.work += max(p.pos, p.err.Offset) - i + p.work
}

// region parses the object or array starting at i, keeps it if it is a
// wanted candidate, and returns where scanning goes on.
func (s *scanner) region(i int) int {
	isObject := s.src[i] == '{'
	var p parser
	s.parse(&p, i, nil, nil)
	s.maxValues -= p.values
	switch {
	case p.err.Err == nil && isObject:
		if s.objects < s.max {
			s.add(s.candidate(i, &p), false)
		}
		return p.pos
	case p.err.Err == nil:
		// An array holding words without quotes is bracketed prose:
		// [x] done, [see below].
		prose := p.bare || s.emptyInProse(i, p.pos)
		switch {
		case s.arrays && !prose && s.lists < s.max:
			s.add(s.candidate(i, &p), true)
		case !s.arrays || prose:
			if s.array < 0 {
				s.array = i
			}
		}
		return p.pos
	case p.err.Err == ErrTruncated || p.err.Err == ErrTooLarge:
		s.truncated = p.err.clone()
		return len(s.src)
	case isObject:
		if s.malformed == nil {
			s.malformed = p.err.clone()
		}
	case !p.nested:
		// A bracket in prose ("[1]", "[0, 1)", "- [x] done") that went
		// wrong before holding any object or array: go on scanning right
		// where it failed, so the prose does not hide what follows.
		return max(p.err.Offset, i+1)
	}
	// Skip the rest of the failed region so that objects nested in it are
	// not mistaken for answers.
	return s.skip(p.err.Offset, p.depth, p.inString)
}

// emptyInProse reports whether [start, end) is an empty array with text
// around it: a markdown checkbox, "- [ ] todo", rather than an answer.
func (s *scanner) emptyInProse(start, end int) bool {
	inner := strings.TrimSpace(s.src[start+1 : end-1])
	if inner != "" || s.src[end-1] != ']' {
		return false
	}
	before, nb := s.before(start)
	after, na := s.after(end)
	for _, r := range append(before[:nb], after[:na]...) {
		if r.Kind == KindStripProse {
			return true
		}
	}
	return false
}

// add collects c. JSON wants one candidate and no slice to hold it: an
// object, or else an array.
func (s *scanner) add(c Candidate, isArray bool) {
	switch {
	case s.max == 1 && isArray:
		if s.objects == 0 {
			s.first = c
		}
		s.lists++
	case s.max == 1:
		s.first = c
		s.objects++
	case isArray:
		s.arrCands = append(s.arrCands, c)
		s.lists++
	default:
		s.cands = append(s.cands, c)
		s.objects++
	}
}

// candidate builds the candidate for the object at [start, p.pos), which p
// parsed without output. If it needs repairs it is parsed again, into
// buffers sized from what the first parse counted.
func (s *scanner) candidate(start int, p *parser) Candidate {
	before, nb := s.before(start)
	after, na := s.after(p.pos)
	c := Candidate{Offset: start, End: p.pos}
	if n := nb + p.nrepairs + na; n > 0 {
		c.Repairs = append(make([]Repair, 0, n), before[:nb]...)
	}
	if p.changed {
		c.JSON, c.Repairs = s.repaired(start, p, c.Repairs)
	} else {
		c.JSON = []byte(s.src[start:p.pos])
	}
	c.Repairs = append(c.Repairs, after[:na]...)
	return c
}

// repaired parses the object at start, which p parsed without output and
// found in need of repair, again into buffers sized from what p counted,
// and returns the repaired JSON and repairs (appended to repairs). A call
// of its own: the second parser is in candidate's frame only when an
// answer needs it (the answer is judged at the bottom of a call's stack,
// see TestHandlerStackStaysSmall in package app).
func (s *scanner) repaired(start int, p *parser, repairs []Repair) ([]byte, []Repair) {
	var e parser
	s.parse(&e, start, make([]byte, 0, p.pos-start+p.grow), repairs)
	e.setPaths()
	return append(e.out, s.src[e.last:e.pos]...), e.repairs
}

// before returns the repairs for what precedes the object at i: the fence
// the object is in and any other text before it.
func (s *scanner) before(i int) (rs [2]Repair, n int) {
	text := s.firstText
	if s.fence.open && text == s.fence.start {
		if s.fence.after < 0 {
			s.fence.after = s.nonSpace(s.fence.end)
		}
		text = s.fence.after
	}
	prose := Repair{Kind: KindStripProse, Offset: text, Detail: detailBefore}
	if s.fence.open && text < s.fence.start {
		rs[n], n = prose, n+1
	}
	if s.fence.open {
		rs[n], n = Repair{Kind: KindStripFence, Offset: s.fence.start, Detail: s.src[s.fence.start:s.fence.end]}, n+1
	}
	if text < i && (!s.fence.open || text > s.fence.start) {
		rs[n], n = prose, n+1
	}
	return rs, n
}

// after returns the repairs for what follows the object ending at i: the
// fence it is in and any other text after it.
func (s *scanner) after(i int) (rs [2]Repair, n int) {
	q := s.nonSpace(i)
	if s.fence.open && strings.HasPrefix(s.src[q:], "```") {
		rs[n], n = Repair{Kind: KindStripFence, Offset: q, Detail: detailCloseFence}, n+1
		end := q
		for end < len(s.src) && s.src[end] == '`' {
			end++
		}
		q = s.nonSpace(end)
	}
	if q < len(s.src) {
		rs[n], n = Repair{Kind: KindStripProse, Offset: q, Detail: detailAfter}, n+1
	}
	return rs, n
}

// nonSpace returns the offset of the first non-whitespace byte at or after
// i, or len(s.src).
func (s *scanner) nonSpace(i int) int {
	j := spaceEnd(s.src, i)
	s.work += j - i
	return j
}

// spaceEnd returns the offset of the first byte at or after i that is not
// whitespace, or len(src).
func spaceEnd(src string, i int) int {
	for i < len(src) && isSpace(src[i]) {
		i++
	}
	return i
}

// skip returns the end of a region that failed at i with depth open
// objects and arrays, by counting brackets outside double-quoted strings.
// It is a bounded guess: without a parse, single-quoted strings and
// comments are not told apart from structure.
func (s *scanner) skip(i, depth int, inString bool) int {
	src := s.src
	start := i
	defer func() { s.work += i - start }()
	if inString {
		i = stringEnd(src, i)
	}
	for i < len(src) {
		switch src[i] {
		case '"':
			i = stringEnd(src, i+1)
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth <= 0 {
				i++
				return i
			}
		}
		i++
	}
	return i
}

// stringEnd returns the offset just after the '"' that closes the string
// whose body starts at i, or len(src).
func stringEnd(src string, i int) int {
	for i < len(src) {
		switch src[i] {
		case '"':
			return i + 1
		case '\\':
			i++
		}
		i++
	}
	return len(src)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// isTagByte reports whether c can be part of a fence's language tag
// (json, jsonc, json5, javascript, c++, ...).
func isTagByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == '-' || c == '+' || c == '.' || c == '#'
}
