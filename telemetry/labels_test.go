package telemetry

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/grpc/codes"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

func TestMetricPrefix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"llm.pipeline", "llm.pipeline"},
		{"guardgen", "guardgen"},
		{".llm..pipeline.", "llm.pipeline"},
		{"my-app pipeline", "my_app_pipeline"},
		{"a/b:c", "a_b_c"},
		{"llm.pipelineü", "llm.pipeline_"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := metricPrefix(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("metricPrefix(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestMetricPrefixInvalid(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", ".", "...", "1abc", "_x", "-x", "ünï"} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			if _, err := metricPrefix(in); !errors.Is(err, ErrInvalidPrefix) {
				t.Errorf("metricPrefix(%q) error = %v, want ErrInvalidPrefix", in, err)
			}
		})
	}
}

func TestEnumLabels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, got, want string
	}{
		{"domain unspecified", DomainLabel(guardgenv1.FailureDomain_FAILURE_DOMAIN_UNSPECIFIED), "none"},
		{"domain", DomainLabel(guardgenv1.FailureDomain_FAILURE_DOMAIN_OUTPUT_SEMANTIC), "OUTPUT_SEMANTIC"},
		{"domain unknown number", DomainLabel(guardgenv1.FailureDomain(99)), "unknown"},
		{"action", ActionLabel(guardgenv1.RecoveryAction_RECOVERY_ACTION_ALERT_AND_DEGRADE), "ALERT_AND_DEGRADE"},
		{"action unspecified", ActionLabel(0), "none"},
		{"reason", ReasonLabel(guardgenv1.FailureReason_FAILURE_REASON_RETRIES_EXHAUSTED), "RETRIES_EXHAUSTED"},
		{"reason circuit", ReasonLabel(guardgenv1.FailureReason_FAILURE_REASON_CIRCUIT_OPEN), "CIRCUIT_OPEN"},
		{"reason unknown number", ReasonLabel(guardgenv1.FailureReason(12345)), "unknown"},
		{"provider ok", providerOutcome(codes.OK), "ok"},
		{"provider unavailable", providerOutcome(codes.Unavailable), "UNAVAILABLE"},
		{"provider cancelled", providerOutcome(codes.Canceled), "CANCELLED"},
		{"provider exhausted", providerOutcome(codes.ResourceExhausted), "RESOURCE_EXHAUSTED"},
		{"provider code out of range", providerOutcome(codes.Code(42)), "unknown"},
		{"outcome ok", OutcomeOK.String(), "ok"},
		{"outcome degraded", OutcomeDegraded.String(), "degraded"},
		{"outcome failed", OutcomeFailed.String(), "failed"},
		{"outcome invalid", Outcome(7).String(), "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

// TestEveryCodeHasALabel keeps codeLabels in step with grpc's codes.
func TestEveryCodeHasALabel(t *testing.T) {
	t.Parallel()
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if codeLabels[c] == "" {
			t.Errorf("no label for %v", c)
		}
	}
}

func TestCleanLabelValue(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 100) // 200 bytes
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "unknown"},
		{"plain", "gpt-4o-mini", "gpt-4o-mini"},
		{"invalid utf8", "a\xffb", "a\uFFFDb"},
		{"long cut on a rune boundary", long, strings.Repeat("é", 64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := cleanLabelValue(tt.in); got != tt.want {
				t.Errorf("cleanLabelValue(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestBoundedLabel(t *testing.T) {
	t.Parallel()
	b := newBoundedLabel(2)
	got := []string{b.value("a"), b.value("b"), b.value("c"), b.value("a"), b.value(""), b.value("b")}
	want := []string{"a", "b", "other", "a", "other", "b"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("values = %v, want %v", got, want)
	}
}

func TestBoundedLabelConcurrent(t *testing.T) {
	t.Parallel()
	b := newBoundedLabel(10)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				b.value(string(rune('a' + (g*100+i)%26)))
			}
		})
	}
	wg.Wait()
	if n := len(b.seen); n != 10 {
		t.Errorf("admitted %d values, want 10", n)
	}
}

// TestEveryInstrumentUseHasAttributes: a set key builds its labels from its
// use; a use added without them would panic at its first recording
// (usePartials is the last use).
func TestEveryInstrumentUseHasAttributes(t *testing.T) {
	for use := useRequest; use <= usePartials; use++ {
		k := setKey{use: use, a: "a", b: "b", c: "c", d: "d", e: "e", n: 1}
		kvs := k.attributes()
		if len(kvs) == 0 {
			t.Errorf("use %d: no attributes", use)
		}
		seen := map[attribute.Key]bool{}
		for _, kv := range kvs {
			if seen[kv.Key] {
				t.Errorf("use %d: %s twice", use, kv.Key)
			}
			seen[kv.Key] = true
		}
	}
}
