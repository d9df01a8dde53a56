package telemetry

import (
	"context"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/grpc/codes"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// Label keys of the metric families.
const (
	labelOutcome   = "outcome"
	labelDomain    = "domain"
	labelAction    = "action"
	labelReason    = "reason"
	labelTarget    = "target"
	labelProvider  = "provider"
	labelModel     = "model"
	labelKind      = "kind"
	labelBackend   = "backend"
	labelResult    = "result"
	labelDirection = "direction"
)

// outcomeOK is the outcome label of a successful request or provider call.
const outcomeOK = "ok"

// Outcome is how a Generate request ended.
type Outcome int

// Outcomes of a Generate request.
const (
	// OutcomeOK is a valid message from the requested route.
	OutcomeOK Outcome = iota
	// OutcomeDegraded is an OK answer with degraded = true (cache,
	// fallback route, template, partial).
	OutcomeDegraded
	// OutcomeFailed is a non-OK status carrying a FailureDetail.
	OutcomeFailed
)

// String returns the outcome's label value: ok, degraded or failed.
func (o Outcome) String() string {
	switch o {
	case OutcomeOK:
		return outcomeOK
	case OutcomeDegraded:
		return "degraded"
	case OutcomeFailed:
		return "failed"
	}
	return labelUnknown
}

// Request describes one finished Generate request.
type Request struct {
	// Target is the fully-qualified target message name.
	Target  string
	Outcome Outcome
	// Domain, Action and Reason are those of the failure that failed or
	// degraded the request; zero for OutcomeOK.
	Domain   guardgenv1.FailureDomain
	Action   guardgenv1.RecoveryAction
	Reason   guardgenv1.FailureReason
	Duration time.Duration
}

// RecordRequest counts a finished request and observes its latency.
func (m *Metrics) RecordRequest(ctx context.Context, r Request) {
	if m == nil {
		return
	}
	outcome, target := r.Outcome.String(), m.targets.value(r.Target)
	domain, action, reason := DomainLabel(r.Domain), ActionLabel(r.Action), ReasonLabel(r.Reason)
	m.sets.count(&setKey{use: useRequest, a: outcome, b: domain, c: action, d: reason, e: target}, 1)
	m.sets.record(ctx, m.requestDuration, &setKey{use: useRequestDuration, a: outcome, b: target}, r.Duration.Seconds())
}

// AddInFlight adds n (1 when a request is admitted, -1 when it ends) to
// the requests in flight, reported when the metrics are collected.
func (m *Metrics) AddInFlight(_ context.Context, n int64) {
	if m == nil {
		return
	}
	m.inFlightNow.Add(n)
}

// ShedReason is why a request was refused at the door.
type ShedReason string

// Reasons for shedding a request.
const (
	// ShedOverload is the in-flight limit.
	ShedOverload ShedReason = "overload"
	// ShedRateLimit is the per-caller rate limit.
	ShedRateLimit ShedReason = "rate_limit"
)

// RecordShed counts a request refused with RESOURCE_EXHAUSTED before any
// work, in the shed and in the rejected families. Reasons other than the
// ShedReason constants count as "other".
func (m *Metrics) RecordShed(ctx context.Context, reason ShedReason) {
	if m == nil {
		return
	}
	v := known(reason, ShedOverload, ShedRateLimit)
	m.shed.Add(ctx, 1, metric.WithAttributes(attribute.String(labelReason, v)))
	// A shed request is a rejected one too; counting it here keeps the
	// two families from drifting apart.
	m.RecordRejected(ctx, RejectReason(v))
}

// ProviderCall describes one provider call: one transport attempt.
type ProviderCall struct {
	Provider string
	// Model is the model that answered, or the requested one when the
	// call failed.
	Model string
	// Code is the call's gRPC status code; codes.OK for success.
	Code     codes.Code
	Duration time.Duration
	// InputTokens and OutputTokens are the provider's usage; zero counts
	// are not recorded.
	InputTokens, OutputTokens int64
	// RequestModel is the model the call asked for (gen_ai.request.model).
	RequestModel string
	// GenAI names the provider and its server for the GenAI metrics.
	GenAI GenAIEndpoint
	// ErrorType is error.type of a failed call: the failure reason.
	ErrorType string
	// Cost is the call's price, counted when Priced.
	Cost   float64
	Priced bool
}

// RecordProviderCall counts a provider call by outcome ("ok" or the
// upper-case gRPC code), observes its latency by ok/error, and adds its
// tokens.
func (m *Metrics) RecordProviderCall(ctx context.Context, c *ProviderCall) {
	if m == nil {
		return
	}
	// Two calls side by side, not one inside the other: they run at the
	// bottom of the provider call's stack.
	modelName := m.models.value(c.Model)
	m.recordCall(ctx, c, modelName)
	m.recordGenAI(ctx, c, modelName)
}

// recordCall records the call in guardgen's own provider metrics.
func (m *Metrics) recordCall(ctx context.Context, c *ProviderCall, modelName string) {
	providerName := m.providers.value(c.Provider)
	key := setKey{use: useProviderCall, a: providerName, b: modelName, c: providerOutcome(c.Code)}
	m.sets.count(&key, 1)
	key.use, key.c = useProviderDuration, outcomeOK
	if c.Code != codes.OK {
		key.c = "error"
	}
	m.sets.record(ctx, m.providerDuration, &key, c.Duration.Seconds())
	key.use = useTokens
	if c.InputTokens > 0 {
		key.c = "input"
		m.sets.count(&key, c.InputTokens)
	}
	if c.OutputTokens > 0 {
		key.c = "output"
		m.sets.count(&key, c.OutputTokens)
	}
	if c.Priced {
		key.use, key.c = useCost, ""
		m.sets.addFloat(ctx, m.cost, &key, c.Cost)
	}
}

// recordGenAI records the call in the GenAI client metrics. Every label
// value is bounded like guardgen's own: provider and server names come
// from the configuration, models through the models bound, error.type is
// a failure reason.
func (m *Metrics) recordGenAI(ctx context.Context, c *ProviderCall, responseModel string) {
	providerName := m.providers.value(c.GenAI.providerName(c.Provider))
	requestModel := m.models.value(c.RequestModel)
	server := ""
	if c.GenAI.ServerAddress != "" {
		server = m.servers.value(c.GenAI.ServerAddress)
	}
	key := setKey{use: useGenAIDuration, a: providerName, b: requestModel, c: server, n: c.GenAI.ServerPort}
	if c.Code != codes.OK {
		key.d = c.ErrorType
		if key.d == "" {
			key.d = providerOutcome(c.Code)
		}
		m.sets.record(ctx, m.genaiDuration.Inst(), &key, c.Duration.Seconds())
		return // tokens are recorded for successful calls only
	}
	key.e = responseModel
	m.sets.record(ctx, m.genaiDuration.Inst(), &key, c.Duration.Seconds())
	key.use = useGenAITokens
	if c.InputTokens > 0 {
		key.d = "input"
		m.sets.recordInt(ctx, m.genaiTokens.Inst(), &key, c.InputTokens)
	}
	if c.OutputTokens > 0 {
		key.d = "output"
		m.sets.recordInt(ctx, m.genaiTokens.Inst(), &key, c.OutputTokens)
	}
}

// RejectReason is why a request was refused before any generation.
type RejectReason string

// Reasons for rejecting a request.
const (
	RejectInvalidArgument RejectReason = "invalid_argument"
	RejectUnknownTarget   RejectReason = "unknown_target"
	RejectUnauthenticated RejectReason = "unauthenticated"
	RejectRateLimit       RejectReason = "rate_limit"
	RejectOverload        RejectReason = "overload"
)

// RecordRejected counts a request refused before any generation. Reasons
// other than the RejectReason constants count as "other".
func (m *Metrics) RecordRejected(ctx context.Context, reason RejectReason) {
	if m == nil {
		return
	}
	v := known(reason, RejectInvalidArgument, RejectUnknownTarget, RejectUnauthenticated, RejectRateLimit, RejectOverload)
	m.rejected.Add(ctx, 1, metric.WithAttributes(attribute.String(labelReason, v)))
}

// known is v as a label value when it is one of values, else "other": the
// label keeps to the values the code names.
func known[T ~string](v T, values ...T) string {
	if slices.Contains(values, v) {
		return string(v)
	}
	return labelOther
}

// RecordRetry counts one transport retry of a provider call, by the reason
// the previous attempt failed (RATE_LIMITED, UPSTREAM_UNAVAILABLE, ...).
// Retries are counted apart from the calls themselves, so a retry storm
// shows up even when the retries succeed.
func (m *Metrics) RecordRetry(ctx context.Context, provider string, reason guardgenv1.FailureReason) {
	if m == nil {
		return
	}
	m.retries.Add(ctx, 1, metric.WithAttributes(
		attribute.String(labelProvider, m.providers.value(provider)),
		attribute.String(labelReason, ReasonLabel(reason)),
	))
}

// RecordReask counts one re-ask of the model, by the reason the previous
// output was refused (NO_JSON, MALFORMED_JSON, SCHEMA_MISMATCH, ...).
func (m *Metrics) RecordReask(ctx context.Context, reason guardgenv1.FailureReason) {
	if m == nil {
		return
	}
	m.reasks.Add(ctx, 1, metric.WithAttributes(attribute.String(labelReason, ReasonLabel(reason))))
}

// FallbackKind is where a degraded answer came from.
type FallbackKind string

// Kinds of fallback.
const (
	FallbackCache    FallbackKind = "cache"
	FallbackRoute    FallbackKind = "route"
	FallbackTemplate FallbackKind = "template"
	FallbackPartial  FallbackKind = "partial"
)

// RecordFallback counts a degraded answer served by kind. Kinds other than
// the FallbackKind constants count as "other".
func (m *Metrics) RecordFallback(ctx context.Context, kind FallbackKind) {
	if m == nil {
		return
	}
	v := known(kind, FallbackCache, FallbackRoute, FallbackTemplate, FallbackPartial)
	m.fallbacks.Add(ctx, 1, metric.WithAttributes(attribute.String(labelKind, v)))
}

// CacheResult is the outcome of a fallback-cache lookup.
type CacheResult string

// Outcomes of a cache lookup.
const (
	CacheHit      CacheResult = "hit"
	CacheMiss     CacheResult = "miss"
	CacheError    CacheResult = "error"    // the backend failed or timed out
	CacheOff      CacheResult = "off"      // the backend's breaker is open
	CacheRejected CacheResult = "rejected" // an entry was found and refused
)

// RecordCacheLookup counts a fallback-cache lookup on backend (memory,
// redis, ...) by result.
func (m *Metrics) RecordCacheLookup(ctx context.Context, backend string, result CacheResult) {
	if m == nil {
		return
	}
	m.cacheLookups.Add(ctx, 1, metric.WithAttributes(
		attribute.String(labelBackend, m.backends.value(backend)),
		attribute.String(labelResult, string(result)),
	))
}

// RecordCacheRejected counts a cache entry refused instead of served, by
// why (a short fixed word such as "type" or "unauthenticated").
func (m *Metrics) RecordCacheRejected(ctx context.Context, backend, reason string) {
	if m == nil {
		return
	}
	m.cacheRejected.Add(ctx, 1, metric.WithAttributes(
		attribute.String(labelBackend, m.backends.value(backend)),
		attribute.String(labelReason, reason),
	))
}

// RecordCacheWrite counts a cache write by result (stored, failed,
// dropped, skipped).
func (m *Metrics) RecordCacheWrite(ctx context.Context, backend, result string) {
	if m == nil {
		return
	}
	m.cacheWrites.Add(ctx, 1, metric.WithAttributes(
		attribute.String(labelBackend, m.backends.value(backend)),
		attribute.String(labelResult, result),
	))
}

// SetCacheBreakerState sets the breaker gauge of a cache backend.
func (m *Metrics) SetCacheBreakerState(ctx context.Context, backend string, state BreakerState) {
	if m == nil {
		return
	}
	m.cacheBreaker.Record(ctx, int64(state), metric.WithAttributes(
		attribute.String(labelBackend, m.backends.value(backend))))
}

// BreakerState is a circuit breaker's state, numbered as the gauge
// reports it (and as github.com/sony/gobreaker/v2 numbers its State).
type BreakerState int64

// Circuit breaker states.
const (
	BreakerClosed   BreakerState = 0
	BreakerHalfOpen BreakerState = 1
	BreakerOpen     BreakerState = 2
)

// SetBreakerState sets the breaker gauge of provider; call it from the
// breaker's state-change hook (gobreaker Settings.OnStateChange) and once
// at start with BreakerClosed, so the series exists before the first trip.
func (m *Metrics) SetBreakerState(ctx context.Context, provider string, state BreakerState) {
	if m == nil {
		return
	}
	m.breakerState.Record(ctx, int64(state), metric.WithAttributes(
		attribute.String(labelProvider, m.providers.value(provider))))
}

// RecordAlert counts one alert event for domain. Alerter calls it; call it
// directly only for alerts raised outside an Alerter.
func (m *Metrics) RecordAlert(ctx context.Context, domain guardgenv1.FailureDomain) {
	if m == nil {
		return
	}
	m.alerts.Add(ctx, 1, metric.WithAttributes(attribute.String(labelDomain, DomainLabel(domain))))
}

// RecordConfidence observes the confidence of one measured output value of
// target.
func (m *Metrics) RecordConfidence(ctx context.Context, target string, confidence float64) {
	if m == nil {
		return
	}
	t := m.targets.value(target)
	m.sets.record(ctx, m.confidence, &setKey{use: useConfidence, a: t}, confidence)
}

// VerificationOutcome is how a verifier check of a candidate ended.
type VerificationOutcome string

// Outcomes of a verifier check.
const (
	// VerificationSupported: every value was supported.
	VerificationSupported VerificationOutcome = "supported"
	// VerificationNotSupported: values of fields that are not critical
	// were not supported; the answer carries warnings.
	VerificationNotSupported VerificationOutcome = "not_supported"
	// VerificationRejected: a critical value was not supported; the
	// candidate failed.
	VerificationRejected VerificationOutcome = "rejected"
	// VerificationSkipped: no verdict (call cap, deadline, verifier
	// failure, invalid verdict).
	VerificationSkipped VerificationOutcome = "skipped"
)

// RecordVerification counts one verifier check of a candidate of target.
func (m *Metrics) RecordVerification(ctx context.Context, target string, outcome VerificationOutcome) {
	if m == nil {
		return
	}
	t, o := m.targets.value(target), string(outcome)
	m.sets.add(ctx, m.verifications, &setKey{use: useVerification, a: t, b: o}, 1)
}
