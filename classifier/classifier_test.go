package classifier_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"buf.build/go/protovalidate"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/guardgen/guardgen/classifier"
	examplesv1 "github.com/guardgen/guardgen/gen/guardgen/examples/v1"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

func TestMatrixCoversEveryReason(t *testing.T) {
	t.Parallel()
	values := guardgenv1.FailureReason_FAILURE_REASON_UNSPECIFIED.Descriptor().Values()
	for i := range values.Len() {
		r := guardgenv1.FailureReason(values.Get(i).Number())
		if r == guardgenv1.FailureReason_FAILURE_REASON_UNSPECIFIED {
			continue
		}
		d, ok := classifier.Matrix[r]
		if !ok {
			t.Errorf("Matrix has no row for %s", r)
			continue
		}
		if d.Domain == guardgenv1.FailureDomain_FAILURE_DOMAIN_UNSPECIFIED || d.Action == guardgenv1.RecoveryAction_RECOVERY_ACTION_UNSPECIFIED || d.Code == codes.OK {
			t.Errorf("Matrix row for %s is incomplete: %+v", r, d)
		}
	}
}

// row is what a caller sees of a failure.
type row struct {
	Reason      string
	Domain      guardgenv1.FailureDomain
	Action      guardgenv1.RecoveryAction
	Code        codes.Code
	Recoverable bool
	RetryDelay  time.Duration
}

func rowOf(f *classifier.Failure) row {
	return row{classifier.ReasonName(f.Reason), f.Domain, f.Action, f.Code, f.Recoverable(), f.RetryDelay}
}

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

func withDetails(code codes.Code, details ...*errdetails.ErrorInfo) error {
	st := status.New(code, "upstream said something")
	for _, d := range details {
		st, _ = st.WithDetails(d)
	}
	return st.Err()
}

