package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	openaisdk "github.com/openai/openai-go/v3"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// ErrorInfoDomain is the google.rpc.ErrorInfo domain of this provider's
// statuses.
const ErrorInfoDomain = "openai.guardgen.dev"

// google.rpc.ErrorInfo reasons this provider sets. The provider contract
// fixes QUOTA_EXHAUSTED, CONTEXT_LENGTH_EXCEEDED and CONTENT_FILTER; the
// others name the rest of the upstream faults for logs and metrics.
const (
	ReasonRateLimited      = "RATE_LIMITED"
	ReasonQuotaExhausted   = "QUOTA_EXHAUSTED"
	ReasonUnavailable      = "UPSTREAM_UNAVAILABLE"
	ReasonTimeout          = "UPSTREAM_TIMEOUT"
	ReasonContextLength    = "CONTEXT_LENGTH_EXCEEDED"
	ReasonContentFilter    = "CONTENT_FILTER"
	ReasonInvalidRequest   = "INVALID_REQUEST"
	ReasonUnauthenticated  = "UNAUTHENTICATED"
	ReasonPermissionDenied = "PERMISSION_DENIED"
	ReasonNotFound         = "NOT_FOUND"
	ReasonSchemaRejected   = "SCHEMA_REJECTED"
)

// ErrorInfo metadata keys: the only two this provider sets.
const (
	MetadataHTTPStatus   = "http_status"
	MetadataUpstreamCode = "upstream_code"
)

// maxRetryDelay caps a Retry-After the provider passes on, so absurd values
// cannot overflow a duration; guardgen never waits past the deadline anyway.
const maxRetryDelay = 24 * time.Hour

// fault turns a failed SDK call into a status, per the provider contract.
// Status messages are fixed strings: upstream error bodies can echo the
// prompt and never reach them. Every decision is on structure: the
// caller's context, the timeout's cause, *openai.Error's status code, code
// and type, the HTTP response, and error types.
func (p *Provider) fault(ctx, callCtx context.Context, resp *http.Response, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		// The caller's deadline or cancellation, not the upstream's fault.
		return status.FromContextError(ctxErr).Err()
	}
	if errors.Is(context.Cause(callCtx), errUpstreamTimeout) {
		return timeoutFault()
	}
	if apiErr, ok := errors.AsType[*openaisdk.Error](err); ok {
		return httpFault(upstreamFromAPIError(apiErr), p.now())
	}
	if resp != nil && resp.StatusCode >= http.StatusBadRequest {
		// An error status whose body is not an OpenAI error (a proxy's HTML
		// page, a cut-off body, one past the size limit): the status code
		// alone decides.
		return httpFault(upstreamError{Status: resp.StatusCode, Header: resp.Header}, p.now())
	}
	if errors.Is(err, errResponseTooLarge) {
		return withDetails(codes.ResourceExhausted, "openai: upstream response exceeds the size limit",
			&errdetails.ErrorInfo{Domain: ErrorInfoDomain, Reason: ReasonOutputTooLarge}, nil)
	}
	return transportFault(resp, err)
}

// upstreamError is what an upstream HTTP error says about itself.
type upstreamError struct {
	Status int
	// Code, Type and Param are the OpenAI error body's fields; InnerCode is
	// Azure's error.innererror.code.
	Code, Type, Param, InnerCode string
	Header                       http.Header
}

func upstreamFromAPIError(e *openaisdk.Error) upstreamError {
	u := upstreamError{Status: e.StatusCode, Code: e.Code, Type: e.Type, Param: e.Param}
	if e.Response != nil {
		u.Header = e.Response.Header
	}
	var inner struct {
		InnerError struct {
			Code string `json:"code"`
		} `json:"innererror"`
	}
	if json.Unmarshal([]byte(e.RawJSON()), &inner) == nil {
		u.InnerCode = inner.InnerError.Code
	}
	return u
}

