package openai

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// completion is the part of a chat.completion object that guardgen reads,
// decoded from the upstream's body by encoding/json into these few fields
// (openai-go's ChatCompletion keeps every field and its raw JSON, through
// gjson, which cost more than the rest of the provider together).
// TestCompletionMatchesSDK decodes every scripted answer of openaitest
// both ways and compares each field read here.
type completion struct {
	ID      string   `json:"id"`
	Model   string   `json:"model"`
	Choices []choice `json:"choices"`
	Usage   usage    `json:"usage"`
}

type choice struct {
	FinishReason string `json:"finish_reason"`
	Message      struct {
		Content   string `json:"content"`
		Refusal   string `json:"refusal"`
		ToolCalls []struct {
			Function struct {
				Arguments string `json:"arguments"`
			} `json:"function"`
		} `json:"tool_calls"`
	} `json:"message"`
	Logprobs logprobs `json:"logprobs"`
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

func (u *usage) proto() *providerv1.Usage {
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

// chunk is the part of a chat.completion.chunk event that guardgen reads,
// decoded as completion is, for the same reason: the SDK's chunk decoding
// was most of a stream's cost, and its reflective recursion alone took a
// call's goroutine past 16 KiB of stack. TestChunkMatchesSDK decodes every
// event of openaitest's streamed repertoire both ways and compares.
type chunk struct {
	ID      string        `json:"id"`
	Model   string        `json:"model"`
	Choices []chunkChoice `json:"choices"`
	// Usage is set only in the last chunk, when include_usage was asked.
	Usage *usage `json:"usage"`
}

type chunkChoice struct {
	FinishReason string `json:"finish_reason"`
	Delta        struct {
		Content   string          `json:"content"`
		Refusal   string          `json:"refusal"`
		ToolCalls []toolCallDelta `json:"tool_calls"`
	} `json:"delta"`
	Logprobs logprobs `json:"logprobs"`
}

// toolCallDelta is a piece of a streamed tool call's arguments; Index
// says which of the parallel calls it belongs to.
type toolCallDelta struct {
	Index    int64 `json:"index"`
	Function struct {
		Arguments string `json:"arguments"`
	} `json:"function"`
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

// decodeCompletion reads a 2xx body. A body that is not JSON, or not a
// chat completion's shape, is an error (the upstream's answer is
// unreadable), as it is for the SDK.
func decodeCompletion(body []byte) (*completion, error) {
	c := new(completion)
	if err := json.Unmarshal(body, c); err != nil {
		return nil, err
	}
	return c, nil
}

// isJSON reports whether a Content-Type is JSON, by the SDK's rule: only
// then does it decode a body.
func isJSON(contentType string) bool {
	mediaType, _, _ := mime.ParseMediaType(contentType)
	return strings.Contains(mediaType, "application/json") || strings.HasSuffix(mediaType, "+json")
}
