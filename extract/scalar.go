package extract

import "strings"

// Scalar returns the JSON scalar that text is, for targets whose JSON form
// is a string, a number or a boolean. text, give or take whitespace and one
// markdown fence around it, must be one value: a string in any of the
// quotes the repairs know, a number, true, false or null, or one line of
// words, which is read as a string (KindUnquotedValue). The whole text is
// the value: a number or word that ends it is not cut off, since the
// caller never reads text whose finish reason says it was.
//
// The error is ErrNoJSON when the text is empty or is an object, array or
// tuple (see [Candidates]), ErrMalformed when it holds more than one value
// or line, ErrTruncated when it ends inside a quoted string, and
// ErrTooLarge when it is longer than Options.MaxBytes.
func Scalar(text string, opts Options) (Candidate, error) {
	max := opts.MaxBytes
	if max <= 0 {
		max = DefaultMaxBytes
	}
	if len(text) > max {
		return Candidate{}, &Error{Err: ErrTooLarge, Offset: max, Reason: "input longer than MaxBytes"}
	}
	start, end, fences := scalarSpan(text)
	if opts.NoStrip && len(fences) > 0 {
		return Candidate{}, &Error{Err: ErrMalformed, Offset: fences[0].Offset, Reason: "a value inside fences, which are not stripped"}
	}
	if start >= end {
		return Candidate{}, &Error{Err: ErrNoJSON, Offset: 0, Reason: "no value"}
	}
	if c := text[start]; c == '{' || c == '[' || c == '(' {
		return Candidate{}, &Error{Err: ErrNoJSON, Offset: start, Reason: "an object or array, not a scalar"}
	}
	p := parser{src: text[:end], pos: start, last: start, noRepair: opts.NoRepair, maxRepairs: repairBound(len(text)), final: true}
	if p.value(inNothing) && p.space() && p.pos < end {
		p.fail(p.pos, reasonOneValue)
	}
	if p.err.Err != nil {
		return Candidate{}, p.err.clone()
	}
	c := Candidate{Offset: start, End: end}
	if p.changed {
		e := parser{src: text[:end], pos: start, last: start, maxRepairs: p.maxRepairs, final: true, emit: true,
			out: make([]byte, 0, end-start+p.grow), repairs: make([]Repair, 0, len(fences)+p.nrepairs)}
		e.repairs = append(e.repairs, fences[:min(1, len(fences))]...)
		e.pathSpans = make([][2]int, 0, p.nrepairs)
		e.value(inNothing)
		e.setPaths()
		c.JSON = append(e.out, text[e.last:e.pos]...)
		c.Repairs = append(e.repairs, fences[min(1, len(fences)):]...)
		return c, nil
	}
	c.JSON = []byte(text[start:end])
	if len(fences) > 0 {
		c.Repairs = fences
	}
	return c, nil
}

// reasonOneValue is why text holding more than one value is not a scalar.
const reasonOneValue = "more than one value"

// scalarSpan returns the span of the value in text: whitespace trimmed,
// and one fence around it dropped, with the repairs for that fence.
func scalarSpan(text string) (start, end int, fences []Repair) {
	start, end = 0, len(text)
	for start < end && isSpace(text[start]) {
		start++
	}
	for end > start && isSpace(text[end-1]) {
		end--
	}
	if !strings.HasPrefix(text[start:end], "```") {
		return start, end, nil
	}
	open := start
	i := start
	for i < end && text[i] == '`' {
		i++
	}
	for k := 0; i < end && k < maxTag && isTagByte(text[i]); k++ {
		i++
	}
	fences = append(fences, Repair{Kind: KindStripFence, Offset: open, Detail: text[open:i]})
	if end-i >= 3 && strings.HasSuffix(text[i:end], "```") {
		close := end - 3
		for close > i && text[close-1] == '`' {
			close--
		}
		fences = append(fences, Repair{Kind: KindStripFence, Offset: close, Detail: detailCloseFence})
		end = close
	}
	start = i
	for start < end && isSpace(text[start]) {
		start++
	}
	for end > start && isSpace(text[end-1]) {
		end--
	}
	return start, end, fences
}
