package semantic

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// Bounds on what a verifier call sends, so that one answer cannot make a
// verifier prompt of any size.
const (
	// MaxItems bounds the values asked about in one verifier call.
	MaxItems = 64
	// maxValueBytes bounds each value's text, maxCandidateBytes the whole
	// candidate message's.
	maxValueBytes     = 2000
	maxCandidateBytes = 16 << 10
)

// question is one value as the verifier sees it.
type question struct {
	Field    string          `json:"field"`
	Value    json.RawMessage `json:"value"`
	Question string          `json:"question"`
}

// VerifierMessages is the conversation that asks a verifier model about
// items in one call: guardgen's instructions (answer with one JSON object
// of the JSON Schema named schemaName, a guardgen.v1.Verdict), then the
// original prompt, the candidate message and the questions, as JSON.
// Values and the candidate are cut to bounded lengths, and say so.
func VerifierMessages(prompt, candidate string, items []Item, schemaName string) []*providerv1.Message {
	system := "You check answers that another model extracted from a source text. " +
		"For each question, decide whether the value given for the field is supported by the source text. " +
		"Answer with one JSON object that conforms to the JSON Schema named " + schemaName + ": " +
		`"supported" is true only if every value is supported; otherwise it is false, "reason" says why in one or two sentences, ` +
		`and "fields" lists the fields whose values are not supported. Output only the JSON object.`
	qs := make([]question, len(items))
	for i, it := range items {
		v := it.Value
		if len(v) > maxValueBytes || !json.Valid([]byte(v)) {
			v = quoteCut(v, maxValueBytes)
		}
		qs[i] = question{Field: it.Path, Value: json.RawMessage(v), Question: it.Question}
	}
	js, _ := json.MarshalIndent(qs, "", "  ") // strings and valid raw JSON always marshal
	var b strings.Builder
	b.WriteString("Source text:\n")
	b.WriteString(prompt)
	b.WriteString("\n\nCandidate answer (JSON")
	if len(candidate) > maxCandidateBytes {
		candidate = cut(candidate, maxCandidateBytes)
		b.WriteString(", cut short")
	}
	b.WriteString("):\n")
	b.WriteString(candidate)
	b.WriteString("\n\nQuestions (JSON):\n")
	b.Write(js)
	return []*providerv1.Message{
		{Role: providerv1.Role_ROLE_SYSTEM, Content: system},
		{Role: providerv1.Role_ROLE_USER, Content: b.String()},
	}
}

// quoteCut makes a JSON string of at most about n bytes of s, marked as
// cut when it was.
func quoteCut(s string, n int) string {
	if len(s) > n {
		s = cut(s, n) + " … (cut short)"
	}
	js, _ := json.Marshal(s) // a string always marshals
	return string(js)
}

// cut returns s's longest prefix of at most n bytes that ends on a rune
// boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
