package openai

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// This file decodes the upstream's chat.completion and
// chat.completion.chunk bodies into the few fields guardgen reads, in one
// pass over the bytes. encoding/json did it by reflection, at about 7 µs
// and 16 allocations for a typical answer (BenchmarkMapping, the whole
// mapping, went from 5.9 to 2.5 µs), and its recursion was the deepest
// point of a call's stack. The rules are encoding/json's, to which
// TestDecodeMatchesEncodingJSON and FuzzDecodeCompletion hold it (and
// TestCompletionMatchesSDK and TestChunkMatchesSDK to openai-go): the whole
// body must be one JSON value; a field read here must have its type (null
// leaves it empty); any other field is skipped, its syntax still checked;
// invalid UTF-8 and lone surrogates in a string become U+FFFD. One
// difference, the SDK's rule: keys match exactly, not ignoring case.
//
// Where the provider differs from the SDK on purpose: a field of the wrong
// type makes the answer unreadable. The SDK reads such a field as its zero
// value (an empty content, no choices) and carries on; the provider
// refuses the answer (UNAVAILABLE, like a cut-off body), so that a broken
// upstream is retried instead of being taken for the model's empty answer
// (the "wrong type" bodies of TestDecodeMatchesEncodingJSON).

// decodeCompletion reads a 2xx body. A body that is not JSON, or not a
// chat completion's shape, is an error (the upstream's answer is
// unreadable), as it is for the SDK.
func decodeCompletion(body []byte) (*completion, error) {
	c := new(completion)
	if err := c.decode(body); err != nil {
		return nil, err
	}
	return c, nil
}

// UnmarshalJSON decodes a stream's event: openai-go's event decoder hands
// it to encoding/json, which checks its syntax first.
func (c *completion) UnmarshalJSON(data []byte) error {
	return c.decode(data)
}

func (c *completion) decode(data []byte) error {
	r := reader{b: data}
	if r.open('{', "chat completion") {
		for i := 0; r.more('}', i); i++ {
			switch string(r.key()) {
			case "id":
				c.ID = r.str("id")
			case "model":
				c.Model = r.str("model")
			case "choices":
				c.Choices = c.Choices[:0]
				for j := 0; r.elem("choices", j); j++ {
					c.Choices = append(c.Choices, choice{})
					c.Choices[j].read(&r)
				}
			case "usage":
				c.Usage = nil
				if r.peek() == '{' {
					c.Usage = new(usage)
					c.Usage.read(&r)
				} else {
					r.open('{', "usage") // null, or the wrong type
				}
			default:
				r.skip()
			}
		}
	}
	return r.end()
}

func (c *choice) read(r *reader) {
	if !r.open('{', "choice") {
		return
	}
	for i := 0; r.more('}', i); i++ {
		switch string(r.key()) {
		case "finish_reason":
			c.FinishReason = r.str("finish_reason")
		case "message":
			c.Message.read(r, "message")
		case "delta":
			c.Delta.read(r, "delta")
		case "logprobs":
			c.Logprobs.read(r)
		default:
			r.skip()
		}
	}
}

func (m *message) read(r *reader, field string) {
	if !r.open('{', field) {
		return
	}
	for i := 0; r.more('}', i); i++ {
		switch string(r.key()) {
		case "content":
			m.Content = r.str("content")
		case "refusal":
			m.Refusal = r.str("refusal")
		case "tool_calls":
			m.ToolCalls = m.ToolCalls[:0]
			for j := 0; r.elem("tool_calls", j); j++ {
				m.ToolCalls = append(m.ToolCalls, toolCall{})
				m.ToolCalls[j].read(r)
			}
		default:
			r.skip()
		}
	}
}

func (t *toolCall) read(r *reader) {
	if !r.open('{', "tool call") {
		return
	}
	for i := 0; r.more('}', i); i++ {
		switch string(r.key()) {
		case "index":
			t.Index = r.int("index")
		case "function":
			if !r.open('{', "function") {
				continue
			}
			for k := 0; r.more('}', k); k++ {
				if string(r.key()) == "arguments" {
					t.Function.Arguments = r.str("arguments")
				} else {
					r.skip()
				}
			}
		default:
			r.skip()
		}
	}
}

