package config_test

import (
	"testing"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/guardgen/guardgen/config"
	configv1 "github.com/guardgen/guardgen/gen/guardgen/config/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// stringIn returns the `in` list of a string field's rules, or of its items
// for a repeated field, as config.proto declares it.
func stringIn(t *testing.T, md protoreflect.MessageDescriptor, field protoreflect.Name) []string {
	t.Helper()
	fd := md.Fields().ByName(field)
	if fd == nil {
		t.Fatalf("no field %s in %s", field, md.FullName())
	}
	rules, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
	if fd.IsList() {
		return rules.GetRepeated().GetItems().GetString().GetIn()
	}
	return rules.GetString().GetIn()
}

// Every action the schema allows is a RecoveryAction, and every
// RecoveryAction is an action the schema allows.
func TestActionCoversSchema(t *testing.T) {
	t.Parallel()
	names := stringIn(t, (&configv1.DomainPolicy{}).ProtoReflect().Descriptor(), "action")
	got := map[guardgenv1.RecoveryAction]string{}
	for _, name := range names {
		a := config.Action(name)
		if a == guardgenv1.RecoveryAction_RECOVERY_ACTION_UNSPECIFIED {
			t.Errorf("Action(%q) = UNSPECIFIED", name)
		}
		got[a] = name
	}
	values := guardgenv1.RecoveryAction(0).Descriptor().Values()
	if len(got) != values.Len()-1 {
		t.Errorf("schema allows %v, want one name per RecoveryAction but UNSPECIFIED (%d)", names, values.Len()-1)
	}
}

// Every field of Routing names a FailureDomain, and every domain has one.
func TestDomainCoversRouting(t *testing.T) {
	t.Parallel()
	fields := (&configv1.Routing{}).ProtoReflect().Descriptor().Fields()
	for i := range fields.Len() {
		if d := config.Domain(string(fields.Get(i).Name())); d == guardgenv1.FailureDomain_FAILURE_DOMAIN_UNSPECIFIED {
			t.Errorf("Domain(%q) = UNSPECIFIED", fields.Get(i).Name())
		}
	}
	if want := guardgenv1.FailureDomain(0).Descriptor().Values().Len() - 1; fields.Len() != want {
		t.Errorf("Routing has %d fields, want %d (one per FailureDomain)", fields.Len(), want)
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		action guardgenv1.RecoveryAction
		domain guardgenv1.FailureDomain
	}{
		{"retry_with_backoff", guardgenv1.RecoveryAction_RECOVERY_ACTION_RETRY_WITH_BACKOFF, 0},
		{"fallback_to_cache", guardgenv1.RecoveryAction_RECOVERY_ACTION_FALLBACK_TO_CACHE, 0},
		{"input_constraint", 0, guardgenv1.FailureDomain_FAILURE_DOMAIN_INPUT_CONSTRAINT},
		{"pipeline_logic", 0, guardgenv1.FailureDomain_FAILURE_DOMAIN_PIPELINE_LOGIC},
		{"RETRY_WITH_BACKOFF", 0, 0}, // the YAML spelling only
		{"unspecified", 0, 0},
		{"", 0, 0},
		{"retry", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := config.Action(tt.name); got != tt.action {
				t.Errorf("Action(%q) = %v, want %v", tt.name, got, tt.action)
			}
			if got := config.Domain(tt.name); got != tt.domain {
				t.Errorf("Domain(%q) = %v, want %v", tt.name, got, tt.domain)
			}
		})
	}
}

// Every infra_errors name the schema allows maps to an infrastructure
// failure reason.
func TestInfraReasonsCoverSchema(t *testing.T) {
	t.Parallel()
	infra := map[guardgenv1.FailureReason]bool{
		guardgenv1.FailureReason_FAILURE_REASON_RATE_LIMITED:         true,
		guardgenv1.FailureReason_FAILURE_REASON_UPSTREAM_TIMEOUT:     true,
		guardgenv1.FailureReason_FAILURE_REASON_UPSTREAM_UNAVAILABLE: true,
	}
	names := stringIn(t, (&configv1.Execution{}).ProtoReflect().Descriptor(), "infra_errors")
	if len(names) != 5 {
		t.Errorf("infra_errors allows %v, want the 5 SDK names", names)
	}
	for _, name := range names {
		if r := config.InfraReason(name); !infra[r] {
			t.Errorf("InfraReason(%q) = %v, want a retriable infrastructure reason", name, r)
		}
	}
}

func TestInfraReasons(t *testing.T) {
	t.Parallel()
	tests := []struct {
		names []string
		want  []guardgenv1.FailureReason
	}{
		{nil, nil},
		{[]string{"RateLimitError"}, []guardgenv1.FailureReason{guardgenv1.FailureReason_FAILURE_REASON_RATE_LIMITED}},
		{
			[]string{"InternalServerError", "APIConnectionError", "ServiceUnavailableError", "APITimeoutError"},
			[]guardgenv1.FailureReason{
				guardgenv1.FailureReason_FAILURE_REASON_UPSTREAM_UNAVAILABLE,
				guardgenv1.FailureReason_FAILURE_REASON_UPSTREAM_TIMEOUT,
			},
		},
	}
	for _, tt := range tests {
		cfg := &configv1.Config{LlmPipeline: &configv1.LlmPipeline{Execution: &configv1.Execution{InfraErrors: tt.names}}}
		if diff := cmp.Diff(tt.want, config.InfraReasons(cfg)); diff != "" {
			t.Errorf("InfraReasons(%v) (-want +got):\n%s", tt.names, diff)
		}
	}
}

func TestSeconds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    float64
		want time.Duration
	}{
		{0, 0},
		{2, 2 * time.Second},
		{0.3, 300 * time.Millisecond},
		{1e-9, time.Nanosecond},
		{1e12, time.Duration(1<<63 - 1)},
	}
	for _, tt := range tests {
		if got := config.Seconds(tt.s); got != tt.want {
			t.Errorf("Seconds(%v) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestRoute(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	if got := config.Route(cfg, "").GetName(); got != "default" {
		t.Errorf(`Route(cfg, "") = %q, want default`, got)
	}
	if got := config.Route(cfg, "nope"); got != nil {
		t.Errorf(`Route(cfg, "nope") = %v, want nil`, got)
	}
	if got := config.Provider(cfg, "synthetic").GetType(); got != "synthetic" {
		t.Errorf(`Provider(cfg, "synthetic").type = %q`, got)
	}
}
