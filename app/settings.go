package app

import (
	"math"

	"github.com/guardgen/guardgen/config"
	configv1 "github.com/guardgen/guardgen/gen/guardgen/config/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/schema"
	"github.com/guardgen/guardgen/server"
)

// ResolverSettings returns the target resolver's options cfg sets: the
// descriptor files and the bounds on request-defined types.
func ResolverSettings(cfg *configv1.Config) schema.Options {
	srv := cfg.GetServer()
	rt := cfg.GetTargets().GetRequestTypes()
	return schema.Options{
		DescriptorFiles:       cfg.GetTargets().GetDescriptorSets(),
		MaxDescriptorSetBytes: int(srv.GetMaxDescriptorSetBytes()),
		RequestTypesOff:       !rt.GetAllowed(),
		RequestCELOff:         !rt.GetCelRules(),
		MaxCELCost:            rt.GetMaxCelCost(),
		MaxRegexInstructions:  int(rt.GetMaxRegexInstructions()),
		MaxValueBytes:         int(srv.GetMaxOutputBytes()),
		CacheBytes:            int64(rt.GetCacheBytes()),
		CacheSize:             int(rt.GetCacheEntries()),
	}
}

// ServerSettings returns the server options cfg sets by value: limits,
// timeouts, output policy, routing actions and the rate limit's rate,
// with nothing that has to be opened or read (the resolver, routes,
// cache, templates, metrics, tokens, TLS). build adds those. Tests that
// build a server by hand start from ServerSettings(config.Default()), so
// they run with the defaults config.proto documents and nothing else.
func ServerSettings(cfg *configv1.Config) server.Options {
	srv := cfg.GetServer()
	validation := cfg.GetLlmPipeline().GetValidation()
	observability := cfg.GetLlmPipeline().GetObservability()
	actions := make(map[guardgenv1.FailureDomain]guardgenv1.RecoveryAction)
	for domain, p := range config.Routing(cfg) {
		if p.Action != guardgenv1.RecoveryAction_RECOVERY_ACTION_UNSPECIFIED {
			actions[domain] = p.Action
		}
	}
	return server.Options{
		SemanticAttempts:   int(srv.GetSemanticAttempts()),
		MaxProviderCalls:   int(srv.GetMaxProviderCalls()),
		PreviewLength:      int(validation.GetMaxContentPreviewLength()),
		LogRawPayloads:     observability.GetLogRawPayloads(),
		TraceErrors:        observability.GetTraceErrors(),
		StrictSchema:       validation.GetStrictSchemaMode(),
		StripFences:        validation.GetStripMarkdownFences(),
		DomainActions:      actions,
		BusinessRules:      businessRules(cfg),
		NonCriticalFields:  nonCriticalFields(cfg),
		MaxOutputBytes:     int(srv.GetMaxOutputBytes()),
		MaxOutputValues:    int(srv.GetMaxOutputValues()),
		MaxPromptBytes:     int(srv.GetMaxPromptBytes()),
		CacheTenant:        cfg.GetCache().GetTenant(),
		CacheTTL:           config.Seconds(cfg.GetCache().GetTtlSeconds()),
		MaxCacheEntryBytes: int(cfg.GetCache().GetMaxEntryBytes()),
		RateLimit:          server.RateLimit{PerSecond: srv.GetRateLimit().GetRequestsPerSecond(), Burst: rateBurst(srv.GetRateLimit())},
		MaxInFlight:        int(srv.GetMaxInFlight()),
		ShedRetryAfter:     config.Seconds(srv.GetShedRetryAfterSeconds()),
		MaxRecvBytes:       int(srv.GetMaxMessageBytes()),
		MaxHeaderListBytes: srv.GetMaxHeaderListBytes(),
		ShutdownTimeout:    config.Seconds(srv.GetShutdownTimeoutSeconds()),
		DrainDelay:         config.Seconds(srv.GetDrainDelaySeconds()),
		DeadlineMargin:     config.Seconds(srv.GetDeadlineMarginSeconds()),
		RequestTimeout:     config.Seconds(srv.GetRequestTimeoutSeconds()),
		HTTP: server.HTTP{
			// The protocols are told apart by a connection's first bytes,
			// which TLS hides: with TLS the port serves gRPC alone.
			Enabled:     srv.GetHttp().GetEnabled() && srv.GetTls().GetCertFile() == "",
			CORSOrigins: srv.GetHttp().GetCorsAllowedOrigins(),
		},
	}
}

