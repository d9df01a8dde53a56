package extract

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode"
)

// Defaults used when the matching [Options] field is zero.
const (
	// DefaultMaxBytes is the input limit when Options.MaxBytes is zero.
	DefaultMaxBytes = 1 << 20
	// DefaultMaxValues is the value limit when Options.MaxValues is zero.
	DefaultMaxValues = 1 << 14
	// DefaultMaxCandidates is the candidate limit when
	// Options.MaxCandidates is zero.
	DefaultMaxCandidates = 8
	// MaxDepth is how deeply objects and arrays may nest. Deeper input is
	// ErrMalformed.
	MaxDepth = 128
)

// repairBound is how many repairs one object or array may need in a text
// of n bytes: one per 16 bytes, and at least 256. Text that needs more is
// not JSON with a few slips but some other format, and repairing it all
// would cost more than asking again. It is ErrMalformed.
func repairBound(n int) int { return max(256, n/16) }

// Options tunes extraction. The zero value means the defaults.
type Options struct {
	// MaxBytes is the longest input accepted; longer input is ErrTooLarge
	// before any scanning. Zero or less means DefaultMaxBytes.
	MaxBytes int
	// MaxValues bounds the JSON values (strings, numbers, literals,
	// objects and arrays, nested ones included) in all the candidates of a
	// text; more is ErrTooLarge. Decoding and validating cost about the
	// same per value whatever its size, so this, and not the byte limit,
	// bounds their time: a mebibyte of short values is hundreds of
	// thousands of them. Zero or less means DefaultMaxValues.
	MaxValues int
	// MaxCandidates bounds how many candidates Candidates returns. The
	// rest of the text is still scanned, so that a cut-off object at the
	// end is reported. Zero or less means DefaultMaxCandidates.
	MaxCandidates int
	// NoRepair turns off the syntax repairs: each object must be strict
	// JSON. Fences and prose are still stripped and recorded.
	NoRepair bool
	// NoStrip turns off stripping fences and prose (the article's
	// strip_markdown_fences off): the text must be the JSON alone, give or
	// take whitespace. A candidate that fences or prose surround is
	// dropped, and a text with no other is ErrMalformed, as strict JSON
	// would find it.
	NoStrip bool
	// Arrays makes top-level arrays candidates too, after every object:
	// for targets that take a list, or one of a list's elements. An array
	// whose own elements are words without quotes ([x], [see below]) is
	// bracketed prose, never a candidate.
	Arrays bool
	// UnwrapString reads a text that is one JSON string, and nothing else
	// but whitespace, holding an object or array as that object or array
	// ([KindJSONString]): a model that encoded its answer twice. For
	// targets whose answer may itself be a string, leave it off.
	UnwrapString bool
}

// Candidate is one JSON object, or array, found in the text.
type Candidate struct {
	// JSON is the object or array, valid per encoding/json. It is a copy
	// the caller owns.
	JSON []byte
	// Repairs lists, in input order, the fences and prose stripped around
	// the object and the syntax repairs made inside it. It is nil when the
	// text was the object alone, give or take whitespace.
	Repairs []Repair
	// Offset and End delimit the object in the input: text[Offset:End]
	// runs from its opening '{' past its closing '}' (and any stray
	// brackets after it) before any repair; for an answer that was a JSON
	// string ([KindJSONString]), they delimit that string.
	Offset, End int
}

// JSON returns the first JSON object candidate in text; with
// Options.Arrays, the first array when there is no object.
//
// The whole text is still scanned: if it is cut off inside an object,
// array or string, JSON returns ErrTruncated even when an earlier object
// is complete, since the cut-off one is likely the answer and the earlier
// one an example. See [Candidates] for the other errors.
func JSON(text string, opts Options) (Candidate, error) {
	s := newScanner(text, opts)
	s.max = 1
	if err := s.run(); err != nil {
		return Candidate{}, err
	}
	if opts.NoStrip && stripped(s.first) {
		return Candidate{}, errWrapped(s.first)
	}
	return s.first, nil
}