// httpFault maps an upstream HTTP error status; now reads HTTP-date
// Retry-After values.
func httpFault(u upstreamError, now time.Time) error {
	info := &errdetails.ErrorInfo{Domain: ErrorInfoDomain, Metadata: map[string]string{
		MetadataHTTPStatus: strconv.Itoa(u.Status),
	}}
	if c := upstreamCode(u); c != "" {
		info.Metadata[MetadataUpstreamCode] = c
	}
	var (
		code  codes.Code
		msg   string
		retry bool // attach RetryInfo when the upstream said when to retry
	)
	switch {
	case u.Status == http.StatusTooManyRequests && (u.Code == "insufficient_quota" || u.Type == "insufficient_quota"):
		code, info.Reason, msg = codes.ResourceExhausted, ReasonQuotaExhausted, "upstream quota exhausted"
	case u.Status == http.StatusTooManyRequests:
		code, info.Reason, msg, retry = codes.ResourceExhausted, ReasonRateLimited, "upstream rate limited the request", true
	case u.Status == http.StatusUnauthorized:
		code, info.Reason, msg = codes.Unauthenticated, ReasonUnauthenticated, "upstream rejected the credentials"
	case u.Status == http.StatusForbidden:
		code, info.Reason, msg = codes.PermissionDenied, ReasonPermissionDenied, "upstream denied access"
	case u.Status == http.StatusNotFound:
		code, info.Reason, msg = codes.NotFound, ReasonNotFound, "upstream did not find the model or endpoint"
	case u.Status == http.StatusRequestTimeout:
		code, info.Reason, msg = codes.DeadlineExceeded, ReasonTimeout, "upstream timed out"
	case u.Status == http.StatusConflict || u.Status >= http.StatusInternalServerError:
		// 409 is transient at OpenAI (its SDKs retry it), like a 5xx.
		code, info.Reason, msg, retry = codes.Unavailable, ReasonUnavailable, "upstream unavailable", true
	case isContextLength(u):
		code, info.Reason, msg = codes.InvalidArgument, ReasonContextLength, "prompt exceeds the model's context length"
	case isContentFilter(u):
		code, info.Reason, msg = codes.FailedPrecondition, ReasonContentFilter, "upstream content policy blocked the request"
	case isSchemaRejected(u):
		code, info.Reason, msg = codes.FailedPrecondition, ReasonSchemaRejected, "upstream rejected the output schema"
	default: // 400, 422 and any other 4xx: the request itself was refused
		code, info.Reason, msg = codes.InvalidArgument, ReasonInvalidRequest, "upstream rejected the request"
	}
	var retryInfo *errdetails.RetryInfo
	if d, ok := retryAfter(u.Header, now); retry && ok {
		retryInfo = &errdetails.RetryInfo{RetryDelay: durationpb.New(d)}
	}
	return withDetails(code, fmt.Sprintf("openai: %s (HTTP %d)", msg, u.Status), info, retryInfo)
}

// isContextLength: the prompt does not fit. string_above_max_length is one
// message over the API's size limit, the same fix for the caller.
func isContextLength(u upstreamError) bool {
	return u.Code == "context_length_exceeded" || u.Code == "string_above_max_length"
}

// isContentFilter recognises OpenAI's safety rejections
// (content_policy_violation, and invalid_prompt for flagged prompts) and
// Azure OpenAI's content filter (code content_filter, innererror
// ResponsibleAIPolicyViolation).
func isContentFilter(u upstreamError) bool {
	for _, s := range []string{u.Code, u.Type} {
		switch s {
		case "content_policy_violation", "content_filter", "invalid_prompt":
			return true
		}
	}
	return u.InnerCode == "ResponsibleAIPolicyViolation"
}

