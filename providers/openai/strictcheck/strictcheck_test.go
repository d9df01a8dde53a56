package strictcheck_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/guardgen/guardgen/providers/openai"
	"github.com/guardgen/guardgen/providers/openai/strictcheck"
)

// TestCheckRejects: the checker catches known-bad schemas on its own.
func TestCheckRejects(t *testing.T) {
	t.Parallel()
	ok := `{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}`
	if err := strictcheck.Check([]byte(ok)); err != nil {
		t.Fatalf("strictcheck.Check(valid) = %v", err)
	}
	deep := `{"type":"string"}`
	for range openai.MaxStrictDepth {
		deep = fmt.Sprintf(`{"type":"object","properties":{"n":%s},"required":["n"],"additionalProperties":false}`, deep)
	}
	tooDeep := fmt.Sprintf(`{"type":"object","properties":{"n":%s},"required":["n"],"additionalProperties":false}`, deep)
	tests := []struct {
		name, in string
		want     error
		reason   string
	}{
		{"missing additionalProperties", `{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`, openai.ErrNotStrict, "additionalProperties: false"},
		{"nested missing additionalProperties", `{"type":"object","properties":{"o":{"type":"object","properties":{},"required":[]}},"required":["o"],"additionalProperties":false}`, openai.ErrNotStrict, "additionalProperties: false"},
		{"additionalProperties schema", `{"type":"object","properties":{},"required":[],"additionalProperties":{"type":"string"}}`, openai.ErrNotStrict, "additionalProperties: false"},
		{"optional property", `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"required":["a"],"additionalProperties":false}`, openai.ErrNotStrict, `"b" is not in required`},
		{"unsupported keyword", `{"type":"object","properties":{"a":{"type":"string","minLength":1}},"required":["a"],"additionalProperties":false}`, openai.ErrNotStrict, `"minLength"`},
		{"unsupported format", `{"type":"object","properties":{"a":{"type":"string","format":"uri"}},"required":["a"],"additionalProperties":false}`, openai.ErrNotStrict, "format"},
		{"root anyOf", `{"anyOf":[` + ok + `]}`, openai.ErrNotStrict, "root"},
		{"root not object", `{"type":"array","items":{"type":"string"}}`, openai.ErrNotStrict, "root"},
		{"type list", `{"type":"object","properties":{"a":{"type":["integer","string"]}},"required":["a"],"additionalProperties":false}`, openai.ErrNotStrict, "type list"},
		{"no type", `{"type":"object","properties":{"a":{"enum":["x"]}},"required":["a"],"additionalProperties":false}`, openai.ErrNotStrict, "must have a type"},
		{"dangling $ref", `{"type":"object","properties":{"a":{"$ref":"#/$defs/X"}},"required":["a"],"additionalProperties":false}`, openai.ErrNotStrict, "names no definition"},
		{"$ref with siblings", `{"type":"object","properties":{"a":{"$ref":"#","description":"x"}},"required":["a"],"additionalProperties":false}`, openai.ErrNotStrict, "stand alone"},
		{"array without items", `{"type":"object","properties":{"a":{"type":"array"}},"required":["a"],"additionalProperties":false}`, openai.ErrNotStrict, "items"},
		{"boolean schema", `{"type":"object","properties":{"a":true},"required":["a"],"additionalProperties":false}`, openai.ErrNotStrict, "JSON object"},
		{"too deep", tooDeep, openai.ErrTooLarge, "nested 11 levels"},
		{"too many enum values", enumStrictObject(openai.MaxStrictEnumValues + 1), openai.ErrTooLarge, "enum values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := strictcheck.Check([]byte(tt.in))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Check = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Check = %v, want a reason containing %q", err, tt.reason)
			}
		})
	}
}

// enumStrictObject is a strict object whose one property is an enum of n
// values.
func enumStrictObject(n int) string {
	values := make([]string, n)
	for i := range values {
		values[i] = fmt.Sprintf(`"v%d"`, i)
	}
	return `{"type":"object","properties":{"e":{"type":"string","enum":[` + strings.Join(values, ",") + `]}},"required":["e"],"additionalProperties":false}`
}
