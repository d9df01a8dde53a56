package extract_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/guardgen/guardgen/extract"
)

// FuzzJSON checks, for any text: no panic; every candidate is valid JSON,
// is an object, and its span is in range; JSON agrees with Candidates; a
// candidate fed back is returned unchanged; and cutting the text inside a
// candidate, or cutting the candidate itself, is reported as truncation,
// never repaired.
func FuzzJSON(f *testing.F) {
	for _, tc := range cases {
		f.Add(tc.in)
	}
	for _, in := range pathological(512) {
		f.Add(in)
	}
	f.Add(typical)
	f.Add(repaired)
	f.Fuzz(func(t *testing.T, text string) {
		cands, err := extract.Candidates(text, extract.Options{})
		first, firstErr := extract.JSON(text, extract.Options{})
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
		}
	})
}

func checkCandidate(t *testing.T, text string, c extract.Candidate) {
	t.Helper()
	if !json.Valid(c.JSON) {
		t.Fatalf("invalid JSON %q from %q", c.JSON, text)
	}
	if c.JSON[0] != '{' || c.Offset < 0 || c.End > len(text) || text[c.Offset] != '{' || text[c.End-1] != '}' {
		t.Fatalf("candidate %q has span [%d, %d) in %d bytes", c.JSON, c.Offset, c.End, len(text))
	}
	again, err := extract.JSON(string(c.JSON), extract.Options{NoRepair: true})
	if err != nil || string(again.JSON) != string(c.JSON) || len(again.Repairs) != 0 {
		t.Fatalf("candidate %q fed back gives %q, %v, %v", c.JSON, again.JSON, again.Repairs, err)
	}
	for _, k := range cuts(c.Offset, c.End) {
		if _, err := extract.Candidates(text[:k], extract.Options{}); !errors.Is(err, extract.ErrTruncated) {
			t.Fatalf("text cut at %d inside candidate [%d, %d): error %v, want ErrTruncated", k, c.Offset, c.End, err)
		}
	}
	for _, k := range cuts(0, len(c.JSON)) {
		if _, err := extract.JSON(string(c.JSON[:k]), extract.Options{}); !errors.Is(err, extract.ErrTruncated) {
			t.Fatalf("candidate %q cut at %d: error %v, want ErrTruncated", c.JSON, k, err)
		}
	}
}

// cuts returns a few offsets strictly inside (start, end): both ends and
// the middle.
func cuts(start, end int) []int {
	if end-start < 2 {
		return nil
	}
	return []int{start + 1, (start + end) / 2, end - 1}
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
