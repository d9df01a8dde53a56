package extract_test

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/guardgen/guardgen/extract"
)

// FuzzJSON checks, for any text: no panic; every candidate is valid JSON,
// is an object or array, and its span is in range; JSON agrees with
// Candidates; a candidate fed back is returned unchanged; no prefix of a
// candidate that ends inside a value is accepted (see checkCutOff); and a
// candidate encoded as a JSON string is read back whole, never cut off
// (see checkEncoded).
func FuzzJSON(f *testing.F) {
	for _, tc := range cases {
		f.Add(tc.in)
	}
	for _, in := range pathological(512) {
		f.Add(in)
	}
	f.Add(typical)
	f.Add(repaired)
	f.Add(repaired2K)
	f.Fuzz(func(t *testing.T, text string) {
		opts := extract.Options{Arrays: true}
		cands, err := extract.Candidates(text, opts)
		first, firstErr := extract.JSON(text, opts)
		if !errors.Is(firstErr, sentinel(err)) {
			t.Fatalf("JSON error %v, Candidates error %v", firstErr, err)
		}
		if err != nil {
			return
		}
		if string(first.JSON) != string(cands[0].JSON) {
			t.Fatalf("JSON returned %q, Candidates first %q", first.JSON, cands[0].JSON)
		}
		for _, c := range cands {
			checkCandidate(t, text, c)
			checkCutOff(t, c.JSON)
			checkEncoded(t, c.JSON)
		}
	})
}

// checkEncoded: answer, valid JSON, encoded as one JSON string is read as
// answer with Options.UnwrapString, the first repair saying so; every
// prefix of the string that has its opening bracket is refused as
// ErrTruncated.
func checkEncoded(t *testing.T, answer []byte) {
	t.Helper()
	if !utf8.Valid(answer) {
		return // json.Marshal would change it
	}
	enc, err := json.Marshal(string(answer))
	if err != nil {
		t.Fatal(err)
	}
	opts := extract.Options{Arrays: true, UnwrapString: true}
	cands, err := extract.Candidates(string(enc), opts)
	if err != nil || string(cands[0].JSON) != string(answer) || cands[0].Repairs[0].Kind != extract.KindJSONString {
		t.Fatalf("%q encoded as %s: got %v, %v", answer, enc, cands, err)
	}
	step := max(1, len(enc)/64)
	for k := 2; k < len(enc); k += step {
		if c, err := extract.Candidates(string(enc[:k]), opts); !errors.Is(err, extract.ErrTruncated) {
			t.Fatalf("%s cut at %d: got %v, %v; want ErrTruncated", enc, k, c, err)
		}
	}
}

func checkCandidate(t *testing.T, text string, c extract.Candidate) {
	t.Helper()
	if !json.Valid(c.JSON) {
		t.Fatalf("invalid JSON %q from %q", c.JSON, text)
	}
	if c.JSON[0] != '{' && c.JSON[0] != '[' || c.Offset < 0 || c.End > len(text) || c.Offset >= c.End || text[c.Offset] != c.JSON[0] {
		t.Fatalf("candidate %q has span [%d, %d) in %d bytes", c.JSON, c.Offset, c.End, len(text))
	}
	again, err := extract.JSON(string(c.JSON), extract.Options{NoRepair: true, Arrays: true})
	if err != nil || string(again.JSON) != string(c.JSON) || len(again.Repairs) != 0 {
		t.Fatalf("candidate %q fed back gives %q, %v, %v", c.JSON, again.JSON, again.Repairs, err)
	}
}

// checkCutOff is the cut-off property: answer is valid JSON, and every
// prefix of it that ends inside a value (a string, number, literal or key)
// or right after '{', '[', ':' or ',' is refused as ErrTruncated, never
// closed up and accepted. Only a prefix that ends right after a complete
// string value, '}' or ']' (then perhaps whitespace) may be closed.
func checkCutOff(t *testing.T, answer []byte) {
	t.Helper()
	closable := closablePrefixes(answer)
	step := max(1, len(answer)/256)
	for k := 1; k < len(answer); k += step {
		if closable[k] {
			continue
		}
		c, err := extract.JSON(string(answer[:k]), extract.Options{Arrays: true})
		if !errors.Is(err, extract.ErrTruncated) {
			t.Fatalf("answer %q cut at %d, inside a value: got %q, %v; want ErrTruncated", answer, k, c.JSON, err)
		}
	}
}

// closablePrefixes returns, for each k, whether answer[:k] ends right
// after a complete string value (not a key), '}' or ']', give or take
// whitespace. answer must be valid JSON.
func closablePrefixes(answer []byte) []bool {
	closable := make([]bool, len(answer)+1)
	// open holds the open containers: for an object, whether a key is next.
	type container struct{ object, wantKey bool }
	var open []container
	complete := false
	for i := 0; i < len(answer); {
		switch c := answer[i]; c {
		case ' ', '\t', '\n', '\r':
			i++
		case '"':
			isKey := len(open) > 0 && open[len(open)-1].wantKey
			i++
			for answer[i] != '"' {
				if answer[i] == '\\' {
					i++
				}
				i++
			}
			i++
			complete = !isKey
		case '{', '[':
			open = append(open, container{object: c == '{', wantKey: c == '{'})
			complete = false
			i++
		case '}', ']':
			open = open[:len(open)-1]
			complete = true
			i++
		case ':', ',':
			top := &open[len(open)-1]
			top.wantKey = c == ',' && top.object
			complete = false
			i++
		default: // a number or literal
			for i < len(answer) && !isDelimiter(answer[i]) {
				i++
			}
			complete = false
		}
		closable[i] = complete
	}
	return closable
}

func isDelimiter(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', ':', '{', '}', '[', ']', '"':
		return true
	}
	return false
}

// sentinel returns the sentinel error err wraps, or nil.
func sentinel(err error) error {
	for _, s := range []error{extract.ErrNoJSON, extract.ErrMalformed, extract.ErrTruncated, extract.ErrTooLarge} {
		if errors.Is(err, s) {
			return s
		}
	}
	return nil
}