// businessRules are the rule ids treated as business rules.
func businessRules(cfg *configv1.Config) map[string]bool {
	business := make(map[string]bool)
	for _, id := range cfg.GetTargets().GetBusinessRules() {
		business[id] = true
	}
	return business
}

// nonCriticalFields are the fields allow_partial_matches may clear, per
// target; nil when partial matches are off.
func nonCriticalFields(cfg *configv1.Config) map[string]map[string]bool {
	if !cfg.GetLlmPipeline().GetValidation().GetAllowPartialMatches() {
		return nil
	}
	nonCritical := make(map[string]map[string]bool)
	for target, paths := range cfg.GetTargets().GetNonCriticalFields() {
		nonCritical[target] = make(map[string]bool)
		for _, p := range paths.GetPaths() {
			nonCritical[target][p] = true
		}
	}
	return nonCritical
}

// rateBurst is the rate limit's bucket size: burst, or with burst 0 (as
// config.proto documents it) the rate rounded up, at least 1.
func rateBurst(r *configv1.RateLimit) int {
	if b := r.GetBurst(); b > 0 {
		return int(b)
	}
	return max(1, int(math.Ceil(r.GetRequestsPerSecond())))
}

// ChainSettings returns the chain options cfg sets for provider p by
// value: its retry policy, breaker, retry budget, retriable reasons and
// prices, with none of the callbacks, tracer or clock build adds.
func ChainSettings(cfg *configv1.Config, p *configv1.Provider) providers.ChainOptions {
	retry := config.Retry(cfg)
	srv := cfg.GetServer()
	return providers.ChainOptions{
		Provider: p.GetName(),
		Model:    p.GetModel(),
		Policy: providers.Policy{
			MaxAttempts:    uint(retry.MaxAttempts),
			BaseDelay:      retry.BaseDelay,
			MaxDelay:       retry.MaxDelay,
			Jitter:         retry.Jitter,
			AttemptTimeout: config.Seconds(attemptTimeout(cfg, p)),
		},
		RetryReasons: retry.Reasons,
		Breaker: providers.BreakerPolicy{
			// config.proto: consecutive_failures 0 turns the breaker off.
			Disabled:            srv.GetBreaker().GetConsecutiveFailures() == 0,
			ConsecutiveFailures: int(srv.GetBreaker().GetConsecutiveFailures()),
			OpenFor:             config.Seconds(srv.GetBreaker().GetOpenSeconds()),
			ProbeTimeout:        config.Seconds(srv.GetBreaker().GetProbeTimeoutSeconds()),
		},
		Budget: providers.BudgetPolicy{
			// config.proto: max_tokens 0 turns the budget off.
			Disabled:  srv.GetRetryBudget().GetMaxTokens() == 0,
			MaxTokens: srv.GetRetryBudget().GetMaxTokens(),
			Ratio:     srv.GetRetryBudget().GetTokenRatio(),
		},
		Prices: prices(p.GetPrices()),
	}
}

// attemptTimeout is provider p's own attempt timeout, or the execution
// policy's for every provider.
func attemptTimeout(cfg *configv1.Config, p *configv1.Provider) float64 {
	if p.AttemptTimeoutSeconds != nil {
		return p.GetAttemptTimeoutSeconds()
	}
	return cfg.GetLlmPipeline().GetExecution().GetAttemptTimeoutSeconds()
}

// prices is a provider's price table; cached input without a price of its
// own costs the input price.
func prices(list []*configv1.ModelPrice) providers.Prices {
	if len(list) == 0 {
		return nil
	}
	out := make(providers.Prices, len(list))
	for _, p := range list {
		cached := p.GetInputPerMillion()
		if p.CachedInputPerMillion != nil {
			cached = p.GetCachedInputPerMillion()
		}
		out[p.GetModel()] = providers.Price{Input: p.GetInputPerMillion(), CachedInput: cached, Output: p.GetOutputPerMillion()}
	}
	return out
}
