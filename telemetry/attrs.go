package telemetry

import (
	"go.opentelemetry.io/otel/attribute"
	// v1.41.0 is the newest semconv package in otel v1.47.0 that still
	// holds the GenAI keys; later ones dropped them when the GenAI
	// conventions moved out of the core registry.
	genai "go.opentelemetry.io/otel/semconv/v1.41.0"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// guardgen's own span attributes.
const (
	// FailureDomainKey is the failure domain, e.g. "OUTPUT_SEMANTIC".
	FailureDomainKey attribute.Key = "guardgen.failure.domain"
	// FailureActionKey is the recovery action, e.g. "RETRY_WITH_BACKOFF".
	FailureActionKey attribute.Key = "guardgen.failure.action"
	// FailureReasonKey is the failure reason, e.g. "SCHEMA_MISMATCH".
	FailureReasonKey attribute.Key = "guardgen.failure.reason"
	// RetryAttemptKey is the 1-based number of a provider call within its
	// transport-retry loop.
	RetryAttemptKey attribute.Key = "guardgen.retry.attempt"
	// ValidationStatusKey is the outcome of parsing and validating one
	// attempt's output, e.g. "passed" or a failure reason.
	ValidationStatusKey attribute.Key = "guardgen.validation.status"
	// RepairsKey lists the repairs the extractor applied to the output.
	RepairsKey attribute.Key = "guardgen.repairs"
	// DegradedKey is true when the answer came from a fallback.
	DegradedKey attribute.Key = "guardgen.degraded"
)

// OpenTelemetry GenAI semantic-convention attributes, from the semconv
// package so their spelling follows the specification.
const (
	// GenAIOperationNameKey is gen_ai.operation.name ("chat").
	GenAIOperationNameKey = genai.GenAIOperationNameKey
	// GenAIProviderNameKey is gen_ai.provider.name ("openai", ...).
	GenAIProviderNameKey = genai.GenAIProviderNameKey
	// GenAIRequestModelKey is gen_ai.request.model.
	GenAIRequestModelKey = genai.GenAIRequestModelKey
	// GenAIResponseModelKey is gen_ai.response.model.
	GenAIResponseModelKey = genai.GenAIResponseModelKey
	// GenAIResponseFinishReasonsKey is gen_ai.response.finish_reasons, a
	// string slice.
	GenAIResponseFinishReasonsKey = genai.GenAIResponseFinishReasonsKey
	// GenAIUsageInputTokensKey is gen_ai.usage.input_tokens.
	GenAIUsageInputTokensKey = genai.GenAIUsageInputTokensKey
	// GenAIUsageOutputTokensKey is gen_ai.usage.output_tokens.
	GenAIUsageOutputTokensKey = genai.GenAIUsageOutputTokensKey
)

// GenAIOperationChat is gen_ai.operation.name = "chat", the operation of a
// provider call.
var GenAIOperationChat = genai.GenAIOperationNameChat

// FailureAttributes are the span attributes of a classified failure, with
// the same values as the metric labels.
func FailureAttributes(d guardgenv1.FailureDomain, a guardgenv1.RecoveryAction, r guardgenv1.FailureReason) []attribute.KeyValue {
	return []attribute.KeyValue{
		FailureDomainKey.String(DomainLabel(d)),
		FailureActionKey.String(ActionLabel(a)),
		FailureReasonKey.String(ReasonLabel(r)),
	}
}
