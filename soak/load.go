package soak

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/guardgen/guardgen/classifier"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// Options configure [Run]. Rate, Duration, Deadline and Call are required.
type Options struct {
	// Rate is the steady request rate per second (open loop: calls start on
	// schedule whether or not earlier ones have ended).
	Rate float64
	// Duration is how long calls are started for.
	Duration time.Duration
	// Deadline bounds every call, so that hangs end.
	Deadline time.Duration
	// MaxOutstanding bounds calls in flight; a call due while the bound is
	// reached is not sent (and counted in Report.Skipped). 0 means
	// Rate × Deadline, which the bound never binds at.
	MaxOutstanding int
	// Grace is how long Run waits past the last call's deadline for calls
	// to return before it counts them lost. 0 means 5 s.
	Grace time.Duration
	// Call makes call number i under ctx and returns its error (nil for OK).
	Call func(ctx context.Context, i int) error
}

// Report is what [Run] saw.
type Report struct {
	Sent      int // calls started
	Skipped   int // calls not started because MaxOutstanding was reached
	Completed int // calls that returned, each exactly once
	Lost      int // calls started that had not returned by the end
	Duplicate int // extra returns of a call (impossible unless Run is broken)
	// Codes counts terminal statuses by gRPC code.
	Codes map[codes.Code]int
	// Reasons counts non-OK statuses by code and FailureDetail reason.
	Reasons map[string]int
	// Unknown counts UNKNOWN statuses.
	Unknown int
	// NoDetail counts non-OK statuses without a FailureDetail, other than
	// CallerDeadline.
	NoDetail int
	// CallerDeadline counts DEADLINE_EXCEEDED statuses without a
	// FailureDetail whose call's own deadline had passed: the caller's gRPC
	// library gave up before any answer arrived, so the status is the
	// client's, not the server's.
	CallerDeadline int
	// Samples are a few of the calls that broke an invariant.
	Samples []string
	// Latency percentiles over all completed calls.
	P50, P99, Max time.Duration
	// Elapsed is the wall time of the run, the wait for the last calls
	// included.
	Elapsed time.Duration
}

// result is one call's outcome. done counts its returns.
type result struct {
	done    int
	code    codes.Code
	reason  string
	detail  bool
	expired bool // the call's own deadline had passed when it returned
	latency time.Duration
}

// Run drives opts.Call at opts.Rate for opts.Duration and waits for every
// call to return (at most Deadline + Grace after the last one started).
// Cancelling ctx stops starting calls and cancels those in flight. It is
// one function because the pacing loop, the outstanding-call slots and the
// result collection share their state and their order of events; the
// report is built from that state at the end.
func Run(ctx context.Context, opts Options) *Report {
	if opts.Grace <= 0 {
		opts.Grace = 5 * time.Second
	}
	n := int(opts.Rate * opts.Duration.Seconds())
	if opts.MaxOutstanding <= 0 {
		opts.MaxOutstanding = max(1, int(opts.Rate*opts.Deadline.Seconds())+1)
	}
	results := make([]result, n)
	var mu sync.Mutex // guards results
	sent := make([]bool, n)
	interval := time.Duration(float64(time.Second) / opts.Rate)
	slots := make(chan struct{}, opts.MaxOutstanding)
	var wg sync.WaitGroup
	r := &Report{Codes: map[codes.Code]int{}, Reasons: map[string]int{}}
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
schedule:
	for i := range n {
		// Calls start on an absolute schedule, so a slow tick does not
		// lower the rate.
		timer.Reset(time.Until(start.Add(time.Duration(i) * interval)))
		select {
		case <-ctx.Done():
			break schedule
		case <-timer.C:
		}
		select {
		case slots <- struct{}{}:
		default:
			r.Skipped++
			continue
		}
		sent[i] = true
		r.Sent++
		wg.Go(func() {
			defer func() { <-slots }()
			cctx, cancel := context.WithTimeout(ctx, opts.Deadline)
			defer cancel()
			t0 := time.Now()
			err := opts.Call(cctx, i)
			latency := time.Since(t0)
			// By the clock, as gRPC decides it: the context's own timer
			// may not have fired yet.
			dl, _ := cctx.Deadline()
			expired := !time.Now().Before(dl)
			code, detail, reason := classify(err)
			mu.Lock()
			defer mu.Unlock()
			res := &results[i]
			if res.done++; res.done > 1 {
				return
			}
			res.latency, res.expired, res.code, res.detail, res.reason = latency, expired, code, detail, reason
		})
	}
	all := make(chan struct{})
	go func() { wg.Wait(); close(all) }()
	select {
	case <-all:
	case <-time.After(opts.Deadline + opts.Grace):
	}
	r.Elapsed = time.Since(start)

	mu.Lock()
	defer mu.Unlock()
	var latencies []time.Duration
	for i := range results {
		res := &results[i]
		d := res.done
		switch {
		case !sent[i]:
			continue
		case d == 0:
			r.Lost++
			r.sample("call %d: no terminal status after %s", i, opts.Deadline+opts.Grace)
			continue
		case d > 1:
			r.Duplicate += d - 1
			r.sample("call %d: %d terminal statuses", i, d)
		}
		r.Completed++
		r.Codes[res.code]++
		latencies = append(latencies, res.latency)
		if res.code == codes.OK {
			continue
		}
		r.Reasons[res.code.String()+" "+res.reason]++
		switch {
		case res.code == codes.Unknown:
			r.Unknown++
			r.sample("call %d: UNKNOWN after %s", i, res.latency)
		case res.detail:
		case res.code == codes.DeadlineExceeded && res.expired:
			r.CallerDeadline++
		default:
			r.NoDetail++
			r.sample("call %d: %s without FailureDetail after %s", i, res.code, res.latency)
		}
	}
	slices.Sort(latencies)
	if len(latencies) > 0 {
		r.P50 = latencies[len(latencies)/2]
		r.P99 = latencies[len(latencies)*99/100]
		r.Max = latencies[len(latencies)-1]
	}
	return r
}

