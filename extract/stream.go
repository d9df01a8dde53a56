package extract

import (
	"encoding/json"
	"errors"
	"strings"
)

// Stream follows the first JSON object (or array) of a text that arrives
// in pieces, as a model writes it, and says which of its values are
// complete as soon as they are. Each Scan reads only the bytes added
// since the last: the scanner keeps its place (the open objects and
// arrays, the token being read) between calls, so following a text of n
// bytes costs O(n) however it is cut. It keeps no copy of the text: the
// caller, who collects the text anyway, passes it whole each time.
//
// Stream does not repair or build anything: it finds where values start
// and end, in text that may need the repairs [JSON] makes (single quotes,
// unquoted keys and values, comments, trailing or missing commas, quotes
// inside strings), and hands each complete value's text, as written, to
// the caller, who reads it with [JSON]. A value is complete only when the
// text after it proves it: a ',' or a closing bracket after a number, a
// string's quote followed on its line by ',', '}', ']', ':' or the line's
// end, an object's or array's closing bracket. So a value cut off by the
// end of the text so far is never reported, and text cut off by the
// model's token limit yields only values that were complete.
//
// Where the text stops being something Stream can follow (a tuple, a
// backtick string, more nesting than MaxDepth, a byte out of place) it
// stops, and [Stream.Err] says why; the caller then waits for the whole
// text.
type Stream struct {
	opts  StreamOptions
	text  string // the text as of the last Scan
	pos   int    // bytes scanned
	root  int    // offset of the root's bracket; -1 before it
	done  bool
	err   error
	stack []frame
	path  []Step
	keys  [64]string // see intern

	lex   lexState
	quote byte // the quote of the string being read
	esc   bool // the previous byte of the string was a backslash
	inKey bool // the string, or bare word, being read is a key
	start int  // where the token being read starts
	end   int  // where the scalar just read ends (its closing quote's end)
}

// StreamOptions tune a Stream. The zero value means the defaults.
type StreamOptions struct {
	// Arrays makes a top-level array the root when it comes before any
	// object; otherwise only an object is.
	Arrays bool
	// MaxBytes bounds the text; beyond it the stream stops with
	// ErrTooLarge. Zero or less means DefaultMaxBytes.
	MaxBytes int
}

// Step is one step of a value's path: a member's key or an element's
// index.
type Step struct {
	// Key is the member's key, its escapes read when it was quoted; Index
	// is -1 for a member.
	Key string
	// Index is the element's index in its array.
	Index int
}

// Value is a value the text has completed.
type Value struct {
	// Path leads from the root to the value; it is empty for the root. It
	// is the Stream's own: valid only during the call that reports it.
	Path []Step
	// Text is the value as written: a scalar, or a whole object or array.
	Text string
	// Offset is where Text starts in the whole text.
	Offset int
	// Container says the value is an object or array.
	Container bool
}

// frame is an open object or array.
type frame struct {
	array bool
	state frameState
	index int // elements so far, in an array
	start int // offset of the bracket
}

type frameState uint8

const (
	wantKey    frameState = iota // after '{' or ',' in an object: a key or '}'
	wantColon                    // after a key
	wantValue                    // after ':', or after '[' or ',' in an array
	inValue                      // a scalar value is being read
	afterValue                   // after a value: ',' or the closer
)

type lexState uint8

const (
	lexNone         lexState = iota
	lexString                // inside a quoted string
	lexQuote                 // after a quote that may close the string
	lexBare                  // inside an unquoted word, number or literal
	lexSlash                 // after a '/' that may start a comment
	lexLineComment           // inside // ...
	lexBlockComment          // inside /* ... */
	lexBlockStar             // after a '*' inside /* ... */
)

// errUnfollowable is why a Stream stops at a byte it cannot follow.
var errUnfollowable = errors.New("extract: the text is not JSON the stream can follow")

