package classifier

import (
	"google.golang.org/grpc/codes"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// Decision is one row of the decision matrix: what a failure reason means
// and what guardgen does about it.
type Decision struct {
	Domain guardgenv1.FailureDomain
	Action guardgenv1.RecoveryAction
	// Code is the gRPC code the caller sees when the failure is final.
	Code codes.Code
	// Reasks bounds how many times the attempt loop asks the model again
	// after this failure: -1 means as often as the semantic budget allows,
	// 0 never. Only output failures are re-asked; transport retries are the
	// provider interceptor's and are never put into a prompt.
	Reasks int
}

// Abbreviations keep the table below readable as a table.
const (
	infra    = guardgenv1.FailureDomain_FAILURE_DOMAIN_INFRASTRUCTURE
	input    = guardgenv1.FailureDomain_FAILURE_DOMAIN_INPUT_CONSTRAINT
	output   = guardgenv1.FailureDomain_FAILURE_DOMAIN_OUTPUT_SEMANTIC
	pipeline = guardgenv1.FailureDomain_FAILURE_DOMAIN_PIPELINE_LOGIC

	retry    = guardgenv1.RecoveryAction_RECOVERY_ACTION_RETRY_WITH_BACKOFF
	reject   = guardgenv1.RecoveryAction_RECOVERY_ACTION_REJECT_AND_FIX
	degrade  = guardgenv1.RecoveryAction_RECOVERY_ACTION_ALERT_AND_DEGRADE
	fallback = guardgenv1.RecoveryAction_RECOVERY_ACTION_FALLBACK_TO_CACHE
)

// Matrix is the decision matrix: every failure reason guardgen knows, with
// its domain, recovery action, gRPC code and re-ask bound. It is the
// article's table made exhaustive; TestMatrixCoversEveryReason keeps it so.
var Matrix = map[guardgenv1.FailureReason]Decision{
	// Transient infrastructure faults: the provider interceptor retries them
	// with jittered backoff, honouring RetryInfo, within the deadline.
	guardgenv1.FailureReason_FAILURE_REASON_RATE_LIMITED:         {infra, retry, codes.ResourceExhausted, 0},
	guardgenv1.FailureReason_FAILURE_REASON_UPSTREAM_UNAVAILABLE: {infra, retry, codes.Unavailable, 0},
	guardgenv1.FailureReason_FAILURE_REASON_UPSTREAM_TIMEOUT:     {infra, retry, codes.Unavailable, 0},
	guardgenv1.FailureReason_FAILURE_REASON_OVERLOADED:           {infra, retry, codes.ResourceExhausted, 0},
	guardgenv1.FailureReason_FAILURE_REASON_DEADLINE_EXCEEDED:    {infra, retry, codes.DeadlineExceeded, 0},
	// The server's own drain ran out on shutdown: another replica answers.
	guardgenv1.FailureReason_FAILURE_REASON_SHUTTING_DOWN: {infra, retry, codes.Unavailable, 0},
	// Retries exhausted, breaker open, quota gone: alert and degrade.
	guardgenv1.FailureReason_FAILURE_REASON_RETRIES_EXHAUSTED: {infra, degrade, codes.Unavailable, 0},
	guardgenv1.FailureReason_FAILURE_REASON_CIRCUIT_OPEN:      {infra, degrade, codes.Unavailable, 0},
	guardgenv1.FailureReason_FAILURE_REASON_QUOTA_EXHAUSTED:   {infra, degrade, codes.ResourceExhausted, 0},

	// The request cannot succeed as sent: never retried, never sent to
	// another model (a refusal must not be laundered through a fallback).
	guardgenv1.FailureReason_FAILURE_REASON_INVALID_REQUEST:         {input, reject, codes.InvalidArgument, 0},
	guardgenv1.FailureReason_FAILURE_REASON_UNKNOWN_TARGET:          {input, reject, codes.InvalidArgument, 0},
	guardgenv1.FailureReason_FAILURE_REASON_INVALID_DESCRIPTOR_SET:  {input, reject, codes.InvalidArgument, 0},
	guardgenv1.FailureReason_FAILURE_REASON_CONTEXT_LENGTH_EXCEEDED: {input, reject, codes.InvalidArgument, 0},
	guardgenv1.FailureReason_FAILURE_REASON_CONTENT_FILTER:          {input, reject, codes.FailedPrecondition, 0},
	guardgenv1.FailureReason_FAILURE_REASON_REFUSAL:                 {input, reject, codes.FailedPrecondition, 0},
	guardgenv1.FailureReason_FAILURE_REASON_CANCELLED:               {input, reject, codes.Canceled, 0},
	guardgenv1.FailureReason_FAILURE_REASON_REQUEST_TOO_LARGE:       {input, reject, codes.ResourceExhausted, 0},
	guardgenv1.FailureReason_FAILURE_REASON_UNAUTHENTICATED:         {input, reject, codes.Unauthenticated, 0},
	guardgenv1.FailureReason_FAILURE_REASON_PERMISSION_DENIED:       {input, reject, codes.PermissionDenied, 0},
	guardgenv1.FailureReason_FAILURE_REASON_UNKNOWN_METHOD:          {input, reject, codes.Unimplemented, 0},

	// The model answered, but not usably.
	// Truncated output is never parsed: serve from cache or a fallback.
	guardgenv1.FailureReason_FAILURE_REASON_TRUNCATED:        {output, fallback, codes.Aborted, 0},
	guardgenv1.FailureReason_FAILURE_REASON_OUTPUT_TOO_LARGE: {output, fallback, codes.Aborted, 0},
	// Formatting artefacts: re-ask within the semantic budget.
	guardgenv1.FailureReason_FAILURE_REASON_NO_JSON:           {output, retry, codes.Aborted, -1},
	guardgenv1.FailureReason_FAILURE_REASON_MALFORMED_JSON:    {output, retry, codes.Aborted, -1},
	guardgenv1.FailureReason_FAILURE_REASON_UNEXPECTED_FINISH: {output, retry, codes.Aborted, -1},
	// Structural mismatch: re-ask once, then degrade.
	guardgenv1.FailureReason_FAILURE_REASON_SCHEMA_MISMATCH: {output, retry, codes.Aborted, 1},
	guardgenv1.FailureReason_FAILURE_REASON_RULE_VIOLATION:  {output, retry, codes.Aborted, 1},
	// Semantic checks of critical fields (after validation passed): a
	// value written with low confidence, or one the verifier model found
	// unsupported. Re-ask once naming the field (and the verifier's
	// reason), then degrade like a rule violation.
	guardgenv1.FailureReason_FAILURE_REASON_LOW_CONFIDENCE:      {output, retry, codes.Aborted, 1},
	guardgenv1.FailureReason_FAILURE_REASON_VERIFICATION_FAILED: {output, retry, codes.Aborted, 1},
	// A business rule broken: alert and halt, no retry.
	guardgenv1.FailureReason_FAILURE_REASON_BUSINESS_RULE: {output, degrade, codes.Aborted, 0},

	// Bugs and misconfiguration: INTERNAL, alert.
	guardgenv1.FailureReason_FAILURE_REASON_INTERNAL:               {pipeline, degrade, codes.Internal, 0},
	guardgenv1.FailureReason_FAILURE_REASON_PROVIDER_MISCONFIGURED: {pipeline, degrade, codes.Internal, 0},
	// The upstream refused the output schema itself, strict and not: a
	// misconfiguration (schema or output mode) the caller cannot fix.
	guardgenv1.FailureReason_FAILURE_REASON_SCHEMA_REJECTED: {pipeline, degrade, codes.Internal, 0},
}

// Decide returns the matrix row for reason. An unknown reason is a bug in
// guardgen and decides as INTERNAL.
func Decide(reason guardgenv1.FailureReason) Decision {
	if d, ok := Matrix[reason]; ok {
		return d
	}
	return Matrix[guardgenv1.FailureReason_FAILURE_REASON_INTERNAL]
}
