// Package breaker is the circuit breaker of guardgen's providers and of
// its cache backend: gobreaker's two-step breaker, set up once, with the
// two rules both need: only failures that say something about the
// backend's health count, and an admitted call that finds the breaker
// half-open is its probe, which may get a shorter timeout.
package breaker

import (
	"fmt"
	"time"

	"github.com/sony/gobreaker/v2"
)

// State is a breaker's state: gobreaker's, numbered closed 0, half-open 1,
// open 2.
type State = gobreaker.State

// Policy configures a breaker. It is used as given: config.Default holds
// the defaults, and an enabled breaker needs ConsecutiveFailures and
// OpenFor.
type Policy struct {
	// Disabled turns the breaker off: every call is admitted and none is
	// counted.
	Disabled bool
	// ConsecutiveFailures trips the breaker; at least 1.
	ConsecutiveFailures int
	// OpenFor is how long the breaker stays open before letting one probe
	// through (half-open); positive.
	OpenFor time.Duration
	// ProbeTimeout bounds the probe, so that a hung one cannot hold the
	// breaker half-open (and every other call refused) for long; 0 sets no
	// bound of its own.
	ProbeTimeout time.Duration
}

// Check returns an error for an enabled policy a breaker cannot run with.
func (p Policy) Check() error {
	if !p.Disabled && (p.ConsecutiveFailures < 1 || p.OpenFor <= 0 || p.ProbeTimeout < 0) {
		return fmt.Errorf("an enabled breaker needs ConsecutiveFailures of at least 1, a positive OpenFor and no negative ProbeTimeout (got %d, %s, %s)",
			p.ConsecutiveFailures, p.OpenFor, p.ProbeTimeout)
	}
	return nil
}

// Breaker admits calls and learns from their outcomes. A nil *Breaker is
// a disabled one.
type Breaker struct {
	cb    *gobreaker.TwoStepCircuitBreaker[struct{}]
	probe time.Duration
}

// New returns the breaker p describes, nil when it is disabled. counts
// reports whether a call's error says something about the backend's
// health; the others are excluded. onChange, when not nil, is told every
// transition.
func New(name string, p Policy, counts func(error) bool, onChange func(name string, from, to State)) *Breaker {
	if p.Disabled {
		return nil
	}
	threshold := uint32(p.ConsecutiveFailures)
	settings := gobreaker.Settings{
		Name:        name,
		MaxRequests: 1, // half-open lets exactly one probe through
		Timeout:     p.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= threshold },
		// err == nil must not be excluded: gobreaker asks IsExcluded before
		// IsSuccessful, and excluding successes would keep a half-open
		// breaker half-open forever and never reset the failure run.
		IsExcluded:    func(err error) bool { return err != nil && !counts(err) },
		OnStateChange: onChange,
	}
	return &Breaker{cb: gobreaker.NewTwoStepCircuitBreaker[struct{}](settings), probe: p.ProbeTimeout}
}

// Allow admits one call, or returns gobreaker's ErrOpenState (open) or
// ErrTooManyRequests (half-open, its probe under way). The caller must
// call done exactly once with the call's outcome, an excluded error when
// the call was admitted but never made: gobreaker keeps a half-open
// breaker's slot taken until then. probe, when not zero, bounds the call:
// it is the half-open probe.
func (b *Breaker) Allow() (done func(error), probe time.Duration, err error) {
	if b == nil {
		return func(error) {}, 0, nil
	}
	done, err = b.cb.Allow()
	if err != nil {
		return nil, 0, err
	}
	// Half-open admits one call (MaxRequests 1): an admitted call that
	// finds the breaker half-open is its probe.
	if b.cb.State() == gobreaker.StateHalfOpen {
		return done, b.probe, nil
	}
	return done, 0, nil
}

// State returns the breaker's state, closed when it is disabled.
func (b *Breaker) State() State {
	if b == nil {
		return gobreaker.StateClosed
	}
	return b.cb.State()
}

// Counts returns the breaker's counters, zero when it is disabled.
func (b *Breaker) Counts() gobreaker.Counts {
	if b == nil {
		return gobreaker.Counts{}
	}
	return b.cb.Counts()
}