func TestFromProviderError(t *testing.T) {
	t.Parallel()
	rateLimited, _ := status.New(codes.ResourceExhausted, "slow down").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(1500 * time.Millisecond)})
	tests := []struct {
		name string
		err  error
		want row
	}{
		{"rate limit with RetryInfo", rateLimited.Err(), row{"RATE_LIMITED", infra, retry, codes.ResourceExhausted, true, 1500 * time.Millisecond}},
		{"quota exhausted", withDetails(codes.ResourceExhausted, &errdetails.ErrorInfo{Reason: "QUOTA_EXHAUSTED"}), row{"QUOTA_EXHAUSTED", infra, degrade, codes.ResourceExhausted, true, 0}},
		{"answer too large", withDetails(codes.ResourceExhausted, &errdetails.ErrorInfo{Reason: "OUTPUT_TOO_LARGE"}), row{"OUTPUT_TOO_LARGE", output, fallback, codes.Aborted, true, 0}},
		{"unavailable", status.Error(codes.Unavailable, "503"), row{"UPSTREAM_UNAVAILABLE", infra, retry, codes.Unavailable, true, 0}},
		{"upstream timeout", status.Error(codes.DeadlineExceeded, "slow"), row{"UPSTREAM_TIMEOUT", infra, retry, codes.Unavailable, true, 0}},
		{"caller deadline", fmt.Errorf("call: %w", context.DeadlineExceeded), row{"DEADLINE_EXCEEDED", infra, retry, codes.DeadlineExceeded, true, 0}},
		{"caller cancelled", context.Canceled, row{"CANCELLED", input, reject, codes.Canceled, false, 0}},
		{"context length", withDetails(codes.InvalidArgument, &errdetails.ErrorInfo{Reason: "CONTEXT_LENGTH_EXCEEDED"}), row{"CONTEXT_LENGTH_EXCEEDED", input, reject, codes.InvalidArgument, false, 0}},
		{"other 400", status.Error(codes.InvalidArgument, "bad"), row{"INVALID_REQUEST", input, reject, codes.InvalidArgument, false, 0}},
		{"content policy", withDetails(codes.FailedPrecondition, &errdetails.ErrorInfo{Reason: "CONTENT_FILTER"}), row{"CONTENT_FILTER", input, reject, codes.FailedPrecondition, false, 0}},
		{"schema rejected", withDetails(codes.FailedPrecondition, &errdetails.ErrorInfo{Reason: "SCHEMA_REJECTED"}), row{"SCHEMA_REJECTED", pipeline, degrade, codes.Internal, true, 0}},
		{"401", status.Error(codes.Unauthenticated, "key"), row{"PROVIDER_MISCONFIGURED", pipeline, degrade, codes.Internal, true, 0}},
		{"403", status.Error(codes.PermissionDenied, "no"), row{"PROVIDER_MISCONFIGURED", pipeline, degrade, codes.Internal, true, 0}},
		{"404", status.Error(codes.NotFound, "model"), row{"PROVIDER_MISCONFIGURED", pipeline, degrade, codes.Internal, true, 0}},
		{"unknown code", status.Error(codes.DataLoss, "?"), row{"INTERNAL", pipeline, degrade, codes.Internal, true, 0}},
		{"not a status", errors.New("boom"), row{"INTERNAL", pipeline, degrade, codes.Internal, true, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, rowOf(classifier.FromProviderError(tt.err))); diff != "" {
				t.Errorf("FromProviderError (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFromFinishReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		reason providerv1.FinishReason
		want   *row
	}{
		{providerv1.FinishReason_FINISH_REASON_STOP, nil},
		{providerv1.FinishReason_FINISH_REASON_UNSPECIFIED, nil},
		{providerv1.FinishReason_FINISH_REASON_LENGTH, &row{"TRUNCATED", output, fallback, codes.Aborted, true, 0}},
		{providerv1.FinishReason_FINISH_REASON_CONTENT_FILTER, &row{"CONTENT_FILTER", input, reject, codes.FailedPrecondition, false, 0}},
		{providerv1.FinishReason_FINISH_REASON_REFUSAL, &row{"REFUSAL", input, reject, codes.FailedPrecondition, false, 0}},
		{providerv1.FinishReason_FINISH_REASON_TOOL_CALLS, &row{"UNEXPECTED_FINISH", output, retry, codes.Aborted, true, 0}},
		{providerv1.FinishReason_FINISH_REASON_OTHER, &row{"UNEXPECTED_FINISH", output, retry, codes.Aborted, true, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.reason.String(), func(t *testing.T) {
			t.Parallel()
			var got *row
			if f := classifier.FromFinishReason(tt.reason, "no"); f != nil {
				r := rowOf(f)
				got = &r
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("FromFinishReason (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRetriableAndInfrastructure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                  string
		err                   error
		retriable, breakerHit bool
	}{
		{"rate limit", status.Error(codes.ResourceExhausted, ""), true, true},
		{"unavailable", status.Error(codes.Unavailable, ""), true, true},
		{"upstream timeout", status.Error(codes.DeadlineExceeded, ""), true, true},
		{"quota", withDetails(codes.ResourceExhausted, &errdetails.ErrorInfo{Reason: "QUOTA_EXHAUSTED"}), false, true},
		{"answer too large", withDetails(codes.ResourceExhausted, &errdetails.ErrorInfo{Reason: "OUTPUT_TOO_LARGE"}), false, false},
		{"caller deadline", context.DeadlineExceeded, false, false},
		{"caller cancel", context.Canceled, false, false},
		{"content filter", withDetails(codes.FailedPrecondition, &errdetails.ErrorInfo{Reason: "CONTENT_FILTER"}), false, false},
		{"bad request", status.Error(codes.InvalidArgument, ""), false, false},
		{"401", status.Error(codes.Unauthenticated, ""), false, false},
		{"semantic", classifier.New(guardgenv1.FailureReason_FAILURE_REASON_MALFORMED_JSON, "x"), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := [2]bool{classifier.Retriable(tt.err), classifier.Infrastructure(tt.err)}
			if want := [2]bool{tt.retriable, tt.breakerHit}; got != want {
				t.Errorf("[Retriable, Infrastructure] = %v, want %v", got, want)
			}
		})
	}
}

func TestFromValidation(t *testing.T) {
	t.Parallel()
	v, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	detected := timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	tests := []struct {
		name     string
		msg      *examplesv1.TicketClassification
		incident *examplesv1.IncidentReport
		business map[string]bool
		want     string
		paths    []string
	}{
		{
			name:  "field rule",
			msg:   &examplesv1.TicketClassification{Category: "billing", Priority: 6, Summary: "x"},
			want:  "RULE_VIOLATION",
			paths: []string{"priority"},
		},
		{
			name: "message-level CEL is a business rule",
			incident: &examplesv1.IncidentReport{
				Title: "db down", Severity: examplesv1.Severity_SEVERITY_LOW, DetectedAt: detected,
				ResolvedAt: timestamppb.New(detected.AsTime().Add(-time.Hour)),
				Services:   []*examplesv1.AffectedService{{Name: "db", Region: "eu-west-1"}},
				Owner:      &examplesv1.IncidentReport_Team{Team: "sre"},
			},
			want:  "BUSINESS_RULE",
			paths: []string{""},
		},
		{
			name:     "required oneof is a field rule",
			incident: &examplesv1.IncidentReport{Title: "db down", Severity: examplesv1.Severity_SEVERITY_LOW, DetectedAt: detected, Services: []*examplesv1.AffectedService{{Name: "db", Region: "eu-west-1"}}},
			want:     "RULE_VIOLATION",
			paths:    []string{"owner"},
		},
		{
			name:     "configured rule id is a business rule",
			msg:      &examplesv1.TicketClassification{Category: "refunds", Priority: 2, Summary: "x"},
			business: map[string]bool{"string.in": true},
			want:     "BUSINESS_RULE",
			paths:    []string{"category"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var verr error
			if tt.msg != nil {
				verr = v.Validate(tt.msg)
			} else {
				verr = v.Validate(tt.incident)
			}
			f := classifier.FromValidation(verr, tt.business)
			var paths []string
			for _, viol := range f.Violations {
				paths = append(paths, classifier.FieldPath(viol))
			}
			if got := classifier.ReasonName(f.Reason); got != tt.want {
				t.Errorf("reason = %s, want %s (%v)", got, tt.want, verr)
			}
			if diff := cmp.Diff(tt.paths, paths); diff != "" {
				t.Errorf("violation paths (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFailureDetail(t *testing.T) {
	t.Parallel()
	f := classifier.New(guardgenv1.FailureReason_FAILURE_REASON_CONTENT_FILTER, "blocked").With("model", "m")
	f.Attempts = 1
	d := f.Detail()
	if d.GetRecoverable() || d.GetDomain() != input || d.GetAction() != reject || d.GetMetadata()["model"] != "m" || d.GetAttempts() != 1 {
		t.Errorf("Detail() = %v", d)
	}
	if got, want := f.Error(), "CONTENT_FILTER: blocked"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	wrapped := fmt.Errorf("ctx: %w", f)
	if classifier.As(wrapped) != f {
		t.Error("As does not find a wrapped Failure")
	}
}
