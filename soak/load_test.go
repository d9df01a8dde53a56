package soak_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/soak"
)

// TestRunClassifies checks the harness itself on calls whose outcomes are
// known: one of each kind per five calls.
func TestRunClassifies(t *testing.T) {
	t.Parallel()
	withDetail, err := status.New(codes.Aborted, "invalid output").WithDetails(&guardgenv1.FailureDetail{
		Domain: guardgenv1.FailureDomain_FAILURE_DOMAIN_OUTPUT_SEMANTIC,
	})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	r := soak.Run(t.Context(), soak.Options{
		Rate: 500, Duration: 100 * time.Millisecond, Deadline: 50 * time.Millisecond, Grace: 100 * time.Millisecond,
		Call: func(ctx context.Context, i int) error {
			switch i % 5 {
			case 0:
				return nil
			case 1:
				return withDetail.Err()
			case 2:
				return status.Error(codes.Unavailable, "no detail")
			case 3:
				<-ctx.Done() // a hang the caller's deadline ends
				return status.FromContextError(ctx.Err()).Err()
			}
			<-release // never returns in time: lost
			return nil
		},
	})
	close(release)
	if r.Sent != 50 || r.Completed != 40 || r.Lost != 10 || r.Duplicate != 0 {
		t.Errorf("sent %d, completed %d, lost %d, duplicate %d; want 50, 40, 10, 0", r.Sent, r.Completed, r.Lost, r.Duplicate)
	}
	if r.Codes[codes.OK] != 10 || r.NoDetail != 10 || r.CallerDeadline != 10 || r.Unknown != 0 {
		t.Errorf("OK %d, no detail %d, caller deadline %d, unknown %d; want 10 each and 0 unknown\n%s", r.Codes[codes.OK], r.NoDetail, r.CallerDeadline, r.Unknown, r)
	}
	if r.Check(false) == nil {
		t.Error("Check passed a run with lost calls and statuses without details")
	}
}
