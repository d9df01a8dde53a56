package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/guardgen/guardgen/providers/openai/openaitest"
)

func TestReadScript(t *testing.T) {
	t.Parallel()
	name := filepath.Join(t.TempDir(), "script.json")
	script := `[{"status":429,"headers":{"Retry-After":"2"},"error":{"message":"m","type":"requests","code":"rate_limit_exceeded"}},
		{"content":"{}","finish_reason":"length","delay":"300ms","usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}},
		{"hang":true},{"reset_connection":true},{"truncate_body":true},
		{"content":"{\"p\":3}","logprobs":[{"token":"{\"p\":","logprob":-0.5},{"token":"3}","logprob":-1}]},
		{"chunks":[{"content":"{\"p\":"},{"content":"3}","delay":"1s"}],"break_stream":true}]`
	if err := os.WriteFile(name, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readScript(name)
	if err != nil {
		t.Fatal(err)
	}
	want := []openaitest.Step{
		{Status: 429, Headers: map[string]string{"Retry-After": "2"}, Error: &openaitest.APIError{Message: "m", Type: "requests", Code: "rate_limit_exceeded"}},
		{Content: "{}", FinishReason: "length", Delay: 300 * time.Millisecond, Usage: &openaitest.Usage{PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3}},
		{Hang: true}, {ResetConnection: true}, {TruncateBody: true},
		{Content: `{"p":3}`, Logprobs: []openaitest.Logprob{{Token: `{"p":`, Logprob: -0.5}, {Token: "3}", Logprob: -1}}},
		{Chunks: []openaitest.Chunk{{Content: `{"p":`}, {Content: "3}", Delay: time.Second}}, BreakStream: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("readScript mismatch (-want +got):\n%s", diff)
	}
	if err := os.WriteFile(name, []byte(`[{"stauts":429}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readScript(name); err == nil {
		t.Error("readScript accepted a misspelt field")
	}
}
