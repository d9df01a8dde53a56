package openaitest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Step scripts the server's answer to one chat completion request. Its zero
// value answers 200 with an empty JSON object as content and finish reason
// "stop".
//
// Transport behaviours are checked in this order: Hang, ResetConnection,
// then (after Delay) TruncateBody; otherwise the server answers with Status,
// Headers and either Body, Error or a chat completion.
type Step struct {
	// Status is the HTTP status code; 0 means 200, or 500 when Error is set.
	Status int
	// Headers are added to the response, e.g. Retry-After or retry-after-ms.
	Headers map[string]string
	// Error, when set, is sent as the OpenAI error body
	// {"error":{"message","type","param","code"}}.
	Error *APIError
	// Body, when non-empty, is sent verbatim instead of a chat completion or
	// Error (an HTML error page from a proxy, say), as text/plain unless
	// Headers set Content-Type.
	Body string
	// Delay waits before answering; if the client goes away first, the
	// request is recorded as cancelled and nothing is sent. Close cuts the
	// wait short and drops the connection.
	Delay time.Duration
	// Hang blocks until the client goes away (recorded as cancelled) or the
	// server closes (the connection is dropped without an answer).
	Hang bool
	// ResetConnection hijacks the connection and closes it abruptly with
	// SO_LINGER 0, so the client sees a TCP reset and no response.
	ResetConnection bool
	// TruncateBody sends the status line, headers with the full
	// Content-Length and the first half of the response body, then closes
	// the connection.
	TruncateBody bool

	// Content is the assistant message's content; "" means "{}" unless
	// Refusal is set or NoContent is true. Content longer than the
	// request's max_completion_tokens (at four characters per token) is cut
	// there with finish reason "length", unless FinishReason is set.
	Content string
	// NoContent sends a null content even when Refusal is empty.
	NoContent bool
	// FinishReason is choices[0].finish_reason; "" means "stop".
	FinishReason string
	// Refusal is the assistant message's refusal text; when set, content is
	// null unless Content is also set.
	Refusal string
	// Usage is reported as usage; nil means a small deterministic count.
	Usage *Usage
	// Model is the reported model; "" echoes the request's model.
	Model string
	// NoChoices answers 200 with an empty choices array.
	NoChoices bool
	// ToolArguments, when set, answers with one call of the function the
	// request's tool_choice names (or "answer" when it names none), with
	// these arguments, null content and finish reason "stop" as OpenAI
	// reports a forced call (FinishReason overrides it).
	ToolArguments string
	// SecondToolArguments, with ToolArguments, adds a second, parallel call
	// of the same function (index 1) after the first, as a model allowed
	// parallel tool calls may make.
	SecondToolArguments string
	// Logprobs are choices[0].logprobs.content, sent only when the request
	// asked for logprobs (as the API does); nil sends null. Their tokens
	// should spell Content.
	Logprobs []Logprob

	// Chunks are the pieces of the content (of ToolArguments, when set) as
	// a streaming request ("stream": true) gets them, in server-sent
	// events, each after its Delay; without Chunks the whole content is one
	// chunk, with Logprobs. A request that does not stream gets their
	// concatenation when Content (ToolArguments) is empty. The request's
	// max_completion_tokens cuts Content, not Chunks.
	Chunks []Chunk
	// BreakStream cuts the connection after the chunks, before the finish
	// reason, the usage and [DONE]: a stream broken mid-answer.
	BreakStream bool
	// PadContent appends this many spaces to the assistant content, sent
	// in chunks without a Content-Length, so that a test can send an
	// answer of any size without holding it in memory.
	PadContent int64
}

// Chunk is one piece of a streamed answer.
type Chunk struct {
	Content string
	// Delay waits before the chunk is sent; if the client goes away first,
	// the request is recorded as cancelled and nothing more is sent.
	Delay time.Duration
	// Logprobs are the chunk's tokens, sent only when the request asked
	// for logprobs.
	Logprobs []Logprob
}

