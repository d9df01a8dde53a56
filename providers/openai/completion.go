package openai

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// completion is the part of a chat.completion object that guardgen reads,
// or of a stream's chat.completion.chunk event (the same fields, but the
// message is a delta), decoded by decode.go; openai-go's types keep every
// field and its raw JSON, through gjson, which cost more than the rest of
// the provider together, and their reflective recursion took a call's
// goroutine past 16 KiB of stack. The tags name each field on the wire:
// encoding/json reads them in FuzzDecodeCompletion, the reference the
// decoder is held to. TestCompletionMatchesSDK and TestChunkMatchesSDK
// decode every scripted answer of openaitest both as openai-go's types and
// as these, and compare each field read here.
type completion struct {
	ID      string   `json:"id"`
	Model   string   `json:"model"`
	Choices []choice `json:"choices"`
	// Usage is nil when the upstream sent none: in a stream, it comes in
	// the last chunk only (include_usage).
	Usage *usage `json:"usage"`
}

type choice struct {
	FinishReason string   `json:"finish_reason"`
	Message      message  `json:"message"`
	Delta        message  `json:"delta"` // a stream's
	Logprobs     logprobs `json:"logprobs"`
}

// message is a choice's message, or a stream chunk's share of it.
type message struct {
	Content   string     `json:"content"`
	Refusal   string     `json:"refusal"`
	ToolCalls []toolCall `json:"tool_calls"`
}

// toolCall is a call the model made (in tools mode, the answer), or in a
// stream a piece of its arguments, Index saying which call it belongs to.
type toolCall struct {
	Index    int64 `json:"index"`
	Function struct {
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// usage is the token counts of a completion, or of a stream's last chunk.
type usage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	TotalTokens         int64 `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

// proto maps the counts; none sent is all zero.
func (u *usage) proto() *providerv1.Usage {
	if u == nil {
		return &providerv1.Usage{}
	}
	return &providerv1.Usage{
		InputTokens:       u.PromptTokens,
		OutputTokens:      u.CompletionTokens,
		TotalTokens:       u.TotalTokens,
		CachedInputTokens: u.PromptTokensDetails.CachedTokens,
		ReasoningTokens:   u.CompletionTokensDetails.ReasoningTokens,
	}
}

// logprobs is a choice's logprobs, whole or a chunk's share.
type logprobs struct {
	Content []logprobToken `json:"content"`
}

type logprobToken struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int64 `json:"bytes"`
}

// readCompletion reads and decodes a 2xx answer, and closes its body. A
// body that is not JSON is unreadable, by the SDK's rule (isJSON). The
// body is read into one buffer of the length it declares, which
// limitBody has bounded; the SDK's io.ReadAll grew a buffer from 512
// bytes, copying it on the way.
func readCompletion(resp *http.Response) (*completion, error) {
	defer resp.Body.Close()
	if !isJSON(resp.Header.Get("Content-Type")) {
		return nil, errNotJSON
	}
	var (
		body []byte
		err  error
	)
	if resp.ContentLength >= 0 {
		body = make([]byte, resp.ContentLength)
		_, err = io.ReadFull(resp.Body, body)
	} else {
		body, err = io.ReadAll(resp.Body)
	}
	if err != nil {
		return nil, fmt.Errorf("openai: reading the response body: %w", err)
	}
	return decodeCompletion(body)
}

// isJSON reports whether a Content-Type is JSON, by the SDK's rule: only
// then does it decode a body.
func isJSON(contentType string) bool {
	mediaType, _, _ := mime.ParseMediaType(contentType)
	return strings.Contains(mediaType, "application/json") || strings.HasSuffix(mediaType, "+json")
}
