package telemetry

import (
	"go.opentelemetry.io/otel/attribute"

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
	// ProviderKey is the provider's name in guardgen's configuration, next
	// to gen_ai.provider.name, which names the kind of upstream.
	ProviderKey attribute.Key = "guardgen.provider"
)

// FailureAttributes are the span attributes of a classified failure, with
// the same values as the metric labels.
func FailureAttributes(d guardgenv1.FailureDomain, a guardgenv1.RecoveryAction, r guardgenv1.FailureReason) []attribute.KeyValue {
	return []attribute.KeyValue{
		FailureDomainKey.String(DomainLabel(d)),
		FailureActionKey.String(ActionLabel(a)),
		FailureReasonKey.String(ReasonLabel(r)),
	}
}
