package server

import (
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/guardgen/guardgen/classifier"
)

// statusOf turns a classified failure into the status the caller sees: its
// gRPC code from the decision matrix, with a FailureDetail, an ErrorInfo
// and, when a retry delay is known, a RetryInfo in its details.
func statusOf(f *classifier.Failure) error {
	info := &errdetails.ErrorInfo{
		Reason: classifier.ReasonName(f.Reason),
		Domain: classifier.ErrorInfoDomain,
		Metadata: map[string]string{
			"domain": f.Domain.String(),
			"action": f.Action.String(),
		},
	}
	st := status.New(f.Code, f.Error())
	withDetails, err := st.WithDetails(f.Detail(), info)
	if err != nil {
		// Details that cannot be marshalled are a bug; the code and message
		// still reach the caller.
		return st.Err()
	}
	if f.RetryDelay > 0 {
		if withRetry, err := withDetails.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(f.RetryDelay)}); err == nil {
			withDetails = withRetry
		}
	}
	return withDetails.Err()
}
