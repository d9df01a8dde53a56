package providers

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/guardgen/guardgen/classifier"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// Call is the record of one provider call, transport retries included.
type Call struct {
	// Number counts provider calls within one request, from 1.
	Number int
	// Semantic is the generation (re-ask) the call belonged to, from 1.
	Semantic int
	Provider string
	// Model is the model that answered, or the requested one when the
	// call failed or the provider did not say.
	Model string
	// RequestModel is the model the call asked for.
	RequestModel string
	FinishReason providerv1.FinishReason
	Usage        *providerv1.Usage
	Latency      time.Duration
	// ResponseID is the upstream's id of the completion, when it sent one.
	ResponseID string
	// Constraint is how the provider constrained the output, when it said.
	Constraint *providerv1.Constraint
	// Cost is the call's price by the provider's price table; Priced says
	// whether the model had a price at all.
	Cost   float64
	Priced bool
	// Failure is the call's one classified failure, nil when the provider
	// answered: the same value the retry decision, the breaker and the
	// budget read.
	Failure *classifier.Failure
	// Verification marks a call that asked a verifier model about a
	// candidate (CompleteRequest.purpose) rather than for one.
	Verification bool
}

// Code is the call's outcome as a gRPC code: OK, the provider's status
// code, or, for a failure guardgen decided itself (the call cap, the
// caller's deadline), the decision matrix's code for it.
func (c *Call) Code() codes.Code {
	if c.Failure == nil {
		return codes.OK
	}
	if c.Failure.Err != nil {
		if st, ok := status.FromError(c.Failure.Err); ok {
			return st.Code()
		}
	}
	return c.Failure.Code
}

// Recorder collects the provider calls of one request and enforces the
// request's hard cap on them. It travels in the request context so the
// client interceptors, which run per attempt, can reach it.
type Recorder struct {
	mu       sync.Mutex
	limit    int
	semantic int
	calls    []Call
}

type recorderKey struct{}

// WithRecorder returns ctx carrying a new Recorder that allows at most
// limit provider calls (0 means no cap).
func WithRecorder(ctx context.Context, limit int) (context.Context, *Recorder) {
	// Room for one call: most requests make one, and a Call is ~150 bytes.
	r := &Recorder{limit: limit, semantic: 1, calls: make([]Call, 0, 1)}
	return context.WithValue(ctx, recorderKey{}, r), r
}

// RecorderFrom returns the Recorder in ctx, or nil.
func RecorderFrom(ctx context.Context) *Recorder {
	r, _ := ctx.Value(recorderKey{}).(*Recorder)
	return r
}

// SetSemantic marks the generation that following calls belong to.
func (r *Recorder) SetSemantic(n int) {
	r.mu.Lock()
	r.semantic = n
	r.mu.Unlock()
}

// begin reserves the next call number; ok is false when the cap is reached.
func (r *Recorder) begin() (number, semantic int, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.limit > 0 && len(r.calls) >= r.limit {
		return 0, 0, false
	}
	r.calls = append(r.calls, Call{Number: len(r.calls) + 1, Semantic: r.semantic})
	return len(r.calls), r.semantic, true
}

// unbegin gives back call number n, the last one begun, which turned out
// never to have been made.
func (r *Recorder) unbegin(n int) {
	r.mu.Lock()
	if n == len(r.calls) {
		r.calls = r.calls[:n-1]
	}
	r.mu.Unlock()
}

// finish fills in call number n.
func (r *Recorder) finish(n int, c *Call) {
	r.mu.Lock()
	r.calls[n-1] = *c
	r.mu.Unlock()
}

// Calls returns a copy of the calls so far.
func (r *Recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}

// Remaining returns how many more calls the cap allows; -1 means no cap.
func (r *Recorder) Remaining() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.limit <= 0 {
		return -1
	}
	return max(r.limit-len(r.calls), 0)
}

// Len returns the number of calls so far.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

func cloneUsage(u *providerv1.Usage) *providerv1.Usage {
	if u == nil {
		return nil
	}
	return proto.CloneOf(u)
}
