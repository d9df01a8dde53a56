package semantic

import (
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// Reasons a confidence is not known.
const (
	// NoLogprobs: the provider returned no token log-probabilities.
	NoLogprobs = "the provider returned no token log-probabilities"
	// Misspelled: the provider's tokens are not its text.
	Misspelled = "the provider's tokens do not spell its output"
	// ChangedByRepair: a repair changed the value's text, so no token of
	// the model's text can be tied to it.
	ChangedByRepair = "a repair changed the value's text"
	// NotInOutput: the message has the value, but no value of the model's
	// text maps to it (a key renamed by a repair).
	NotInOutput = "no value in the model's text maps to it"
)

// Output is a model's text with its tokens, and the JSON object guardgen
// accepted from it.
type Output struct {
	// Content is the model's text; Tokens, concatenated, must spell it.
	Content string
	Tokens  []*providerv1.TokenLogprob
	// JSON is the accepted object after any repair; Offset and End
	// delimit it in Content before repair. A streaming caller passes
	// Content[Offset:] and End = len(Content).
	JSON        string
	Offset, End int
	// Partial says Content is a prefix of a text still being generated:
	// a number at its very end is not yet complete.
	Partial bool
}

// Confidence is the confidence of one scalar value of an output.
type Confidence struct {
	// Path is the value's path with JSON names, e.g. services[0].name.
	Path string
	// Mark is the marks that apply: the field's own, else those of the
	// nearest enclosing field that has some.
	Mark Mark
	// Known says Value and Tokens hold the measure; Unavailable says why
	// they do not.
	Known       bool
	Value       float64
	Tokens      int
	Unavailable string
}

// Below reports a known confidence under the value's min_confidence.
func (c Confidence) Below() bool {
	return c.Known && c.Mark.MinConfidence > 0 && c.Value < c.Mark.MinConfidence
}

// Measurement is the confidence of every value of an output that belongs to
// a field of the target, in document order.
type Measurement struct {
	// Unavailable, when not empty, is why nothing was measured.
	Unavailable string
	Values      []Confidence
}

// Measure computes the confidence of every complete scalar value of
// out.JSON that belongs to a field of md, the target type of c (see the
// package doc for what counts). Values of unknown fields are left out.
func (c *Checks) Measure(md protoreflect.MessageDescriptor, out Output) Measurement {
	if len(out.Tokens) == 0 {
		return Measurement{Unavailable: NoLogprobs}
	}
	sp, err := spell(out.Content, out.Tokens)
	if err != nil {
		return Measurement{Unavailable: Misspelled}
	}
	var region string
	verbatim := false
	if 0 <= out.Offset && out.Offset <= out.End && out.End <= len(out.Content) {
		region = out.Content[out.Offset:out.End]
		verbatim = region == out.JSON || (out.Partial && strings.HasPrefix(region, out.JSON))
	}
	// A scalar value takes a dozen bytes or more of JSON.
	m := Measurement{Values: make([]Confidence, 0, len(out.JSON)/12+1)}
	r := resolver{c: c, md: md}
	cursor := 0
	scanValues(out.JSON, !out.Partial, func(path []step, v span) {
		p, mark, ok := r.resolve(path)
		if !ok {
			return
		}
		conf := Confidence{Path: p, Mark: mark}
		start := -1
		switch {
		case verbatim:
			start = out.Offset + v.start
		case len(path) > 0 && !(v.str && v.raw1-v.raw0 == 2): // an empty string cannot be found
			if at, ok := locate(region, v.text(out.JSON), v.str, path[len(path)-1], cursor); ok {
				start, cursor = out.Offset+at, at+v.end-v.start
			}
		}
		if start < 0 {
			conf.Unavailable = ChangedByRepair
		} else {
			conf.Known = true
			conf.Value, conf.Tokens = sp.product(start, start+v.end-v.start)
		}
		m.Values = append(m.Values, conf)
	})
	return m
}

// resolver maps JSON paths onto the target's fields.
type resolver struct {
	c   *Checks
	md  protoreflect.MessageDescriptor
	buf []byte
}

// resolve renders path with JSON names and finds the marks that apply;
// ok is false when the path leaves the target's fields.
func (r *resolver) resolve(path []step) (string, Mark, bool) {
	b := r.buf[:0]
	var (
		mark   Mark
		fd     protoreflect.FieldDescriptor
		cur    = r.md
		free   = wellKnown(r.md) // inside a well-known type's JSON form
		mapKey = false
	)
	for _, st := range path {
		switch {
		case free:
			b = appendStep(b, st.key, st.index, false)
		case mapKey:
			if st.index >= 0 {
				return "", Mark{}, false
			}
			b = appendStep(b, st.key, -1, true)
			mapKey, cur = false, fd.MapValue().Message()
			free = cur != nil && wellKnown(cur)
		case st.index >= 0:
			if fd == nil || !fd.IsList() {
				return "", Mark{}, false
			}
			b = appendStep(b, "", st.index, false)
		default:
			if cur == nil {
				return "", Mark{}, false
			}
			if fd = byName(cur, st.key); fd == nil {
				return "", Mark{}, false
			}
			b = appendStep(b, fd.JSONName(), -1, false)
			if m, ok := r.c.Mark(fd); ok {
				mark = m
			}
			if fd.IsMap() {
				mapKey, cur = true, nil
			} else {
				cur = fd.Message()
				free = cur != nil && wellKnown(cur)
			}
		}
	}
	r.buf = b
	return string(b), mark, true
}

// locate finds a value's text in a repaired object's original text, at or
// after from: as written, in value position after its own key (or in an
// array), and, for a string, between quotes of any kind the extractor
// repairs. It returns the offset of the value's own text in region.
func locate(region, text string, str bool, last step, from int) (int, bool) {
	for from <= len(region) {
		k := strings.Index(region[from:], text)
		if k < 0 {
			return 0, false
		}
		at := from + k
		if fits(region, at, at+len(text), str, last) {
			return at, true
		}
		from = at + 1
	}
	return 0, false
}

// fits reports whether region[start:end] sits where a value of the member
// last would: after "key": (any quotes, or none) or after [ or , in an
// array, and ending where a value ends.
func fits(region string, start, end int, str bool, last step) bool {
	if str {
		q, ok := quoteBefore(region, start)
		if !ok || !quoteAfter(region, end) {
			return false
		}
		start = q
	} else if end < len(region) && !strings.ContainsRune(",]} \t\r\n/", rune(region[end])) {
		return false
	}
	j := lastNonSpace(region, start)
	switch {
	case j < 0:
		return false
	case last.index >= 0:
		return region[j] == '[' || region[j] == ','
	case region[j] != ':':
		return false
	}
	keyEnd := lastNonSpace(region, j) + 1
	if q, ok := quoteBefore(region, keyEnd); ok {
		keyEnd = q
	}
	return strings.HasSuffix(region[:keyEnd], last.key)
}

// quoteChars are the quotes the extractor turns into JSON's.
var quoteChars = []string{`"`, `'`, "\u201c", "\u201d", "\u2018", "\u2019"}

// quoteBefore reports whether s[:i] ends with a quote, and where it starts.
func quoteBefore(s string, i int) (int, bool) {
	for _, q := range quoteChars {
		if strings.HasSuffix(s[:i], q) {
			return i - len(q), true
		}
	}
	return 0, false
}

func quoteAfter(s string, i int) bool {
	for _, q := range quoteChars {
		if strings.HasPrefix(s[i:], q) {
			return true
		}
	}
	return false
}

// lastNonSpace is the index of the last byte before i that is not
// whitespace, or -1.
func lastNonSpace(s string, i int) int {
	for i--; i >= 0; i-- {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
		default:
			return i
		}
	}
	return -1
}
