package server

import (
	"context"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/telemetry"
)

// countRejection counts a call that failed with st if it was refused
// before any generation, by reason: a missing or wrong token, an unknown
// target type, any other bad request (protovalidate, prompt size, unknown
// route, bad descriptor set). Shed calls are counted where they are shed
// (admit). It decides on structure: the code, and the FailureDetail's
// reason and attempts (0: no provider was called).
func (s *Server) countRejection(ctx context.Context, st callStatus) {
	if st.code == codes.Unauthenticated {
		s.metrics.RecordRejected(ctx, telemetry.RejectUnauthenticated)
		return
	}
	d := st.detail
	if d == nil || d.GetAttempts() > 0 {
		return
	}
	switch d.GetReason() {
	case guardgenv1.FailureReason_FAILURE_REASON_UNKNOWN_TARGET:
		s.metrics.RecordRejected(ctx, telemetry.RejectUnknownTarget)
	case guardgenv1.FailureReason_FAILURE_REASON_INVALID_REQUEST, guardgenv1.FailureReason_FAILURE_REASON_INVALID_DESCRIPTOR_SET:
		s.metrics.RecordRejected(ctx, telemetry.RejectInvalidArgument)
	}
}

// PushbackTrailer is the trailer of gRFC A6 retry pushback: grpc-go (and
// the other gRPC libraries) with a retry policy wait this many
// milliseconds before retrying, and do not retry at all on a negative
// value.
const PushbackTrailer = "grpc-retry-pushback-ms"

// setPushback tells clients with a retry policy (ServiceConfig) when to
// retry a call that failed with st: a status with RetryInfo (a shed or
// rate-limited call, an upstream rate limit) gets grpc-retry-pushback-ms
// with the same delay; an UNAVAILABLE or RESOURCE_EXHAUSTED failure that
// guardgen has already retried upstream or that cannot recover (retries
// exhausted, breaker open, quota gone: ALERT_AND_DEGRADE) gets -1, so that
// clients do not multiply the upstream load.
func setPushback(ctx context.Context, st callStatus) {
	if v, ok := pushback(st); ok {
		_ = grpc.SetTrailer(ctx, metadata.Pairs(PushbackTrailer, v)) // fails only outside a call
	}
}

// pushback is the grpc-retry-pushback-ms value for st, if it has one.
func pushback(st callStatus) (string, bool) {
	if st.code != codes.Unavailable && st.code != codes.ResourceExhausted {
		return "", false
	}
	for _, d := range st.details {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return strconv.FormatInt(max(ri.GetRetryDelay().AsDuration().Milliseconds(), 0), 10), true
		}
	}
	if st.detail.GetAction() == guardgenv1.RecoveryAction_RECOVERY_ACTION_ALERT_AND_DEGRADE {
		return "-1", true
	}
	return "", false
}
