package config

import (
	"google.golang.org/protobuf/proto"

	configv1 "github.com/guardgen/guardgen/gen/guardgen/config/v1"
)

// Default returns the built-in configuration, a new message on every call:
// the article's configuration template, the built-in synthetic provider
// behind a route named "default", a memory cache, and the server limits
// documented in config.proto. Every field that has a default is set, so the
// result is what a file is overlaid on. It is one message literal, longer
// than a function should be, on purpose: every default is read here, next
// to its neighbours, and nowhere else.
func Default() *configv1.Config {
	return &configv1.Config{
		LlmPipeline: &configv1.LlmPipeline{
			Execution: &configv1.Execution{
				MaxAttempts:      proto.Uint32(3),
				BaseDelaySeconds: proto.Float64(2),
				MaxDelaySeconds:  proto.Float64(20),
				JitterFactor:     proto.Float64(0.3),
				InfraErrors:      []string{"RateLimitError", "APITimeoutError", "APIConnectionError"},
				// A hung upstream attempt ends in time for one retry
				// within the request timeout.
				AttemptTimeoutSeconds: proto.Float64(30),
			},
			Validation: &configv1.Validation{
				StripMarkdownFences:     proto.Bool(true),
				MaxContentPreviewLength: proto.Uint32(200),
				StrictSchemaMode:        proto.Bool(false),
				AllowPartialMatches:     proto.Bool(true),
			},
			Routing: &configv1.Routing{
				Infrastructure:  domainPolicy("retry_with_backoff", 3),
				InputConstraint: domainPolicy("reject_and_fix", 1),
				OutputSemantic:  domainPolicy("fallback_to_cache", 5),
				PipelineLogic:   domainPolicy("alert_and_degrade", 1),
			},
			Observability: &configv1.Observability{
				TraceErrors:    proto.Bool(true),
				LogRawPayloads: proto.Bool(false),
				MetricsPrefix:  proto.String("llm.pipeline"),
			},
		},
		Providers: []*configv1.Provider{{Name: "synthetic", Type: "synthetic"}},
		Routes: []*configv1.Route{{
			Name:    "default",
			Entries: []*configv1.RouteEntry{{Provider: "synthetic"}},
		}},
		DefaultRoute: proto.String("default"),
		Targets: &configv1.Targets{
			RequestTypes: &configv1.RequestTypes{
				Allowed:              proto.Bool(true),
				CelRules:             proto.Bool(true),
				MaxCelCost:           proto.Uint64(10_000_000),
				MaxRegexInstructions: proto.Uint32(10_000),
				CacheBytes:           proto.Uint64(64 << 20),
				CacheEntries:         proto.Uint32(256),
			},
		},
		Cache: &configv1.Cache{
			Backend:    proto.String("memory"),
			TtlSeconds: proto.Float64(3600),
			MaxEntries: proto.Uint32(1000),
			// Model output is at most max_output_bytes of JSON; its wire
			// form is no larger.
			MaxEntryBytes: proto.Uint32(1 << 20),
			Redis: &configv1.Redis{
				Db:        proto.Uint32(0),
				KeyPrefix: proto.String("guardgen:"),
			},
			// A cache lookup happens on a request that is already
			// degrading: a slow Redis costs a miss, not the deadline.
			TimeoutSeconds: proto.Float64(0.1),
			WriteQueue:     proto.Uint32(1000),
			Breaker: &configv1.Breaker{
				ConsecutiveFailures: proto.Uint32(3),
				OpenSeconds:         proto.Float64(5),
				ProbeTimeoutSeconds: proto.Float64(0.1),
			},
		},
		Server: &configv1.Server{
			Listen:                 proto.String(":50051"),
			MetricsListen:          proto.String(":9464"),
			MaxInFlight:            proto.Uint32(128),
			MaxMessageBytes:        proto.Uint32(4 << 20),
			MaxPromptBytes:         proto.Uint32(256 << 10),
			MaxOutputBytes:         proto.Uint32(1 << 20),
			MaxOutputValues:        proto.Uint32(1 << 14),
			MaxDescriptorSetBytes:  proto.Uint32(1 << 20),
			ShutdownTimeoutSeconds: proto.Float64(15),
			DrainDelaySeconds:      proto.Float64(2),
			DeadlineMarginSeconds:  proto.Float64(0.1),
			Http:                   &configv1.Http{Enabled: proto.Bool(true)},
			MaxHeaderListBytes:     proto.Uint32(16 << 10),
			// A caller without a deadline must not hold a slot (and an
			// upstream connection) for ever.
			RequestTimeoutSeconds:    proto.Float64(60),
			MaxProviderResponseBytes: proto.Uint32(4 << 20),
			SemanticAttempts:         proto.Uint32(3),
			MaxProviderCalls:         proto.Uint32(6),
			RetryBudget: &configv1.RetryBudget{
				MaxTokens:  proto.Float64(10),
				TokenRatio: proto.Float64(0.1),
			},
			Breaker: &configv1.Breaker{
				ConsecutiveFailures: proto.Uint32(5),
				OpenSeconds:         proto.Float64(30),
				ProbeTimeoutSeconds: proto.Float64(10),
			},
			Keepalive: &configv1.Keepalive{
				MaxConnectionAgeSeconds:      proto.Float64(300),
				MaxConnectionAgeGraceSeconds: proto.Float64(60),
				MaxConnectionIdleSeconds:     proto.Float64(0),
				TimeSeconds:                  proto.Float64(60),
				TimeoutSeconds:               proto.Float64(20),
				MinClientPingSeconds:         proto.Float64(10),
				PermitPingsWithoutCalls:      proto.Bool(true),
			},
			ShedRetryAfterSeconds: proto.Float64(0.25),
			GcHeapThresholdBytes:  proto.Uint64(64 << 20),
		},
		Telemetry: &configv1.Telemetry{
			TraceSampleRatio:   proto.Float64(1),
			ServiceName:        proto.String("guardgen"),
			LogFormat:          proto.String("json"),
			LogLevel:           proto.String("info"),
			AlertWindowSeconds: proto.Float64(60),
		},
	}
}

// RouteMaxOutputTokens is the largest options.max_output_tokens a request
// may set on a route whose max_output_tokens is unset. Routes are a list
// a file replaces whole, so this default cannot live in Default.
const RouteMaxOutputTokens = 4096

func domainPolicy(action string, alertThreshold uint32) *configv1.DomainPolicy {
	return &configv1.DomainPolicy{Action: proto.String(action), AlertThreshold: proto.Uint32(alertThreshold)}
}

// The per-type defaults config.proto documents for a provider's model and
// base_url (a list entry, so config.Default cannot hold them).
const (
	OpenAIBaseURL  = "https://api.openai.com/v1"
	OpenAIModel    = "gpt-4o-mini"
	SyntheticModel = "synthetic-1"
)

// ProviderModel is provider p's model: its own, else its type's default
// (none for grpc: the plug-in chooses).
func ProviderModel(p *configv1.Provider) string {
	switch {
	case p.GetModel() != "":
		return p.GetModel()
	case p.GetType() == "openai":
		return OpenAIModel
	case p.GetType() == "synthetic":
		return SyntheticModel
	}
	return ""
}

// ProviderBaseURL is an openai provider's API root: its base_url, else
// OpenAIBaseURL.
func ProviderBaseURL(p *configv1.Provider) string {
	if u := p.GetBaseUrl(); u != "" {
		return u
	}
	return OpenAIBaseURL
}