// Stream answers a streaming request with chunks, each delay before the
// chunk of the same index; a request that does not stream gets their
// concatenation.
func Stream(chunks []string, delays ...time.Duration) Step {
	s := Step{Chunks: make([]Chunk, len(chunks))}
	for i, c := range chunks {
		s.Chunks[i].Content = c
		if i < len(delays) {
			s.Chunks[i].Delay = delays[i]
		}
	}
	return s
}

// unchunked is step for a request that does not stream: the chunks'
// concatenation is its content, or, when req forces a function call, its
// tool arguments.
func (step Step) unchunked(req map[string]any) Step {
	if len(step.Chunks) == 0 || step.Content != "" || step.ToolArguments != "" {
		return step
	}
	if forcesTool(req) {
		step.ToolArguments = joined(step.Chunks)
	} else {
		step.Content = joined(step.Chunks)
	}
	return step
}

// forcesTool reports whether req forces a function call (tools mode).
func forcesTool(req map[string]any) bool {
	_, ok := req["tool_choice"].(map[string]any)
	return ok
}

// joined is the concatenation of the chunks' content.
func joined(chunks []Chunk) string {
	var b strings.Builder
	for _, c := range chunks {
		b.WriteString(c.Content)
	}
	return b.String()
}

// Logprob is one content token and its log-probability.
type Logprob struct {
	Token   string
	Logprob float64
	// Bytes are the token's UTF-8 bytes; nil means Token's. Set them for a
	// token that holds part of a multi-byte character, whose Token text
	// the API writes as an escape.
	Bytes []byte
}

// APIError is an OpenAI error body. Empty fields are sent as null, as the
// API does.
type APIError struct {
	Message string
	Type    string
	Code    string
	Param   string
}

// Usage is a token count as the API reports it. CachedTokens and
// ReasoningTokens are sent as prompt_tokens_details.cached_tokens and
// completion_tokens_details.reasoning_tokens when non-zero.
type Usage struct {
	PromptTokens     int64
	CompletionTokens int64
	TotalTokens      int64
	CachedTokens     int64
	ReasoningTokens  int64
}

// ToolCall answers with a call of the forced function carrying arguments.
func ToolCall(arguments string) Step { return Step{ToolArguments: arguments} }

// SchemaRejected answers 400 the way OpenAI refuses a response_format
// schema it cannot take (param "response_format").
func SchemaRejected() Step {
	return Step{Status: http.StatusBadRequest, Error: &APIError{
		Message: "Invalid schema for response_format 'output': In context=(), 'additionalProperties' is required to be supplied and to be false.",
		Type:    "invalid_request_error",
		Param:   "response_format",
	}}
}

// VerdictSchema is the json_schema name guardgen gives its verifier
// requests (guardgen.v1.Verdict); a request that names it in
// response_format or in its first system message is a verifier request.
const VerdictSchema = "guardgen_v1_Verdict"

// Verdict answers a verifier request with a guardgen.v1.Verdict.
func Verdict(supported bool, reason string) Step {
	b, _ := json.Marshal(map[string]any{"supported": supported, "reason": reason}) // plain values always marshal
	return Step{Content: string(b)}
}

// Reply answers with content and finish reason "stop".
func Reply(content string) Step { return Step{Content: content} }

// Fenced answers with content inside a Markdown ```json fence.
func Fenced(content string) Step { return Step{Content: "```json\n" + content + "\n```"} }

// Prose answers with content surrounded by chatty prose.
func Prose(content string) Step {
	return Step{Content: "Sure! Here is the result you asked for:\n\n" + content + "\n\nLet me know if you need anything else."}
}

// Malformed answers with JSON that is cut off mid-object, with finish
// reason "stop" (a model mistake, not truncation).
func Malformed() Step {
	return Step{Content: `{"category": "billing", "priority": 3, "summary": "Customer was charged tw`}
}

// Length answers with content cut off at the token limit: finish reason
// "length".
func Length(content string) Step { return Step{Content: content, FinishReason: "length"} }

