package telemetry

import (
	"go.opentelemetry.io/otel/attribute"
	// The semantic conventions guardgen follows: v1.41.0, the newest
	// semconv package of go.opentelemetry.io/otel v1.47.0 (the newest otel
	// the module proxy serves here) that holds the GenAI registry. v1.42.0
	// and v1.43.0 dropped gen_ai.* when the GenAI conventions moved out of
	// the core registry.
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/internal/protoenum"
)

// GenAISemconvVersion is the version of the OpenTelemetry semantic
// conventions whose GenAI spans and metrics guardgen emits.
const GenAISemconvVersion = "1.41.0"

// GenAI attribute keys, from the semconv package so their spelling follows
// the specification.
const (
	GenAIOperationNameKey         = semconv.GenAIOperationNameKey
	GenAIProviderNameKey          = semconv.GenAIProviderNameKey
	GenAIRequestModelKey          = semconv.GenAIRequestModelKey
	GenAIResponseModelKey         = semconv.GenAIResponseModelKey
	GenAIResponseIDKey            = semconv.GenAIResponseIDKey
	GenAIResponseFinishReasonsKey = semconv.GenAIResponseFinishReasonsKey
	GenAIUsageInputTokensKey      = semconv.GenAIUsageInputTokensKey
	GenAIUsageOutputTokensKey     = semconv.GenAIUsageOutputTokensKey
	GenAIOutputTypeKey            = semconv.GenAIOutputTypeKey
	ErrorTypeKey                  = semconv.ErrorTypeKey
)

// GenAIOperation is the operation of every provider call: chat.
const GenAIOperation = "chat"

// GenAISpanName is the name of a model-call span: "{gen_ai.operation.name}
// {gen_ai.request.model}", or the operation alone when no model is known.
func GenAISpanName(model string) string {
	if model == "" {
		return GenAIOperation
	}
	return GenAIOperation + " " + model
}

// Well-known gen_ai.provider.name values of the OpenAI-compatible servers
// guardgen has presets for; the others are the servers' own names, as the
// conventions ask for providers they do not list.
const (
	GenAIProviderOpenAI      = "openai"
	GenAIProviderAzureOpenAI = "azure.ai.openai"
	GenAIProviderAnthropic   = "anthropic"
	GenAIProviderGemini      = "gcp.gemini"
)

// GenAIEndpoint is a provider in GenAI terms: which kind of upstream
// (gen_ai.provider.name) at which address (server.address, server.port).
type GenAIEndpoint struct {
	// ProviderName is gen_ai.provider.name; empty means guardgen's name of
	// the provider.
	ProviderName string
	// ServerAddress and ServerPort are left out when empty or zero.
	ServerAddress string
	ServerPort    int
}

// providerName is gen_ai.provider.name, given guardgen's name of the
// provider.
func (e GenAIEndpoint) providerName(provider string) string {
	if e.ProviderName != "" {
		return e.ProviderName
	}
	return provider
}

// RequestAttributes are a model-call span's attributes known before the
// call: the operation, provider, model, output type, sampling parameters
// and server.
func (e GenAIEndpoint) RequestAttributes(provider, model string, s *providerv1.SamplingOptions) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 12)
	attrs = append(attrs,
		GenAIOperationNameKey.String(GenAIOperation),
		GenAIProviderNameKey.String(e.providerName(provider)),
		ProviderKey.String(provider),
		semconv.GenAIOutputTypeJSON,
	)
	if model != "" {
		attrs = append(attrs, GenAIRequestModelKey.String(model))
	}
	if s == nil {
		s = &providerv1.SamplingOptions{}
	}
	if s.Temperature != nil {
		attrs = append(attrs, semconv.GenAIRequestTemperature(s.GetTemperature()))
	}
	if s.TopP != nil {
		attrs = append(attrs, semconv.GenAIRequestTopP(s.GetTopP()))
	}
	if s.Seed != nil {
		attrs = append(attrs, semconv.GenAIRequestSeed(int(s.GetSeed())))
	}
	if n := s.GetMaxOutputTokens(); n > 0 {
		attrs = append(attrs, semconv.GenAIRequestMaxTokens(int(n)))
	}
	return append(attrs, e.serverAttributes()...)
}

func (e GenAIEndpoint) serverAttributes() []attribute.KeyValue {
	var attrs []attribute.KeyValue
	if e.ServerAddress != "" {
		attrs = append(attrs, semconv.ServerAddress(e.ServerAddress))
	}
	if e.ServerPort > 0 {
		attrs = append(attrs, semconv.ServerPort(e.ServerPort))
	}
	return attrs
}

// GenAIResponseAttributes are a model-call span's attributes from the
// answer: model, id, finish reason and usage, cached and reasoning tokens
// included when the upstream reported them.
func GenAIResponseAttributes(model, id, finishReason string, u *providerv1.Usage) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 7)
	attrs = append(attrs,
		GenAIResponseModelKey.String(model),
		GenAIResponseFinishReasonsKey.StringSlice([]string{finishReason}),
		GenAIUsageInputTokensKey.Int64(u.GetInputTokens()),
		GenAIUsageOutputTokensKey.Int64(u.GetOutputTokens()),
	)
	if id != "" {
		attrs = append(attrs, GenAIResponseIDKey.String(id))
	}
	if n := u.GetCachedInputTokens(); n > 0 {
		attrs = append(attrs, semconv.GenAIUsageCacheReadInputTokensKey.Int64(n))
	}
	if n := u.GetReasoningTokens(); n > 0 {
		attrs = append(attrs, semconv.GenAIUsageReasoningOutputTokensKey.Int64(n))
	}
	return attrs
}

// FinishReasonName is the GenAI spelling of a finish reason: stop, length,
// content_filter, refusal, tool_calls, other.
func FinishReasonName(r providerv1.FinishReason) string {
	return protoenum.Lower(r)
}