// isSchemaRejected recognises an upstream refusing the output schema
// itself rather than the prompt: OpenAI names the parameter
// (response_format, or tools for a function's parameters), and some
// compatible servers say invalid_json_schema.
func isSchemaRejected(u upstreamError) bool {
	return strings.HasPrefix(u.Param, "response_format") || strings.HasPrefix(u.Param, "tools") ||
		u.Code == "invalid_json_schema"
}

// isSchemaRejection reports whether err is the provider's SCHEMA_REJECTED
// status.
func isSchemaRejection(err error) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.FailedPrecondition {
		return false
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == ReasonSchemaRejected {
			return true
		}
	}
	return false
}

// upstreamCode is the error's code (else type) when it looks like an
// identifier; anything else could be free text and is left out.
func upstreamCode(u upstreamError) string {
	c := u.Code
	if c == "" {
		c = u.Type
	}
	if len(c) > 64 {
		return ""
	}
	for i := 0; i < len(c); i++ {
		switch b := c[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '_', b == '-', b == '.', b == ':':
		default:
			return ""
		}
	}
	return c
}

// retryAfter reads retry-after-ms (milliseconds, OpenAI's precise form) or
// else Retry-After (delay-seconds or an HTTP date, RFC 9110 §10.2.3).
// ok is false when neither holds a usable value; a date in the past is a
// zero delay.
func retryAfter(h http.Header, now time.Time) (d time.Duration, ok bool) {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 && !math.IsInf(ms, 0) {
			return clampDelay(ms * float64(time.Millisecond)), true
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 || math.IsInf(secs, 0) || math.IsNaN(secs) {
			return 0, false
		}
		return clampDelay(secs * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return clampDelay(float64(t.Sub(now))), true
	}
	return 0, false
}

func clampDelay(ns float64) time.Duration {
	switch {
	case ns <= 0 || math.IsNaN(ns):
		return 0
	case ns >= float64(maxRetryDelay):
		return maxRetryDelay
	}
	return time.Duration(ns)
}

// transportFault maps an error without an HTTP error status: the
// connection failed or timed out, or an answer (resp) arrived that could
// not be read or decoded: cut off, not JSON, not a chat completion.
func transportFault(resp *http.Response, err error) error {
	var (
		netErr    net.Error
		urlErr    *url.Error
		opErr     *net.OpError
		syntaxErr *json.SyntaxError
	)
	switch {
	case errors.As(err, &netErr) && netErr.Timeout():
		return timeoutFault()
	case resp != nil, errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &syntaxErr):
		return withDetails(codes.Unavailable, "openai: upstream response truncated or unreadable",
			&errdetails.ErrorInfo{Domain: ErrorInfoDomain, Reason: ReasonUnavailable}, nil)
	case errors.As(err, &urlErr), errors.As(err, &opErr), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE):
		return withDetails(codes.Unavailable, "openai: upstream connection failed",
			&errdetails.ErrorInfo{Domain: ErrorInfoDomain, Reason: ReasonUnavailable}, nil)
	}
	// Not the network and not the upstream: building or decoding the
	// request in this process failed.
	return status.Error(codes.Internal, "openai: request failed")
}

func timeoutFault() error {
	return withDetails(codes.DeadlineExceeded, "openai: upstream timed out",
		&errdetails.ErrorInfo{Domain: ErrorInfoDomain, Reason: ReasonTimeout}, nil)
}

// fault builds a status with an ErrorInfo of reason and metadata md.
func fault(code codes.Code, msg, reason string, md map[string]string) error {
	return withDetails(code, msg, &errdetails.ErrorInfo{Domain: ErrorInfoDomain, Reason: reason, Metadata: md}, nil)
}

func withDetails(code codes.Code, msg string, info *errdetails.ErrorInfo, retry *errdetails.RetryInfo) error {
	st := status.New(code, msg)
	var err error
	if retry != nil {
		st, err = st.WithDetails(info, retry)
	} else {
		st, err = st.WithDetails(info)
	}
	if err != nil {
		return status.Error(code, msg) // details only fail to marshal on a bug
	}
	return st.Err()
}
