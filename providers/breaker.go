package providers

import (
	"errors"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/guardgen/guardgen/classifier"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// BreakerPolicy configures a provider's circuit breaker. The zero value
// trips after 5 consecutive infrastructure failures and stays open 30 s.
type BreakerPolicy struct {
	// ConsecutiveFailures trips the breaker; negative disables it.
	ConsecutiveFailures int
	// OpenFor is how long the breaker stays open before letting one probe
	// through (half-open).
	OpenFor time.Duration
	// OnStateChange, when set, is told every transition.
	OnStateChange func(provider string, from, to gobreaker.State)
}

// breaker wraps gobreaker's two-step breaker so that only infrastructure
// failures count: a cancellation, a 4xx or a semantic failure says nothing
// about the provider's health and is excluded.
type breaker struct {
	cb *gobreaker.TwoStepCircuitBreaker[struct{}]
}

func newBreaker(provider string, p BreakerPolicy) *breaker {
	if p.ConsecutiveFailures < 0 {
		return nil
	}
	if p.ConsecutiveFailures == 0 {
		p.ConsecutiveFailures = 5
	}
	if p.OpenFor <= 0 {
		p.OpenFor = 30 * time.Second
	}
	threshold := uint32(p.ConsecutiveFailures)
	settings := gobreaker.Settings{
		Name:        provider,
		MaxRequests: 1, // half-open lets exactly one probe through
		Timeout:     p.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= threshold },
		IsExcluded:  func(err error) bool { return !classifier.Infrastructure(err) },
	}
	if p.OnStateChange != nil {
		settings.OnStateChange = func(name string, from, to gobreaker.State) { p.OnStateChange(name, from, to) }
	}
	return &breaker{cb: gobreaker.NewTwoStepCircuitBreaker[struct{}](settings)}
}

// allow admits one attempt, or returns a CIRCUIT_OPEN failure.
func (b *breaker) allow(provider string) (func(error), error) {
	if b == nil {
		return func(error) {}, nil
	}
	done, err := b.cb.Allow()
	if err != nil {
		state := "open"
		if errors.Is(err, gobreaker.ErrTooManyRequests) {
			state = "half-open"
		}
		return nil, classifier.New(guardgenv1.FailureReason_FAILURE_REASON_CIRCUIT_OPEN,
			"provider %s circuit breaker is %s", provider, state).With("provider", provider).With("breaker", state)
	}
	return done, nil
}

// State returns the breaker's state, closed when there is none.
func (b *breaker) state() gobreaker.State {
	if b == nil {
		return gobreaker.StateClosed
	}
	return b.cb.State()
}
