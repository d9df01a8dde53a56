package providers

import (
	"errors"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/guardgen/guardgen/classifier"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/internal/breaker"
)

// BreakerState is a circuit breaker's state: gobreaker's, numbered closed
// 0, half-open 1, open 2.
type BreakerState = breaker.State

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

// newBreaker is a provider's breaker: only infrastructure failures count;
// a cancellation, a 4xx or a semantic failure says nothing about the
// provider's health and is excluded. Successes count: they reset the run
// of consecutive failures and a successful half-open probe closes the
// breaker. The attempts report their *classifier.Failure, or
// errNotAttempted.
func newBreaker(provider string, p BreakerPolicy) *breaker.Breaker {
	return breaker.New(provider, p.policy(),
		func(err error) bool { return !errors.Is(err, errNotAttempted) && classifier.Infrastructure(err) },
		p.OnStateChange)
}

func (p BreakerPolicy) policy() breaker.Policy {
	return breaker.Policy{Disabled: p.Disabled, ConsecutiveFailures: p.ConsecutiveFailures, OpenFor: p.OpenFor, ProbeTimeout: p.ProbeTimeout}
}

// errNotAttempted reports to the breaker that an admitted attempt never
// reached the provider (the request's call cap refused it, or the attempt
// panicked). It is excluded, so it releases a half-open probe slot without
// counting either way.
var errNotAttempted = errors.New("providers: attempt not made")

// allowAttempt admits one attempt, or returns a CIRCUIT_OPEN failure. The
// caller must call done exactly once with the attempt's outcome. probe,
// when not zero, bounds the attempt: it is the half-open probe.
func (c *Chain) allowAttempt() (done func(error), probe time.Duration, err error) {
	done, probe, err = c.breaker.Allow()
	if err != nil {
		state, provider := "open", c.opts.Provider
		if errors.Is(err, gobreaker.ErrTooManyRequests) {
			state = "half-open"
		}
		return nil, 0, classifier.New(guardgenv1.FailureReason_FAILURE_REASON_CIRCUIT_OPEN,
			"provider %s circuit breaker is %s", provider, state).With("provider", provider).With("breaker", state)
	}
	return done, probe, nil
}
