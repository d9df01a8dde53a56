package openai

import (
	"crypto/tls"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/propagation"
)

// OutputMode is how the provider asks the model for JSON.
type OutputMode int

const (
	// ModeJSONSchema sends response_format json_schema: Structured Outputs,
	// strict when the schema fits OpenAI's strict subset (see [Strict]).
	ModeJSONSchema OutputMode = iota
	// ModeJSONObject sends response_format json_object (JSON mode) and puts
	// the schema in the system instructions.
	ModeJSONObject
	// ModePrompt sends no response_format and puts the schema in the system
	// instructions, for compatible servers without JSON mode.
	ModePrompt
	// ModeTools sends the schema as the parameters of one function and
	// forces the model to call it (tool_choice); the call's arguments are
	// the answer. For servers that support tools but not json_schema.
	ModeTools
)

// String returns the mode's name as used in configuration.
func (m OutputMode) String() string {
	switch m {
	case ModeJSONSchema:
		return "json_schema"
	case ModeJSONObject:
		return "json_object"
	case ModePrompt:
		return "prompt"
	case ModeTools:
		return "tools"
	}
	return "OutputMode(unknown)"
}

// TokenLimit is the request field that carries the output token limit.
type TokenLimit int

const (
	// TokenLimitMaxCompletionTokens sends max_completion_tokens, OpenAI's
	// current field, which its reasoning models require.
	TokenLimitMaxCompletionTokens TokenLimit = iota
	// TokenLimitMaxTokens sends the deprecated max_tokens, which many
	// compatible servers still read instead.
	TokenLimitMaxTokens
	// TokenLimitBoth sends both fields with the same value.
	TokenLimitBoth
)

// String returns the field's name as used in configuration.
func (t TokenLimit) String() string {
	switch t {
	case TokenLimitMaxCompletionTokens:
		return "max_completion_tokens"
	case TokenLimitMaxTokens:
		return "max_tokens"
	case TokenLimitBoth:
		return "both"
	}
	return "TokenLimit(unknown)"
}

// DefaultMaxIdleConns bounds the idle upstream connections when
// Options.MaxIdleConns is zero.
const DefaultMaxIdleConns = 1024

// Options configure a Provider. BaseURL, Model and MaxResponseBytes are
// required (config.Default and config.ProviderModel and ProviderBaseURL
// hold the defaults); the other zero values mean strict Structured
// Outputs, no per-request timeout and no API key.
type Options struct {
	// BaseURL is the API root, e.g. https://api.openai.com/v1 or a
	// compatible server's /v1 URL.
	BaseURL string
	// APIKey is the key itself, already read by the caller (OPENAI_API_KEY);
	// it is sent as a Bearer token and never logged.
	APIKey string
	// Model is used when a request does not name one.
	Model string
	// Organization and Project set the OpenAI-Organization and
	// OpenAI-Project headers when non-empty.
	Organization string
	Project      string
	// Timeout bounds each upstream request; hitting it is DEADLINE_EXCEEDED
	// (an upstream timeout, which guardgen may retry). 0 means no bound of
	// the provider's own: the caller's context bounds the request.
	Timeout time.Duration
	// Mode selects how JSON output is requested; the zero value is
	// ModeJSONSchema.
	Mode OutputMode
	// HTTPClient makes the requests; nil means the provider's own,
	// released by Close: for a cleartext (http://) base URL reached without
	// a proxy, connections it manages itself (HTTP/1.1, no goroutines per
	// connection); for any other, a clone of http.DefaultTransport (HTTPS
	// with HTTP/2 by ALPN, the proxy environment).
	HTTPClient *http.Client
	// MaxIdleConns bounds the idle upstream connections the provider's own
	// client keeps for reuse (not used with HTTPClient); 0 means
	// DefaultMaxIdleConns. A call in flight holds one connection, so with
	// as many as the calls that can be in flight a burst finds its
	// connections open again rather than dialing most of them anew (at
	// 5,000 in flight against a 1 s upstream, 1,024 of them cost 1.09–1.16× the
	// CPU per request); idle ones close after 90 s.
	MaxIdleConns int
	// TLS configures HTTPS to the upstream for the provider's own client
	// (not used with HTTPClient): roots to trust, a client certificate.
	// nil means the system roots. HTTP/2 is negotiated either way.
	TLS *tls.Config
	// MaxResponseBytes bounds each upstream response body; a larger one is
	// not read past the bound and fails with RESOURCE_EXHAUSTED and
	// ErrorInfo reason OUTPUT_TOO_LARGE. Positive.
	MaxResponseBytes int64
	// MaxOutputTokens is sent (in the TokenLimit field) when a request does
	// not set its own; 0 leaves it to the model.
	MaxOutputTokens uint32
	// TokenLimit selects the field the output token limit is sent in; the
	// zero value is max_completion_tokens.
	TokenLimit TokenLimit
	// Now is the clock used to read HTTP-date Retry-After headers; nil means
	// time.Now.
	Now func() time.Time
	// Propagator writes the trace context of each call (W3C traceparent,
	// tracestate, baggage) into the upstream request's headers, so the
	// upstream's spans join the caller's trace; nil sends none.
	Propagator propagation.TextMapPropagator
}

// OptionsFromEnv returns Options from the standard OpenAI environment
// variables: OPENAI_API_KEY, OPENAI_BASE_URL and OPENAI_MODEL, each empty
// when unset. getenv is os.Getenv in production; other variables the SDK
// would read on its own (OPENAI_ORG_ID, ...) are deliberately not consulted,
// so Options are the whole configuration.
func OptionsFromEnv(getenv func(string) string) Options {
	return Options{
		APIKey:  getenv("OPENAI_API_KEY"),
		BaseURL: getenv("OPENAI_BASE_URL"),
		Model:   getenv("OPENAI_MODEL"),
	}
}