// ContentFiltered answers 200 with no content and finish reason
// "content_filter".
func ContentFiltered() Step { return Step{NoContent: true, FinishReason: "content_filter"} }

// Refusal answers with a refusal message and null content.
func Refusal(text string) Step { return Step{Refusal: text} }

// RateLimited answers 429 with a rate-limit error and Retry-After set to
// retryAfter (seconds or an HTTP date); "" sends no Retry-After.
func RateLimited(retryAfter string) Step {
	s := Step{Status: http.StatusTooManyRequests, Error: &APIError{
		Message: "Rate limit reached for requests per min (RPM). Please try again later.",
		Type:    "requests",
		Code:    "rate_limit_exceeded",
	}}
	if retryAfter != "" {
		s.Headers = map[string]string{"Retry-After": retryAfter}
	}
	return s
}

// RateLimitedMs answers 429 with a rate-limit error and retry-after-ms set.
func RateLimitedMs(ms int) Step {
	s := RateLimited("")
	s.Headers = map[string]string{"retry-after-ms": strconv.Itoa(ms)}
	return s
}

// InsufficientQuota answers 429 with the insufficient_quota error OpenAI
// sends when billing quota is exhausted.
func InsufficientQuota() Step {
	return Step{Status: http.StatusTooManyRequests, Error: &APIError{
		Message: "You exceeded your current quota, please check your plan and billing details.",
		Type:    "insufficient_quota",
		Code:    "insufficient_quota",
	}}
}

// ServerError answers with a 5xx status and a server_error body.
func ServerError(status int) Step {
	return Step{Status: status, Error: &APIError{
		Message: "The server had an error while processing your request. Sorry about that!",
		Type:    "server_error",
	}}
}

// ContextLengthExceeded answers 400 context_length_exceeded.
func ContextLengthExceeded() Step {
	return Step{Status: http.StatusBadRequest, Error: &APIError{
		Message: "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.",
		Type:    "invalid_request_error",
		Code:    "context_length_exceeded",
		Param:   "messages",
	}}
}

// ContentPolicyViolation answers 400 content_policy_violation, as OpenAI
// does when a request is rejected by its safety system.
func ContentPolicyViolation() Step {
	return Step{Status: http.StatusBadRequest, Error: &APIError{
		Message: "Your request was rejected as a result of our safety system.",
		Type:    "invalid_request_error",
		Code:    "content_policy_violation",
	}}
}

// AzureContentFilter answers 400 the way Azure OpenAI does when its content
// filter blocks a prompt: code "content_filter", param "prompt" and an
// innererror.
func AzureContentFilter() Step {
	return Step{
		Status:  http.StatusBadRequest,
		Headers: map[string]string{"Content-Type": "application/json"},
		Body: `{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",` +
			`"type":null,"param":"prompt","code":"content_filter","status":400,` +
			`"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":true,"severity":"high"}}}}}`,
	}
}

// InvalidRequest answers 400 with a generic invalid_request_error.
func InvalidRequest() Step {
	return Step{Status: http.StatusBadRequest, Error: &APIError{
		Message: "Invalid value for 'temperature'.",
		Type:    "invalid_request_error",
		Code:    "invalid_value",
		Param:   "temperature",
	}}
}

// Unauthorized answers 401 invalid_api_key.
func Unauthorized() Step {
	return Step{Status: http.StatusUnauthorized, Error: &APIError{
		Message: "Incorrect API key provided.",
		Type:    "invalid_request_error",
		Code:    "invalid_api_key",
	}}
}

// Forbidden answers 403.
func Forbidden() Step {
	return Step{Status: http.StatusForbidden, Error: &APIError{
		Message: "Country, region, or territory not supported",
		Type:    "request_forbidden",
		Code:    "unsupported_country_region_territory",
	}}
}

// NotFound answers 404 model_not_found.
func NotFound() Step {
	return Step{Status: http.StatusNotFound, Error: &APIError{
		Message: "The model `gpt-9` does not exist or you do not have access to it.",
		Type:    "invalid_request_error",
		Code:    "model_not_found",
		Param:   "model",
	}}
}
