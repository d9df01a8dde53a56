package breaker_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/guardgen/guardgen/internal/breaker"
)

var errHealth, errOther = errors.New("backend down"), errors.New("caller's fault")

func counts(err error) bool { return errors.Is(err, errHealth) }

// TestBreaker: counted failures trip it, others do not and a success
// resets the run; open, it refuses; after OpenFor the one admitted call
// is the probe, with the probe timeout, and its success closes it.
func TestBreaker(t *testing.T) {
	t.Parallel()
	var changes []string
	b := breaker.New("up", breaker.Policy{ConsecutiveFailures: 2, OpenFor: 300 * time.Millisecond, ProbeTimeout: time.Second},
		counts, func(name string, from, to breaker.State) {
			changes = append(changes, name+":"+from.String()+">"+to.String())
		})
	call := func(outcome error) error {
		done, _, err := b.Allow()
		if err == nil {
			done(outcome)
		}
		return err
	}
	for _, outcome := range []error{errHealth, nil, errHealth, errOther, errOther} {
		if err := call(outcome); err != nil {
			t.Fatalf("refused while closed: %v", err)
		}
	}
	if b.State() != gobreaker.StateClosed {
		t.Fatalf("state %s after failures that a success and excluded errors broke up, want closed", b.State())
	}
	_ = call(errHealth)
	if err := call(nil); !errors.Is(err, gobreaker.ErrOpenState) || b.State() != gobreaker.StateOpen {
		t.Fatalf("after two counted failures in a row: %v, state %s; want refused, open", err, b.State())
	}
	time.Sleep(350 * time.Millisecond)
	done, probe, err := b.Allow()
	if err != nil || probe != time.Second {
		t.Fatalf("after OpenFor: %v, probe %v; want the probe admitted with its timeout", err, probe)
	}
	if _, _, err := b.Allow(); !errors.Is(err, gobreaker.ErrTooManyRequests) {
		t.Errorf("a second call during the probe: %v, want ErrTooManyRequests", err)
	}
	done(nil)
	if _, probe, err := b.Allow(); err != nil || probe != 0 || b.State() != gobreaker.StateClosed {
		t.Errorf("after a good probe: %v, probe %v, state %s; want closed, no probe", err, probe, b.State())
	}
	want := []string{"up:closed>open", "up:open>half-open", "up:half-open>closed"}
	if len(changes) != len(want) {
		t.Fatalf("transitions %v, want %v", changes, want)
	}
	for i := range want {
		if changes[i] != want[i] {
			t.Errorf("transitions %v, want %v", changes, want)
		}
	}
}

func TestDisabledAndCheck(t *testing.T) {
	t.Parallel()
	b := breaker.New("off", breaker.Policy{Disabled: true}, counts, nil)
	for range 10 {
		done, probe, err := b.Allow()
		if err != nil || probe != 0 {
			t.Fatalf("a disabled breaker refused: %v", err)
		}
		done(errHealth)
	}
	if b.State() != gobreaker.StateClosed || b.Counts().Requests != 0 {
		t.Errorf("a disabled breaker is %s with %d requests, want closed and none", b.State(), b.Counts().Requests)
	}
	for _, p := range []breaker.Policy{{ConsecutiveFailures: 0, OpenFor: time.Second}, {ConsecutiveFailures: 1}, {ConsecutiveFailures: 1, OpenFor: time.Second, ProbeTimeout: -1}} {
		if p.Check() == nil {
			t.Errorf("Check(%+v) = nil, want an error", p)
		}
	}
	if err := (breaker.Policy{Disabled: true}).Check(); err != nil {
		t.Errorf("a disabled policy: %v", err)
	}
}