// Candidates returns every JSON object candidate in text, in order, at
// most Options.MaxCandidates of them, so a caller can take the first one
// that fits its target type. With Options.Arrays the top-level arrays
// follow, in order, at most Options.MaxCandidates of them too.
//
// Objects nested in a top-level array are not candidates of their own.
// Regions that look like objects but stay malformed after the bounded
// repairs are skipped when another candidate is found; otherwise the first
// one's error is returned (ErrMalformed). The error is ErrNoJSON when there
// is no candidate at all, ErrTruncated when the text is cut off inside an
// object, array or string, and ErrTooLarge when text is longer than
// Options.MaxBytes. Errors are [*Error] values.
func Candidates(text string, opts Options) ([]Candidate, error) {
	if opts.UnwrapString {
		inner, cut, ok := jsonString(text, opts)
		if cut {
			return nil, &Error{Err: ErrTruncated, Offset: len(text), Reason: "text ends inside the JSON string that holds the answer"}
		}
		if ok {
			opts.UnwrapString = false
			if cands, err := Candidates(inner, opts); err == nil {
				start := textStart(text)
				end := start + len(strings.TrimSpace(text))
				for i := range cands {
					cands[i].Repairs = slices.Insert(cands[i].Repairs, 0,
						Repair{Kind: KindJSONString, Offset: start, Detail: detailJSONString})
					cands[i].Offset, cands[i].End = start, end // the string literal
				}
				return cands, nil
			}
			// What the string holds is no answer either: the text is
			// judged as it is.
		}
	}
	s := newScanner(text, opts)
	if err := s.run(); err != nil {
		return nil, err
	}
	cands := append(s.cands, s.arrCands...)
	if s.cands == nil && s.arrCands == nil {
		cands = []Candidate{s.first}
	}
	if !opts.NoStrip {
		return cands, nil
	}
	bare := slices.DeleteFunc(slices.Clone(cands), stripped)
	if len(bare) == 0 {
		return nil, errWrapped(cands[0])
	}
	return bare, nil
}

// stripped reports whether c was found by stripping fences or prose.
func stripped(c Candidate) bool {
	return slices.ContainsFunc(c.Repairs, func(r Repair) bool {
		return r.Kind == KindStripFence || r.Kind == KindStripProse
	})
}

// errWrapped is the error of a text whose JSON fences or prose surround,
// under Options.NoStrip: at the first byte that is not the JSON's.
func errWrapped(c Candidate) *Error {
	at := c.Offset
	for _, r := range c.Repairs {
		if r.Kind == KindStripFence || r.Kind == KindStripProse {
			at = min(at, r.Offset)
		}
	}
	return &Error{Err: ErrMalformed, Offset: at, Reason: "JSON inside fences or prose, which are not stripped"}
}

// jsonString returns what text holds when text is one JSON string (give or
// take whitespace around it) whose content, give or take whitespace,
// starts with '{' or '['. cut reports a text that opens such a string,
// '"' then '{' or '[', and ends before closing it: an encoded answer cut
// off. Text over the byte limit is not looked into.
func jsonString(text string, opts Options) (inner string, cut, ok bool) {
	limit := opts.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	t := strings.TrimSpace(text)
	if len(text) > limit || len(t) < 2 || t[0] != '"' {
		return "", false, false
	}
	end := 1
	for end < len(t) && t[end] != '"' {
		if t[end] == '\\' {
			end++
		}
		end++
	}
	if end >= len(t) {
		opens := strings.TrimLeft(t[1:], " ")
		return "", opens != "" && (opens[0] == '{' || opens[0] == '['), false
	}
	if end != len(t)-1 {
		return "", false, false
	}
	if inner, ok = unquote(t); !ok {
		return "", false, false
	}
	if c := strings.TrimSpace(inner); c == "" || c[0] != '{' && c[0] != '[' {
		return "", false, false
	}
	return inner, false, true
}

// unquote decodes a JSON string literal. It is its own function so that
// the string decoded into is allocated only when there is one to decode.
func unquote(literal string) (string, bool) {
	var s string
	if json.Unmarshal([]byte(literal), &s) != nil {
		return "", false
	}
	return s, true
}

// textStart is the offset of the first byte of text that is not
// whitespace.
func textStart(text string) int {
	return len(text) - len(strings.TrimLeftFunc(text, unicode.IsSpace))
}
