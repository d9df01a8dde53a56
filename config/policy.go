package config

import (
	"math"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	configv1 "github.com/guardgen/guardgen/gen/guardgen/config/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/internal/protoenum"
)

// Action returns the RecoveryAction a routing action names: the enum
// value's name without its prefix, in lower case (retry_with_backoff is
// RECOVERY_ACTION_RETRY_WITH_BACKOFF). Any other name is
// RECOVERY_ACTION_UNSPECIFIED.
func Action(name string) guardgenv1.RecoveryAction {
	return guardgenv1.RecoveryAction(enumNumber(guardgenv1.RecoveryAction(0).Descriptor(), name))
}

// Domain returns the FailureDomain a routing key names, in the same way
// (input_constraint is FAILURE_DOMAIN_INPUT_CONSTRAINT). Any other name is
// FAILURE_DOMAIN_UNSPECIFIED.
func Domain(name string) guardgenv1.FailureDomain {
	return guardgenv1.FailureDomain(enumNumber(guardgenv1.FailureDomain(0).Descriptor(), name))
}

// enumNumber finds the value of ed whose protoenum.Lower name is name.
func enumNumber(ed protoreflect.EnumDescriptor, name string) protoreflect.EnumNumber {
	if name != strings.ToLower(name) {
		return 0
	}
	n, _ := protoenum.Lookup(ed, name)
	return n
}

// DomainPolicy is what guardgen does about one failure domain.
type DomainPolicy struct {
	Action guardgenv1.RecoveryAction
	// AlertThreshold is how many failures within the alert window
	// (telemetry.alert_window_seconds) raise an alert; 0 never alerts.
	AlertThreshold int
}

// Routing returns llm_pipeline.routing by failure domain. It reads every
// field of the Routing message, so a domain added to the schema appears
// here without a change. Domains cfg leaves unset have an unspecified
// action; a config from [Load], [Parse] or [Default] sets all four.
func Routing(cfg *configv1.Config) map[guardgenv1.FailureDomain]DomainPolicy {
	routing := cfg.GetLlmPipeline().GetRouting().ProtoReflect()
	fields := routing.Descriptor().Fields()
	out := make(map[guardgenv1.FailureDomain]DomainPolicy, fields.Len())
	for i := range fields.Len() {
		fd := fields.Get(i)
		p, _ := routing.Get(fd).Message().Interface().(*configv1.DomainPolicy)
		out[Domain(string(fd.Name()))] = DomainPolicy{
			Action:         Action(p.GetAction()),
			AlertThreshold: int(p.GetAlertThreshold()),
		}
	}
	return out
}

// infraReasons maps the article's infra_errors, the Python OpenAI SDK's
// exception names, to the provider failure reasons guardgen classifies.
// guardgen cannot tell a 5xx from a dropped connection once the provider
// has mapped both to UNAVAILABLE, so three names share a reason.
// TestInfraReasonsCoverSchema keeps this in step with config.proto's list.
var infraReasons = map[string]guardgenv1.FailureReason{
	"RateLimitError":          guardgenv1.FailureReason_FAILURE_REASON_RATE_LIMITED,
	"APITimeoutError":         guardgenv1.FailureReason_FAILURE_REASON_UPSTREAM_TIMEOUT,
	"APIConnectionError":      guardgenv1.FailureReason_FAILURE_REASON_UPSTREAM_UNAVAILABLE,
	"InternalServerError":     guardgenv1.FailureReason_FAILURE_REASON_UPSTREAM_UNAVAILABLE,
	"ServiceUnavailableError": guardgenv1.FailureReason_FAILURE_REASON_UPSTREAM_UNAVAILABLE,
}

// InfraReason returns the failure reason an infra_errors name stands for,
// or FAILURE_REASON_UNSPECIFIED.
func InfraReason(name string) guardgenv1.FailureReason {
	return infraReasons[name]
}

// InfraReasons returns the failure reasons llm_pipeline.execution.infra_errors
// makes retriable, each once, in the order the list first names them.
func InfraReasons(cfg *configv1.Config) []guardgenv1.FailureReason {
	var out []guardgenv1.FailureReason
	for _, name := range cfg.GetLlmPipeline().GetExecution().GetInfraErrors() {
		if r := InfraReason(name); r != guardgenv1.FailureReason_FAILURE_REASON_UNSPECIFIED && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// RetryPolicy is llm_pipeline.execution in Go types.
type RetryPolicy struct {
	// MaxAttempts counts calls, the first included.
	MaxAttempts int
	// BaseDelay·2^(retry-1), capped at MaxDelay, is the wait before a retry.
	BaseDelay, MaxDelay time.Duration
	// Jitter is the largest fraction of a wait added at random.
	Jitter float64
	// Reasons are the retriable failure reasons ([InfraReasons]).
	Reasons []guardgenv1.FailureReason
}

// Retry returns cfg's transport retry policy.
func Retry(cfg *configv1.Config) RetryPolicy {
	e := cfg.GetLlmPipeline().GetExecution()
	return RetryPolicy{
		MaxAttempts: int(e.GetMaxAttempts()),
		BaseDelay:   Seconds(e.GetBaseDelaySeconds()),
		MaxDelay:    Seconds(e.GetMaxDelaySeconds()),
		Jitter:      e.GetJitterFactor(),
		Reasons:     InfraReasons(cfg),
	}
}

// Seconds converts a *_seconds value to a Duration, rounded to the
// nanosecond. The schema bounds every such field far below the ±292 years a
// Duration holds; out-of-range values saturate.
func Seconds(s float64) time.Duration {
	ns := math.Round(s * float64(time.Second))
	switch {
	case ns >= math.MaxInt64:
		return math.MaxInt64
	case ns <= math.MinInt64:
		return math.MinInt64
	}
	return time.Duration(ns)
}

// Provider returns the provider named name, or nil.
func Provider(cfg *configv1.Config, name string) *configv1.Provider {
	for _, p := range cfg.GetProviders() {
		if p.GetName() == name {
			return p
		}
	}
	return nil
}

// Route returns the route named name, or the default route when name is
// empty; nil when there is none.
func Route(cfg *configv1.Config, name string) *configv1.Route {
	if name == "" {
		name = cfg.GetDefaultRoute()
	}
	for _, r := range cfg.GetRoutes() {
		if r.GetName() == name {
			return r
		}
	}
	return nil
}