func (l *logprobs) read(r *reader) {
	if !r.open('{', "logprobs") {
		return
	}
	for i := 0; r.more('}', i); i++ {
		if string(r.key()) != "content" {
			r.skip()
			continue
		}
		l.Content = l.Content[:0]
		for j := 0; r.elem("logprobs.content", j); j++ {
			l.Content = append(l.Content, logprobToken{})
			l.Content[j].read(r)
		}
	}
}

func (t *logprobToken) read(r *reader) {
	if !r.open('{', "logprob") {
		return
	}
	for i := 0; r.more('}', i); i++ {
		switch string(r.key()) {
		case "token":
			t.Token = r.str("token")
		case "logprob":
			t.Logprob = r.float("logprob")
		case "bytes":
			t.Bytes = t.Bytes[:0]
			for j := 0; r.elem("bytes", j); j++ {
				t.Bytes = append(t.Bytes, r.int("bytes"))
			}
		default:
			r.skip()
		}
	}
}

func (u *usage) read(r *reader) {
	if !r.open('{', "usage") {
		return
	}
	for i := 0; r.more('}', i); i++ {
		switch string(r.key()) {
		case "prompt_tokens":
			u.PromptTokens = r.int("prompt_tokens")
		case "completion_tokens":
			u.CompletionTokens = r.int("completion_tokens")
		case "total_tokens":
			u.TotalTokens = r.int("total_tokens")
		case "prompt_tokens_details":
			u.PromptTokensDetails.CachedTokens = readCount(r, "prompt_tokens_details", "cached_tokens", u.PromptTokensDetails.CachedTokens)
		case "completion_tokens_details":
			u.CompletionTokensDetails.ReasoningTokens = readCount(r, "completion_tokens_details", "reasoning_tokens", u.CompletionTokensDetails.ReasoningTokens)
		default:
			r.skip()
		}
	}
}

// readCount reads an object for its one integer field name, which keeps
// its value n when the object does not have it.
func readCount(r *reader, object, name string, n int64) int64 {
	if !r.open('{', object) {
		return n
	}
	for i := 0; r.more('}', i); i++ {
		if string(r.key()) == name {
			n = r.int(name)
		} else {
			r.skip()
		}
	}
	return n
}

// reader reads JSON from b, from offset i on. Its methods read one value
// each; the first error is kept in err and ends the reading (every method
// then does nothing), so a decoder checks it once, at the end.
type reader struct {
	b   []byte
	i   int
	err error
}

// decodeError is a body that is not JSON, or not the shape read.
type decodeError struct {
	offset int
	msg    string
}

func (e *decodeError) Error() string {
	return fmt.Sprintf("openai: decoding the upstream's answer at byte %d: %s", e.offset, e.msg)
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = &decodeError{offset: r.i, msg: fmt.Sprintf(format, args...)}
	}
}

// end reports the reading's error, or one for anything but space after
// the value.
func (r *reader) end() error {
	r.space()
	if r.err == nil && r.i < len(r.b) {
		r.fail("invalid character %q after the JSON value", r.b[r.i])
	}
	return r.err
}

func (r *reader) space() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// peek returns the next byte after space, or 0 after an error or at the
// end of the input (which is an error: a value was wanted).
func (r *reader) peek() byte {
	if r.err != nil {
		return 0
	}
	r.space()
	if r.i == len(r.b) {
		r.fail("unexpected end of JSON input")
		return 0
	}
	return r.b[r.i]
}

// open reads the start of an object ('{') or array ('[') and reports
// whether it was one. A null is read and reports false, as the field is
// then left empty; any other value is an error, since the field wants
// what begins with c.
func (r *reader) open(c byte, field string) bool {
	switch r.peek() {
	case c:
		r.i++
		return true
	case 'n':
		r.literal("null")
	case 0:
	default:
		r.wrongType(field, c)
	}
	return false
}

// elem reports whether the array field has an element j, reading the
// array's start before the first (j == 0) and its end after the last.
func (r *reader) elem(field string, j int) bool {
	if j == 0 && !r.open('[', field) {
		return false
	}
	return r.more(']', j)
}

// more reports whether the object or array being read, which ends with
// end, has another member or element, read so far: the separating comma
// is read, or the end.
func (r *reader) more(end byte, read int) bool {
	switch r.peek() {
	case end:
		r.i++
		return false
	case 0:
		return false
	case ',':
		if read > 0 {
			r.i++
			return true
		}
	default:
		if read == 0 {
			return true
		}
	}
	r.fail("invalid character %q in an object or array", r.b[r.i])
	return false
}

