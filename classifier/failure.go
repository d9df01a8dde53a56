package classifier

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/internal/protoenum"
)

// ErrorInfoDomain is the google.rpc.ErrorInfo domain of guardgen's errors.
const ErrorInfoDomain = "guardgen.dev"

// Failure is a classified failure: a value inside guardgen, turned into a
// google.rpc.Status only at the server edge.
//
// A Failure never changes once made. A provider error is classified once
// per attempt, and that one value is read by the retry decision, the
// breaker, the budget, the metrics and the report; so With and the other
// With methods return a changed copy, and nothing assigns to a Failure's
// fields after New, Wrap or a From function returns it.
type Failure struct {
	Reason guardgenv1.FailureReason
	Decision
	// Message is safe to show to callers: it never holds raw model output,
	// upstream error bodies or secrets.
	Message    string
	Metadata   map[string]string
	Violations []*validatepb.Violation
	// RetryDelay is how long the caller should wait before trying again,
	// when known (upstream Retry-After); zero otherwise.
	RetryDelay time.Duration
	// Preview is a redacted, bounded prefix of the model output.
	Preview string
	// Attempts is the number of provider calls spent on the request.
	Attempts int
	// Err is the cause, for logs and errors.Is; it never reaches the wire.
	Err error
}

// New returns a Failure for reason, decided by the Matrix.
func New(reason guardgenv1.FailureReason, format string, args ...any) *Failure {
	return &Failure{Reason: reason, Decision: Decide(reason), Message: fmt.Sprintf(format, args...)}
}

// Wrap is New with a cause.
func Wrap(err error, reason guardgenv1.FailureReason, format string, args ...any) *Failure {
	f := New(reason, format, args...)
	f.Err = err
	return f
}

// Error implements error.
func (f *Failure) Error() string {
	name := ReasonName(f.Reason)
	if f.Message == "" {
		return name
	}
	return name + ": " + f.Message
}

// Unwrap returns the cause.
func (f *Failure) Unwrap() error { return f.Err }

// Recoverable reports whether repeating the request can succeed; it is
// false for REJECT_AND_FIX, as in the article.
func (f *Failure) Recoverable() bool {
	return f.Action != guardgenv1.RecoveryAction_RECOVERY_ACTION_REJECT_AND_FIX
}

// With returns a copy of f with the metadata entry key set to value.
func (f *Failure) With(key, value string) *Failure {
	c := f.clone()
	c.Metadata[key] = value
	return c
}

// WithRetryDelay returns a copy of f that tells the caller to wait d.
func (f *Failure) WithRetryDelay(d time.Duration) *Failure {
	c := f.clone()
	c.RetryDelay = d
	return c
}

// WithPreview returns a copy of f with the output preview p.
func (f *Failure) WithPreview(p string) *Failure {
	c := f.clone()
	c.Preview = p
	return c
}

// WithAttempts returns a copy of f that counts n provider calls.
func (f *Failure) WithAttempts(n int) *Failure {
	c := f.clone()
	c.Attempts = n
	return c
}

// WithViolations returns a copy of f with the validation violations v.
func (f *Failure) WithViolations(v []*validatepb.Violation) *Failure {
	c := f.clone()
	c.Violations = v
	return c
}

// WithReason returns a copy of f under reason, decided by the Matrix.
func (f *Failure) WithReason(reason guardgenv1.FailureReason) *Failure {
	c := f.clone()
	c.Reason, c.Decision = reason, Decide(reason)
	return c
}

// clone copies f, and its metadata map, which is shared otherwise.
func (f *Failure) clone() *Failure {
	c := *f
	c.Metadata = make(map[string]string, len(f.Metadata)+1)
	maps.Copy(c.Metadata, f.Metadata)
	return &c
}

// Detail returns the wire form of f.
func (f *Failure) Detail() *guardgenv1.FailureDetail {
	return &guardgenv1.FailureDetail{
		Domain:        f.Domain,
		Action:        f.Action,
		Message:       f.Message,
		Metadata:      maps.Clone(f.Metadata),
		Recoverable:   f.Recoverable(),
		Violations:    f.Violations,
		Attempts:      int32(f.Attempts),
		OutputPreview: f.Preview,
		Reason:        f.Reason,
	}
}

// ReasonName is reason's name without the enum prefix, e.g. RATE_LIMITED;
// it is the google.rpc.ErrorInfo reason.
func ReasonName(reason guardgenv1.FailureReason) string {
	return protoenum.Name(reason)
}

// As returns err as a *Failure: itself when it is one (anywhere in its
// chain), otherwise the classification of a provider error.
func As(err error) *Failure {
	if err == nil {
		return nil
	}
	if f, ok := errors.AsType[*Failure](err); ok {
		return f
	}
	return FromProviderError(err)
}

