package server

import (
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/guardgen/guardgen/classifier"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// maxEchoedOutput bounds how much of a rejected output is sent back to
// the model when re-asking.
const maxEchoedOutput = 2000

// problem is one machine-readable reason an output was rejected, as the
// model is told it when re-asked.
type problem struct {
	Field   string `json:"field,omitempty"`
	Rule    string `json:"rule,omitempty"`
	Message string `json:"message"`
}

// reask returns the next provider request after an output failure: the
// previous request, the model's rejected output (truncated) as its own
// turn, and a follow-up user message listing the problems, machine-readable.
// Only output failures come here: transport errors never reach a prompt.
func (g *generation) reask(prev *providerv1.CompleteRequest, output string, f *classifier.Failure) *providerv1.CompleteRequest {
	next := proto.CloneOf(prev)
	next.Messages = append(next.Messages,
		&providerv1.Message{Role: providerv1.Role_ROLE_ASSISTANT, Content: truncateRunes(output, maxEchoedOutput)},
		&providerv1.Message{Role: providerv1.Role_ROLE_USER, Content: feedback(f)},
	)
	return next
}

// feedback tells the model what was wrong with its answer.
func feedback(f *classifier.Failure) string {
	problems := make([]problem, 0, max(len(f.Violations), 1))
	for _, v := range f.Violations {
		problems = append(problems, problem{Field: classifier.FieldPath(v), Rule: v.GetRuleId(), Message: v.GetMessage()})
	}
	if sf, ok := errors.AsType[*semanticFailure](f.Err); ok {
		problems = append(problems, sf.problems...)
	}
	if len(problems) == 0 {
		problems = append(problems, problem{Message: f.Message})
	}
	js, _ := json.Marshal(problems) // plain structs of strings always marshal
	var b strings.Builder
	b.WriteString("Your previous answer was rejected (")
	b.WriteString(classifier.ReasonName(f.Reason))
	b.WriteString("). Problems, as JSON:\n")
	b.Write(js)
	b.WriteString("\nAnswer again with only one JSON object that conforms to the schema and fixes every problem.")
	return b.String()
}

// truncateRunes returns at most n runes of s.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