// NewStream returns a Stream waiting for its text.
func NewStream(opts StreamOptions) *Stream {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	return &Stream{opts: opts, root: -1}
}

// Err is why the stream stopped following the text, or nil.
func (s *Stream) Err() error { return s.err }

// Done reports whether the root is complete.
func (s *Stream) Done() bool { return s.done }

// Root returns the offset of the root's opening bracket, or -1 before it.
func (s *Stream) Root() int { return s.root }

// Anchored reports whether the root starts the text, but for whitespace
// and a markdown fence line before it: it is then the answer, and not an
// example in prose.
func (s *Stream) Anchored() bool {
	if s.root < 0 {
		return false
	}
	before := strings.TrimSpace(s.text[:s.root])
	if rest, ok := strings.CutPrefix(before, "```"); ok {
		before = strings.TrimLeft(rest, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+.#")
	}
	return before == ""
}

// Growing returns the string value being written, if the text so far ends
// inside one: its path (the Stream's own, valid until the next Scan) and
// its text from the opening quote on.
func (s *Stream) Growing() (path []Step, text string, ok bool) {
	if s.err != nil || s.done || s.inKey || (s.lex != lexString && s.lex != lexQuote) || len(s.stack) == 0 {
		return nil, "", false
	}
	return s.path[:len(s.stack)], s.text[s.start:], true
}

// Scan reads text, which is the text of the previous call with more
// added, from where that call stopped, and reports, in document order,
// each value it completes. It does nothing once the root is complete or
// the stream has stopped.
func (s *Stream) Scan(text string, complete func(Value)) {
	if s.done || s.err != nil {
		return
	}
	if len(text) > s.opts.MaxBytes {
		s.err = &Error{Err: ErrTooLarge, Offset: s.opts.MaxBytes, Reason: "input longer than MaxBytes"}
		return
	}
	if len(text) < s.pos {
		s.err = &Error{Err: errUnfollowable, Offset: len(text), Reason: "the text is shorter than before"}
		return
	}
	s.text = text
	s.run(complete)
}

// run reads from pos to the end of the text: each step a run of bytes of
// the token being read, or one byte of structure. A byte may be left at
// pos to be read again in another state, at most once: every state change
// that leaves it is to a state that consumes it.
func (s *Stream) run(complete func(Value)) {
	buf := s.text
	for s.pos < len(buf) && !s.done && s.err == nil {
		if s.lex == lexNone {
			// Whitespace and the punctuation between tokens are most of
			// what is not inside one: read them here, not a call each.
			c := buf[s.pos]
			if isSpace(c) {
				s.pos++
				continue
			}
			s.structure(c, complete)
			continue
		}
		s.step(buf, complete)
	}
}

// step is one step of run. It is one switch over the lexer's states, the
// streaming extractor's hot path; each case is one state, and every case
// reads and moves the same position.
func (s *Stream) step(buf string, complete func(Value)) {
	switch s.lex {
	case lexString:
		if s.esc {
			s.esc = false
			s.pos++
			return
		}
		i := s.pos
		for i < len(buf) && buf[i] != s.quote && buf[i] != '\\' {
			i++
		}
		s.pos = i
		switch {
		case i == len(buf):
		case buf[i] == '\\':
			s.esc = true
			s.pos++
		case s.inKey:
			s.endKey(i)
		default:
			s.lex, s.end = lexQuote, i+1
			s.pos++
		}
		return
	case lexQuote:
		i := s.pos
		for i < len(buf) && (buf[i] == ' ' || buf[i] == '\t') {
			i++
		}
		if s.pos = i; i == len(buf) {
			return
		}
		switch buf[i] {
		case ',', '}', ']', ':', '\n', '\r':
			// The quote closed the string; the byte is read as structure.
			s.lex = lexNone
			s.endScalar(s.end, complete)
		default:
			// A quote inside the string: it goes on.
			s.lex = lexString
		}
		return
	case lexBare:
		i := s.pos
		for i < len(buf) && !bareEnds[buf[i]] {
			i++
		}
		if s.pos = i; i == len(buf) {
			return
		}
		switch c := buf[i]; {
		case c == ':' && s.inKey:
			s.endKey(i)
		case c == ':':
			s.pos++
		case s.inKey:
			s.fail()
		default:
			s.lex = lexNone
			s.endScalar(i, complete)
		}
		return
	case lexSlash:
		switch buf[s.pos] {
		case '/':
			s.lex, s.pos = lexLineComment, s.pos+1
		case '*':
			s.lex, s.pos = lexBlockComment, s.pos+1
		default:
			s.fail()
		}
		return
	case lexLineComment:
		i := s.pos
		for i < len(buf) && buf[i] != '\n' {
			i++
		}
		if s.pos = i; i < len(buf) {
			s.lex, s.pos = lexNone, i+1
		}
		return
	case lexBlockComment, lexBlockStar:
		c := buf[s.pos]
		s.pos++
		switch {
		case c == '/' && s.lex == lexBlockStar:
			s.lex = lexNone
		case c == '*':
			s.lex = lexBlockStar
		default:
			s.lex = lexBlockComment
		}
		return
	}
	s.structure(buf[s.pos], complete)
}

// bareEnds marks the bytes that end an unquoted word (or may: ':' ends a
// key).
var bareEnds = [256]bool{',': true, '}': true, ']': true, '\n': true, '\r': true, ':': true}

// structure reads the byte at pos outside any token.
func (s *Stream) structure(c byte, complete func(Value)) {
	if isSpace(c) {
		for s.pos < len(s.text) && isSpace(s.text[s.pos]) {
			s.pos++
		}
		return
	}
	if len(s.stack) == 0 {
		s.seekRoot(c)
		return
	}
	if c == '/' {
		s.lex, s.pos = lexSlash, s.pos+1
		return
	}
	f := &s.stack[len(s.stack)-1]
	switch f.state {
	case wantKey:
		switch {
		case c == '}':
			s.close(complete)
		case c == '"' || c == '\'':
			s.open(lexString, c, true)
		case isKeyStart(c):
			s.open(lexBare, 0, true)
		default:
			s.fail()
		}
	case wantColon:
		if c != ':' {
			s.fail()
			return
		}
		f.state = wantValue
		s.pos++
	case wantValue:
		switch {
		case f.array && c == ']':
			s.close(complete)
		case !f.array && (c == ',' || c == '}'):
			// A member without a value, which JSON reads as null
			// (missing_value): not followed.
			s.fail()
		default:
			s.value(c)
		}
	case afterValue:
		switch {
		case c == ',':
			s.pos++
			if f.array {
				f.index++
				f.state = wantValue
			} else {
				f.state = wantKey
			}
		case c == '}' && !f.array, c == ']' && f.array:
			s.close(complete)
		case !f.array && (c == '"' || c == '\''):
			// A missing comma before the next key.
			f.state = wantKey
		default:
			s.fail()
		}
	}
}

// seekRoot skips text before the root; the first '{' (or, with Arrays,
// '[') opens it.
func (s *Stream) seekRoot(c byte) {
	if s.root >= 0 {
		s.fail() // the root is done; Write stops before this
		return
	}
	if c == '{' || c == '[' && s.opts.Arrays {
		s.root = s.pos
		s.push(c == '[')
		return
	}
	if c == '[' {
		// An array before any object: its objects are not candidates of
		// their own either.
		s.fail()
		return
	}
	s.pos++
}

// value starts the value at pos in the innermost container.
func (s *Stream) value(c byte) {
	f := &s.stack[len(s.stack)-1]
	if f.array {
		s.path[len(s.stack)-1] = Step{Index: f.index}
	}
	switch {
	case c == '{' || c == '[':
		f.state = afterValue
		s.push(c == '[')
	case c == '"' || c == '\'':
		f.state = inValue
		s.open(lexString, c, false)
	case c == '(' || c == '`' || c == ')' || c == ']' || c == '}' || c == ':':
		s.fail()
	default:
		f.state = inValue
		s.open(lexBare, 0, false)
	}
}

// open starts a token at pos: a string (quote is its quote) or a bare
// word.
func (s *Stream) open(lex lexState, quote byte, key bool) {
	s.lex, s.quote, s.inKey, s.esc, s.start = lex, quote, key, false, s.pos
	s.pos++
}

// endKey ends the key whose text ends at end, where its closing quote
// is (or its ':', for a bare key), and consumes that byte.
func (s *Stream) endKey(end int) {
	f := &s.stack[len(s.stack)-1]
	var key string
	if s.lex == lexBare {
		for end > s.start && (s.text[end-1] == ' ' || s.text[end-1] == '\t') {
			end--
		}
		key = s.intern(s.text[s.start:end])
		f.state = wantValue
		s.pos++ // the ':'
	} else {
		key = unquoteKey(s.intern(s.text[s.start+1:end]), s.quote)
		f.state = wantColon
		s.pos = end + 1 // the closing quote
	}
	s.lex, s.inKey = lexNone, false
	s.path[len(s.stack)-1] = Step{Key: key, Index: -1}
}

// intern returns key copied out of the text, shared with an earlier key
// spelled the same when one is in either of its two slots of a small
// table: an output's keys are mostly the few names of its fields, over and
// over, and two slots compare cheaper than a map hashes.
func (s *Stream) intern(key string) string {
	if key == "" {
		return ""
	}
	h := uint(len(key))
	for i := range len(key) {
		h = h*31 + uint(key[i])
	}
	n := uint(len(s.keys))
	a, b := &s.keys[h%n], &s.keys[(h/n)%n]
	switch key {
	case *a:
		return *a
	case *b:
		return *b
	}
	slot := a
	if *a != "" && *b == "" {
		slot = b
	}
	*slot = strings.Clone(key)
	return *slot
}

// unquoteKey reads a quoted key's body: its escapes as JSON reads them.
func unquoteKey(body string, quote byte) string {
	if quote != '"' || !strings.Contains(body, `\`) {
		return body
	}
	var key string
	if json.Unmarshal([]byte(`"`+body+`"`), &key) != nil {
		return body
	}
	return key
}

// endScalar ends the scalar value that ends at end and reports it.
func (s *Stream) endScalar(end int, complete func(Value)) {
	f := &s.stack[len(s.stack)-1]
	f.state = afterValue
	for end > s.start && (s.text[end-1] == ' ' || s.text[end-1] == '\t') {
		end--
	}
	complete(Value{Path: s.path[:len(s.stack)], Text: s.text[s.start:end], Offset: s.start})
}

// push opens an object or array at pos.
func (s *Stream) push(array bool) {
	if len(s.stack) >= MaxDepth {
		s.fail()
		return
	}
	state := wantKey
	if array {
		state = wantValue
	}
	s.stack = append(s.stack, frame{array: array, state: state, start: s.pos})
	if len(s.path) < len(s.stack) {
		s.path = append(s.path, Step{})
	}
	s.pos++
}

// close ends the innermost container at the closer at pos and reports it.
func (s *Stream) close(complete func(Value)) {
	f := s.stack[len(s.stack)-1]
	s.pos++
	s.stack = s.stack[:len(s.stack)-1]
	complete(Value{Path: s.path[:len(s.stack)], Text: s.text[f.start:s.pos], Offset: f.start, Container: true})
	if len(s.stack) == 0 {
		s.done = true
	}
}

// fail stops the stream at pos.
func (s *Stream) fail() {
	s.err = &Error{Err: errUnfollowable, Offset: s.pos, Reason: "a byte the stream cannot follow"}
}