// FromProviderError classifies an error from ProviderService.Complete, as
// the provider contract defines its statuses. Context errors are the
// caller's deadline or cancellation, not the upstream's.
func FromProviderError(err error) *Failure {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return Wrap(err, guardgenv1.FailureReason_FAILURE_REASON_DEADLINE_EXCEEDED, "the request deadline ran out")
	case errors.Is(err, context.Canceled):
		return Wrap(err, guardgenv1.FailureReason_FAILURE_REASON_CANCELLED, "the request was cancelled")
	}
	st, ok := status.FromError(err)
	if !ok {
		return Wrap(err, guardgenv1.FailureReason_FAILURE_REASON_INTERNAL, "provider returned a non-status error")
	}
	info, retryInfo := statusDetails(st)
	var f *Failure
	switch st.Code() {
	case codes.ResourceExhausted:
		switch info.GetReason() {
		case "QUOTA_EXHAUSTED":
			f = New(guardgenv1.FailureReason_FAILURE_REASON_QUOTA_EXHAUSTED, "provider quota exhausted")
		case "OUTPUT_TOO_LARGE":
			f = New(guardgenv1.FailureReason_FAILURE_REASON_OUTPUT_TOO_LARGE, "provider answer exceeds the size limit; it was not read")
		default:
			f = New(guardgenv1.FailureReason_FAILURE_REASON_RATE_LIMITED, "provider rate limited the request")
		}
	case codes.Unavailable:
		f = New(guardgenv1.FailureReason_FAILURE_REASON_UPSTREAM_UNAVAILABLE, "provider unavailable")
	case codes.DeadlineExceeded:
		f = New(guardgenv1.FailureReason_FAILURE_REASON_UPSTREAM_TIMEOUT, "provider timed out")
	case codes.Canceled:
		f = New(guardgenv1.FailureReason_FAILURE_REASON_CANCELLED, "provider call cancelled")
	case codes.InvalidArgument:
		if info.GetReason() == "CONTEXT_LENGTH_EXCEEDED" {
			f = New(guardgenv1.FailureReason_FAILURE_REASON_CONTEXT_LENGTH_EXCEEDED, "prompt exceeds the model's context length")
		} else {
			f = New(guardgenv1.FailureReason_FAILURE_REASON_INVALID_REQUEST, "provider rejected the request as invalid")
		}
	case codes.FailedPrecondition:
		switch info.GetReason() {
		case "CONTENT_FILTER":
			f = New(guardgenv1.FailureReason_FAILURE_REASON_CONTENT_FILTER, "provider content policy blocked the request")
		case "SCHEMA_REJECTED":
			f = New(guardgenv1.FailureReason_FAILURE_REASON_SCHEMA_REJECTED, "provider rejected the output schema; change the schema or the provider's output_mode")
		default:
			f = New(guardgenv1.FailureReason_FAILURE_REASON_INVALID_REQUEST, "provider rejected the request")
		}
	case codes.Unauthenticated, codes.PermissionDenied, codes.NotFound:
		f = New(guardgenv1.FailureReason_FAILURE_REASON_PROVIDER_MISCONFIGURED, "provider misconfigured (%s)", st.Code())
	default:
		f = New(guardgenv1.FailureReason_FAILURE_REASON_INTERNAL, "provider failed (%s)", st.Code())
	}
	f.Err = err
	f.Metadata = map[string]string{"provider_code": st.Code().String()}
	if d := retryInfo.GetRetryDelay(); d != nil {
		f.RetryDelay = d.AsDuration()
	}
	return f
}

// statusDetails returns the ErrorInfo and RetryInfo in st, either may be nil.
func statusDetails(st *status.Status) (*errdetails.ErrorInfo, *errdetails.RetryInfo) {
	var (
		info  *errdetails.ErrorInfo
		retry *errdetails.RetryInfo
	)
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d
		case *errdetails.RetryInfo:
			retry = d
		}
	}
	return info, retry
}

// FromFinishReason classifies why the model stopped; nil means it finished
// normally and the output may be parsed.
func FromFinishReason(reason providerv1.FinishReason, refusal string) *Failure {
	var f *Failure
	switch reason {
	case providerv1.FinishReason_FINISH_REASON_STOP, providerv1.FinishReason_FINISH_REASON_UNSPECIFIED:
		return nil
	case providerv1.FinishReason_FINISH_REASON_LENGTH:
		f = New(guardgenv1.FailureReason_FAILURE_REASON_TRUNCATED, "output truncated at the token limit; it was not parsed")
	case providerv1.FinishReason_FINISH_REASON_CONTENT_FILTER:
		f = New(guardgenv1.FailureReason_FAILURE_REASON_CONTENT_FILTER, "output blocked by the provider's content filter")
	case providerv1.FinishReason_FINISH_REASON_REFUSAL:
		f = New(guardgenv1.FailureReason_FAILURE_REASON_REFUSAL, "the model refused the request")
		if refusal != "" {
			f = f.With("refusal", refusal)
		}
	default:
		f = New(guardgenv1.FailureReason_FAILURE_REASON_UNEXPECTED_FINISH, "the model stopped unexpectedly")
	}
	return f.With("finish_reason", reason.String())
}

// Retriable reports whether a provider error is a transient infrastructure
// fault that the transport retry interceptor may retry.
func Retriable(err error) bool { return As(err).Retriable() }

// Retriable reports whether f is a transient infrastructure fault that the
// transport retry interceptor may retry; false for a nil f.
func (f *Failure) Retriable() bool {
	return f != nil && f.Domain == infra && f.Action == retry &&
		f.Reason != guardgenv1.FailureReason_FAILURE_REASON_DEADLINE_EXCEEDED
}

// Infrastructure reports whether err is an infrastructure failure that a
// circuit breaker should count: not the caller's cancellation or deadline,
// not a 4xx, not a semantic failure.
func Infrastructure(err error) bool { return As(err).Infrastructure() }

// Infrastructure reports whether f is a failure of the provider's health
// (see the function Infrastructure); false for a nil f.
func (f *Failure) Infrastructure() bool {
	if f == nil || f.Domain != infra {
		return false
	}
	switch f.Reason {
	case guardgenv1.FailureReason_FAILURE_REASON_DEADLINE_EXCEEDED, guardgenv1.FailureReason_FAILURE_REASON_CIRCUIT_OPEN:
		return false
	}
	return true
}