// key reads an object's member name and the colon after it. The name
// shares r.b unless it had escapes.
func (r *reader) key() []byte {
	if r.peek() != '"' {
		if r.err == nil {
			r.fail("invalid character %q looking for an object key", r.b[r.i])
		}
		return nil
	}
	k, s, plain := r.quoted()
	if !plain {
		k = []byte(s)
	}
	if r.peek() != ':' {
		if r.err == nil {
			r.fail("invalid character %q after an object key", r.b[r.i])
		}
		return nil
	}
	r.i++
	return k
}

// str reads a string field; null is "".
func (r *reader) str(field string) string {
	switch r.peek() {
	case '"':
		raw, s, plain := r.quoted()
		if plain {
			return string(raw)
		}
		return s
	case 'n':
		r.literal("null")
	case 0:
	default:
		r.wrongType(field, '"')
	}
	return ""
}

// int reads an integer field; null is 0. A number with a fraction or an
// exponent, or beyond int64, is the wrong type, as for encoding/json.
func (r *reader) int(field string) int64 {
	lit := r.numberField(field)
	if lit == nil {
		return 0
	}
	n, err := strconv.ParseInt(string(lit), 10, 64)
	if err != nil {
		r.fail("%s: the number %s is not an int64", field, lit)
	}
	return n
}

// float reads a number field; null is 0.
func (r *reader) float(field string) float64 {
	lit := r.numberField(field)
	if lit == nil {
		return 0
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		r.fail("%s: the number %s is not a float64", field, lit)
	}
	return f
}

// numberField reads a number's literal, or nil for null.
func (r *reader) numberField(field string) []byte {
	switch c := r.peek(); {
	case c == '-' || c >= '0' && c <= '9':
		return r.number()
	case c == 'n':
		r.literal("null")
	case c != 0:
		r.wrongType(field, '0')
	}
	return nil
}

func (r *reader) wrongType(field string, want byte) {
	var got string
	switch c := r.b[r.i]; {
	case c == '{':
		got = "an object"
	case c == '[':
		got = "an array"
	case c == '"':
		got = "a string"
	case c == 't' || c == 'f':
		got = "a boolean"
	case c == '-' || c >= '0' && c <= '9':
		got = "a number"
	default:
		r.fail("invalid character %q looking for a value", c)
		return
	}
	r.fail("%s: want %s, got %s", field, kindOf[want], got)
}

var kindOf = map[byte]string{'{': "an object", '[': "an array", '"': "a string", '0': "a number"}

// literal reads true, false or null.
func (r *reader) literal(lit string) {
	if !bytes.HasPrefix(r.b[r.i:], []byte(lit)) {
		r.fail("invalid literal, want %s", lit)
		return
	}
	r.i += len(lit)
}

// number reads a number, checking its syntax, and returns its literal.
func (r *reader) number() []byte {
	b, start, j := r.b, r.i, r.i
	if b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && b[j] >= '1' && b[j] <= '9':
		j = digits(b, j)
	default:
		r.fail("invalid number")
		return nil
	}
	if j < len(b) && b[j] == '.' {
		if j = digits(b, j+1); b[j-1] == '.' {
			r.i = j
			r.fail("invalid number: no digit after the point")
			return nil
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		e := j
		if j = digits(b, j); j == e {
			r.i = j
			r.fail("invalid number: no digit in the exponent")
			return nil
		}
	}
	r.i = j
	return b[start:j]
}

// digits returns the offset after the decimal digits from j.
func digits(b []byte, j int) int {
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	return j
}

// quoted reads the string whose opening quote is at r.i. Its contents
// are raw, a slice of r.b, when plain (no escape, valid UTF-8), and
// otherwise unescaped in s.
func (r *reader) quoted() (raw []byte, s string, plain bool) {
	b, start := r.b, r.i+1
	for j := start; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			r.i = j + 1
			return b[start:j], "", true
		case c == '\\' || c < ' ':
			return nil, r.unescape(start, j), false
		case c >= utf8.RuneSelf:
			ru, size := utf8.DecodeRune(b[j:])
			if ru == utf8.RuneError && size == 1 {
				return nil, r.unescape(start, j), false
			}
			j += size - 1
		}
	}
	r.i = len(b)
	r.fail("unexpected end of JSON input in a string")
	return nil, "", false
}

