package schema

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/guardgen/guardgen/soak/hostile"
)

// TestRequestRules checks what the rule check lets through: rules a prompt
// author writes pass, rules built to exhaust the server are refused with
// the rule named, before anything is evaluated.
func TestRequestRules(t *testing.T) {
	t.Parallel()
	r := newResolver(t, Options{})
	tests := []struct {
		desc, expr string
		wantReason string // empty: accepted
	}{
		{desc: "size bound", expr: "this.text.size() <= 500"},
		{desc: "comprehension over a field", expr: "this.tags.all(t, t.size() < 20)"},
		{desc: "constant pattern", expr: "this.text.matches('^[A-Z]{3}-[0-9]{4}$')"},
		{desc: "protovalidate function", expr: "this.text == '' || this.text.isEmail()"},
		{desc: "unique", expr: "this.tags.unique()"},
		{desc: "string ext", expr: "this.text.lowerAscii().contains('x')"},
		{desc: "string bomb", expr: hostile.StringBombRule(), wantReason: `rule "hostile.rule" on p.Hostile: estimated cost`},
		{desc: "nested comprehensions", expr: hostile.ComprehensionBombRule(6), wantReason: `rule "hostile.rule" on p.Hostile: estimated cost`},
		{desc: "quadratic over a field", expr: "this.tags.all(a, this.tags.all(b, a == b))", wantReason: "estimated cost"},
		{desc: "pattern from the output", expr: "this.text.matches(this.tags[0])", wantReason: "matches() needs a constant pattern"},
		{desc: "huge constant pattern", expr: "this.text.matches('" + strings.Repeat("[a-y]{1,999}", 20) + "')", wantReason: "matches() pattern compiles to more than 10000 instructions"},
		{desc: "does not compile", expr: "this.nope > 1", wantReason: "does not compile"},
	}
	for i, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			ht := hostile.CELType(fmt.Sprintf("p%d", i), tt.expr)
			ht.Set.File[0].Package = strPtr("p")
			ht.Set.File[0].Name = strPtr(fmt.Sprintf("p%d.proto", i))
			start := time.Now()
			_, err := r.Resolve("p.Hostile", ht.Set)
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("Resolve took %v", elapsed)
			}
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("Resolve() = %v, want the rule accepted", err)
				}
				return
			}
			var rerr *ResolveError
			if !errors.As(err, &rerr) || !errors.Is(err, ErrInvalidDescriptorSet) {
				t.Fatalf("Resolve() = %v, want an invalid descriptor set", err)
			}
			if !strings.Contains(rerr.Reason, tt.wantReason) || rerr.Rule != "hostile.rule" || rerr.Element != "p.Hostile" {
				t.Errorf("Resolve() = %q (rule %q on %q), want %q", rerr.Reason, rerr.Rule, rerr.Element, tt.wantReason)
			}
		})
	}
}

func strPtr(s string) *string { return &s }

func TestRequestPolicy(t *testing.T) {
	t.Parallel()
	ht := hostile.CELType("q", "this.text.size() < 10")
	off := newResolver(t, Options{RequestTypesOff: true})
	if _, err := off.Resolve(ht.Name, ht.Set); !errors.Is(err, ErrInvalidDescriptorSet) || !strings.Contains(err.Error(), "turned off") {
		t.Errorf("with request types off: Resolve() = %v", err)
	}
	if _, err := off.Resolve("guardgen.examples.v1.TicketClassification", nil); err != nil {
		t.Errorf("with request types off, a compiled-in type: %v", err)
	}
	noCEL := newResolver(t, Options{RequestCELOff: true})
	if _, err := noCEL.Resolve(ht.Name, ht.Set); !errors.Is(err, ErrInvalidDescriptorSet) || !strings.Contains(err.Error(), "CEL rules in request-defined types are turned off") {
		t.Errorf("with CEL off: Resolve() = %v", err)
	}
	plain := hostile.PatternType("q2", "^[a-z]+$")
	if _, err := noCEL.Resolve(plain.Name, plain.Set); err != nil {
		t.Errorf("with CEL off, standard rules: %v", err)
	}
}

// TestRegexBomb: a 13 KB pattern that compiles to ~100 MB is refused
// before it is compiled, in bounded time and memory.
func TestRegexBomb(t *testing.T) {
	r := newResolver(t, Options{})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range 8 {
		ht := hostile.PatternType(fmt.Sprintf("re%d", i), hostile.RegexBombPattern(i))
		_, err := r.Resolve(ht.Name, ht.Set)
		if !errors.Is(err, ErrInvalidDescriptorSet) || !strings.Contains(err.Error(), "pattern compiles to more than 10000 instructions") {
			t.Fatalf("Resolve() = %v", err)
		}
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("refusing 8 regex bombs allocated %d MiB", grew>>20)
	}
}

func TestResolveCancelled(t *testing.T) {
	t.Parallel()
	r := newResolver(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.ResolveContext(ctx, "acme.v1.Order", orderSet(t)); !errors.Is(err, context.Canceled) {
		t.Errorf("ResolveContext(cancelled) = %v, want context.Canceled", err)
	}
}