// classify returns err's code, whether its status carries a FailureDetail,
// and the detail's reason.
func classify(err error) (codes.Code, bool, string) {
	if err == nil {
		return codes.OK, false, ""
	}
	st, ok := status.FromError(err)
	if !ok {
		return codes.Unknown, false, "not a status: " + err.Error()
	}
	for _, d := range st.Details() {
		if fd, ok := d.(*guardgenv1.FailureDetail); ok {
			return st.Code(), true, classifier.ReasonName(fd.GetReason())
		}
	}
	return st.Code(), false, "(no detail)"
}

func (r *Report) sample(format string, args ...any) {
	if len(r.Samples) < 10 {
		r.Samples = append(r.Samples, fmt.Sprintf(format, args...))
	}
}

// Check returns the broken invariants, joined, or nil: every call sent
// returned exactly once, none was UNKNOWN, and every non-OK status but the
// caller's own deadline carried a FailureDetail. strictDeadline counts
// CallerDeadline statuses as missing details too.
func (r *Report) Check(strictDeadline bool) error {
	var errs []error
	if r.Lost > 0 {
		errs = append(errs, fmt.Errorf("%d of %d calls got no terminal status", r.Lost, r.Sent))
	}
	if r.Duplicate > 0 {
		errs = append(errs, fmt.Errorf("%d calls returned more than once", r.Duplicate))
	}
	if r.Unknown > 0 {
		errs = append(errs, fmt.Errorf("%d UNKNOWN statuses", r.Unknown))
	}
	if r.NoDetail > 0 {
		errs = append(errs, fmt.Errorf("%d non-OK statuses without a FailureDetail", r.NoDetail))
	}
	if strictDeadline && r.CallerDeadline > 0 {
		errs = append(errs, fmt.Errorf("%d calls ended by the caller's deadline before guardgen answered", r.CallerDeadline))
	}
	if len(errs) > 0 && len(r.Samples) > 0 {
		errs = append(errs, errors.New("samples:\n  "+strings.Join(r.Samples, "\n  ")))
	}
	return errors.Join(errs...)
}

// String summarises the report on a few lines.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sent %d (skipped %d), completed %d, lost %d, duplicate %d in %s\n",
		r.Sent, r.Skipped, r.Completed, r.Lost, r.Duplicate, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "latency p50 %s p99 %s max %s\n", r.P50.Round(time.Millisecond), r.P99.Round(time.Millisecond), r.Max.Round(time.Millisecond))
	fmt.Fprintf(&b, "unknown %d, non-OK without FailureDetail %d, ended by the caller's deadline %d\n", r.Unknown, r.NoDetail, r.CallerDeadline)
	var keys []string
	for c, n := range r.Codes {
		keys = append(keys, fmt.Sprintf("%s=%d", c, n))
	}
	sort.Strings(keys)
	fmt.Fprintf(&b, "codes: %s\n", strings.Join(keys, " "))
	keys = keys[:0]
	for k := range r.Reasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-60s %d\n", k, r.Reasons[k])
	}
	return b.String()
}