// unescape reads the rest of a string from j, where its first escape,
// control character or invalid UTF-8 is, the part before (from start)
// being plain.
func (r *reader) unescape(start, j int) string {
	b := r.b
	end := j // the closing quote
	for end < len(b) && b[end] != '"' {
		if b[end] == '\\' {
			end++
		}
		end++
	}
	if end >= len(b) {
		r.i = len(b)
		r.fail("unexpected end of JSON input in a string")
		return ""
	}
	var s strings.Builder
	s.Grow(end - start)
	s.Write(b[start:j])
	for j < end {
		switch c := b[j]; {
		case c == '\\':
			var ok bool
			if j, ok = escape(&s, b, j); !ok {
				r.i = j
				r.fail("invalid escape in a string")
				return ""
			}
		case c < ' ':
			r.i = j
			r.fail("invalid control character %q in a string", c)
			return ""
		case c < utf8.RuneSelf:
			s.WriteByte(c)
			j++
		default:
			ru, size := utf8.DecodeRune(b[j:end])
			if ru == utf8.RuneError && size == 1 {
				s.WriteRune(ru) // invalid UTF-8 is U+FFFD
			} else {
				s.Write(b[j : j+size])
			}
			j += size
		}
	}
	r.i = end + 1
	return s.String()
}

// escape writes the escape at b[j] (a backslash, then at least one byte
// before the string's end) to s and returns the offset after it.
func escape(s *strings.Builder, b []byte, j int) (int, bool) {
	switch c := b[j+1]; c {
	case '"', '\\', '/':
		s.WriteByte(c)
	case 'b':
		s.WriteByte('\b')
	case 'f':
		s.WriteByte('\f')
	case 'n':
		s.WriteByte('\n')
	case 'r':
		s.WriteByte('\r')
	case 't':
		s.WriteByte('\t')
	case 'u':
		ru, ok := hex4(b, j)
		if !ok {
			return j, false
		}
		j += 6
		if utf16.IsSurrogate(ru) {
			// A pair is one character; anything else is U+FFFD, and the
			// escape after a lone surrogate is read on its own.
			if low, ok := hex4(b, j); ok {
				if pair := utf16.DecodeRune(ru, low); pair != utf8.RuneError {
					s.WriteRune(pair)
					return j + 6, true
				}
			}
			ru = utf8.RuneError
		}
		s.WriteRune(ru)
		return j, true
	default:
		return j, false
	}
	return j + 2, true
}

// hex4 reads the \uXXXX escape at b[j], if there is one.
func hex4(b []byte, j int) (rune, bool) {
	if j+6 > len(b) || b[j] != '\\' || b[j+1] != 'u' {
		return 0, false
	}
	var ru rune
	for _, c := range b[j+2 : j+6] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		ru = ru<<4 | rune(c)
	}
	return ru, true
}

// skip reads a value of any shape, checking its syntax, without recursion:
// the arrays and objects it is inside are kept in open (a body from the
// upstream is bounded in size, not in depth).
func (r *reader) skip() {
	var stack [16]byte
	open := stack[:0]
	for {
		// A value.
		switch r.peek() {
		case 0:
			return
		case '{':
			r.i++
			if r.peek() == '}' {
				r.i++
				break
			}
			open = append(open, '}')
			r.key()
			continue
		case '[':
			r.i++
			if r.peek() == ']' {
				r.i++
				break
			}
			open = append(open, ']')
			continue
		case '"':
			r.quoted()
		case 't':
			r.literal("true")
		case 'f':
			r.literal("false")
		case 'n':
			r.literal("null")
		default:
			if c := r.b[r.i]; c == '-' || c >= '0' && c <= '9' {
				r.number()
			} else {
				r.fail("invalid character %q looking for a value", c)
			}
		}
		// After a value: the ends of the objects and arrays it ends, up to
		// the next member or element.
		for len(open) > 0 {
			end := open[len(open)-1]
			c := r.peek()
			if c == end {
				r.i++
				open = open[:len(open)-1]
				continue
			}
			if c == ',' {
				r.i++
				if end == '}' {
					r.key()
				}
				break
			}
			if c != 0 {
				r.fail("invalid character %q after a value in an object or array", c)
			}
			return
		}
		if len(open) == 0 || r.err != nil {
			return
		}
	}
}
