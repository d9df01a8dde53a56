package providers

import (
	"errors"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/guardgen/guardgen/classifier"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// BreakerState is a circuit breaker's state: gobreaker's, numbered closed
// 0, half-open 1, open 2.
type BreakerState = gobreaker.State

// BreakerPolicy configures a provider's circuit breaker. It is used as
// given: config.Default holds the defaults (5 failures, 30 s open, a 10 s
// probe), and an enabled breaker needs ConsecutiveFailures and OpenFor.
type BreakerPolicy struct {
	// Disabled turns the breaker off: every attempt is admitted and none
	// is counted. The other fields are then ignored.
	Disabled bool
	// ConsecutiveFailures trips the breaker; at least 1.
	ConsecutiveFailures int
	// OpenFor is how long the breaker stays open before letting one probe
	// through (half-open); positive.
	OpenFor time.Duration
	// ProbeTimeout bounds that probe attempt, on top of the attempt
	// timeout, so that a hung probe cannot hold the breaker half-open (and
	// every other call refused) for long; 0 leaves only the attempt
	// timeout.
	ProbeTimeout time.Duration
	// OnStateChange, when set, is told every transition.
	OnStateChange func(provider string, from, to BreakerState)
}

// breaker wraps gobreaker's two-step breaker so that only infrastructure
// failures count: a cancellation, a 4xx or a semantic failure says nothing
// about the provider's health and is excluded. Successes count: they reset
// the run of consecutive failures and a successful half-open probe closes
// the breaker.
type breaker struct {
	cb    *gobreaker.TwoStepCircuitBreaker[struct{}]
	probe time.Duration
}

func newBreaker(provider string, p BreakerPolicy) *breaker {
	if p.Disabled {
		return nil
	}
	threshold := uint32(p.ConsecutiveFailures)
	settings := gobreaker.Settings{
		Name:        provider,
		MaxRequests: 1, // half-open lets exactly one probe through
		Timeout:     p.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= threshold },
		// err == nil must not be excluded: gobreaker asks IsExcluded before
		// IsSuccessful, and excluding successes would keep a half-open
		// breaker half-open forever and never reset the failure run.
		// err is the attempt's *classifier.Failure, or errNotAttempted.
		IsExcluded: func(err error) bool {
			return err != nil && (errors.Is(err, errNotAttempted) || !classifier.Infrastructure(err))
		},
	}
	if p.OnStateChange != nil {
		settings.OnStateChange = func(name string, from, to gobreaker.State) { p.OnStateChange(name, from, to) }
	}
	return &breaker{cb: gobreaker.NewTwoStepCircuitBreaker[struct{}](settings), probe: p.ProbeTimeout}
}

// errNotAttempted reports to the breaker that an admitted attempt never
// reached the provider (the request's call cap refused it, or the attempt
// panicked). It is excluded, so it releases a half-open probe slot without
// counting either way: an admitted attempt must always be reported, or
// gobreaker keeps the slot taken and a half-open breaker admits nothing
// ever again.
var errNotAttempted = errors.New("providers: attempt not made")

// allow admits one attempt, or returns a CIRCUIT_OPEN failure. The caller
// must call done exactly once with the attempt's outcome. timeout, when
// not zero, bounds the attempt: it is the half-open probe.
func (b *breaker) allow(provider string) (done func(error), timeout time.Duration, err error) {
	if b == nil {
		return func(error) {}, 0, nil
	}
	done, err = b.cb.Allow()
	if err != nil {
		state := "open"
		if errors.Is(err, gobreaker.ErrTooManyRequests) {
			state = "half-open"
		}
		return nil, 0, classifier.New(guardgenv1.FailureReason_FAILURE_REASON_CIRCUIT_OPEN,
			"provider %s circuit breaker is %s", provider, state).With("provider", provider).With("breaker", state)
	}
	// Half-open admits one attempt (MaxRequests 1): an admitted attempt
	// that finds the breaker half-open is its probe.
	if b.cb.State() == gobreaker.StateHalfOpen {
		return done, b.probe, nil
	}
	return done, 0, nil
}

// counts returns the breaker's counters, zero when there is none.
func (b *breaker) counts() gobreaker.Counts {
	if b == nil {
		return gobreaker.Counts{}
	}
	return b.cb.Counts()
}

// State returns the breaker's state, closed when there is none.
func (b *breaker) state() gobreaker.State {
	if b == nil {
		return gobreaker.StateClosed
	}
	return b.cb.State()
}
