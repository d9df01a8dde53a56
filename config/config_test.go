package config_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/guardgen/guardgen/config"
	configv1 "github.com/guardgen/guardgen/gen/guardgen/config/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// The article's template holds exactly the article's values, which are the
// defaults: loading it changes nothing, and its values mean what they say.
func TestArticleTemplate(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"testdata/article-template.yaml", "../deploy/config/article-template.yaml"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(config.Default(), cfg, protocmp.Transform()); diff != "" {
				t.Errorf("Load(%s) differs from Default() (-want +got):\n%s", path, diff)
			}
			wantRetry := config.RetryPolicy{
				MaxAttempts: 3,
				BaseDelay:   2 * time.Second,
				MaxDelay:    20 * time.Second,
				Jitter:      0.3,
				Reasons: []guardgenv1.FailureReason{
					guardgenv1.FailureReason_FAILURE_REASON_RATE_LIMITED,
					guardgenv1.FailureReason_FAILURE_REASON_UPSTREAM_TIMEOUT,
					guardgenv1.FailureReason_FAILURE_REASON_UPSTREAM_UNAVAILABLE,
				},
			}
			if diff := cmp.Diff(wantRetry, config.Retry(cfg)); diff != "" {
				t.Errorf("Retry (-want +got):\n%s", diff)
			}
			wantRouting := map[guardgenv1.FailureDomain]config.DomainPolicy{
				guardgenv1.FailureDomain_FAILURE_DOMAIN_INFRASTRUCTURE:   {Action: guardgenv1.RecoveryAction_RECOVERY_ACTION_RETRY_WITH_BACKOFF, AlertThreshold: 3},
				guardgenv1.FailureDomain_FAILURE_DOMAIN_INPUT_CONSTRAINT: {Action: guardgenv1.RecoveryAction_RECOVERY_ACTION_REJECT_AND_FIX, AlertThreshold: 1},
				guardgenv1.FailureDomain_FAILURE_DOMAIN_OUTPUT_SEMANTIC:  {Action: guardgenv1.RecoveryAction_RECOVERY_ACTION_FALLBACK_TO_CACHE, AlertThreshold: 5},
				guardgenv1.FailureDomain_FAILURE_DOMAIN_PIPELINE_LOGIC:   {Action: guardgenv1.RecoveryAction_RECOVERY_ACTION_ALERT_AND_DEGRADE, AlertThreshold: 1},
			}
			if diff := cmp.Diff(wantRouting, config.Routing(cfg)); diff != "" {
				t.Errorf("Routing (-want +got):\n%s", diff)
			}
			wantValidation := &configv1.Validation{
				StripMarkdownFences:     proto.Bool(true),
				MaxContentPreviewLength: proto.Uint32(200),
				StrictSchemaMode:        proto.Bool(false),
				AllowPartialMatches:     proto.Bool(true),
			}
			if diff := cmp.Diff(wantValidation, cfg.GetLlmPipeline().GetValidation(), protocmp.Transform()); diff != "" {
				t.Errorf("validation (-want +got):\n%s", diff)
			}
			wantObservability := &configv1.Observability{
				TraceErrors:    proto.Bool(true),
				LogRawPayloads: proto.Bool(false),
				MetricsPrefix:  proto.String("llm.pipeline"),
			}
			if diff := cmp.Diff(wantObservability, cfg.GetLlmPipeline().GetObservability(), protocmp.Transform()); diff != "" {
				t.Errorf("observability (-want +got):\n%s", diff)
			}
		})
	}
}

// Both copies of the article's template are the same bytes, so the one
// deployed is the one tested.
func TestArticleTemplateCopiesMatch(t *testing.T) {
	t.Parallel()
	a, err := os.ReadFile("testdata/article-template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../deploy/config/article-template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("testdata/article-template.yaml and deploy/config/article-template.yaml differ")
	}
}

func TestExampleConfig(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("../deploy/config/guardgen.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := &configv1.Route{Name: "default", Entries: []*configv1.RouteEntry{
		{Provider: "openai", MaxOutputTokens: 1024},
		{Provider: "openai", Model: "gpt-4o", MaxOutputTokens: 4096},
	}, AllowedModels: []string{"gpt-4o-mini"}, MaxOutputTokens: proto.Uint32(4096)}
	if got := config.Route(cfg, "drill").GetCallers(); !slices.Equal(got, []string{"drill"}) {
		t.Errorf("drill route callers = %v, want [drill]: it must not be open to every caller", got)
	}
	if diff := cmp.Diff(want, config.Route(cfg, ""), protocmp.Transform()); diff != "" {
		t.Errorf(`Route(cfg, "") (-want +got):\n%s`, diff)
	}
	openai := config.Provider(cfg, "openai")
	if got := openai.GetApiKeyEnv(); got != "OPENAI_API_KEY" {
		t.Errorf("openai api_key_env = %q, want OPENAI_API_KEY", got)
	}
	if got := config.Seconds(openai.GetAttemptTimeoutSeconds()); got != 20*time.Second {
		t.Errorf("openai attempt timeout = %v, want 20s", got)
	}
	if got := cfg.GetCache().GetBackend(); got != "redis" {
		t.Errorf("cache backend = %q, want redis", got)
	}
	if got := cfg.GetCache().GetRedis().GetAddress(); got != "redis.internal:6379" {
		t.Errorf("redis address = %q", got)
	}
	if got := cfg.GetServer().GetAuth().GetAllowUnauthenticatedHealthAndReflection(); !got {
		t.Error("auth.allow_unauthenticated_health_and_reflection = false, want true")
	}
	if p := cfg.GetTargets().GetSemantics()["guardgen.examples.v1.TicketClassification"].GetFields()["priority"]; !p.GetCritical() || p.GetMinConfidence() != 0.7 {
		t.Errorf("semantics of TicketClassification.priority = %v, want critical with min_confidence 0.7", p)
	}
	if got := cfg.GetServer().GetTls(); got != nil {
		t.Errorf("server tls = %v, want unset (commented out)", got)
	}
	if got := cfg.GetTargets().GetNonCriticalFields()["guardgen.examples.v1.TicketClassification"].GetPaths(); !cmp.Equal(got, []string{"summary"}) {
		t.Errorf("non_critical_fields = %v", got)
	}
}

// A file is overlaid on the defaults: what it sets replaces, lists
// wholesale; what it leaves out keeps the default.
func TestOverlay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want func(*configv1.Config)
	}{{
		name: "empty file",
		yaml: "",
		want: func(*configv1.Config) {},
	}, {
		name: "comments only",
		yaml: "# nothing\n",
		want: func(*configv1.Config) {},
	}, {
		name: "one scalar keeps its siblings",
		yaml: "llm_pipeline:\n  execution:\n    max_attempts: 5\n",
		want: func(c *configv1.Config) { c.LlmPipeline.Execution.MaxAttempts = proto.Uint32(5) },
	}, {
		name: "a list replaces, never appends",
		yaml: "llm_pipeline:\n  execution:\n    infra_errors: [RateLimitError]\n",
		want: func(c *configv1.Config) { c.LlmPipeline.Execution.InfraErrors = []string{"RateLimitError"} },
	}, {
		name: "false overrides a true default",
		yaml: "llm_pipeline:\n  validation:\n    allow_partial_matches: false\n",
		want: func(c *configv1.Config) { c.LlmPipeline.Validation.AllowPartialMatches = proto.Bool(false) },
	}, {
		name: "an empty string overrides",
		yaml: "server:\n  metrics_listen: \"\"\n",
		want: func(c *configv1.Config) { c.Server.MetricsListen = proto.String("") },
	}, {
		name: "zero overrides",
		yaml: "llm_pipeline:\n  routing:\n    output_semantic:\n      alert_threshold: 0\n",
		want: func(c *configv1.Config) { c.LlmPipeline.Routing.OutputSemantic.AlertThreshold = proto.Uint32(0) },
	}, {
		name: "providers and routes replace",
		yaml: "providers:\n  - {name: p, type: synthetic}\nroutes:\n  - {name: r, entries: [{provider: p}]}\ndefault_route: r\n",
		want: func(c *configv1.Config) {
			c.Providers = []*configv1.Provider{{Name: "p", Type: "synthetic"}}
			c.Routes = []*configv1.Route{{Name: "r", Entries: []*configv1.RouteEntry{{Provider: "p"}}}}
			c.DefaultRoute = proto.String("r")
		},
	}, {
		name: "a nested message merges",
		yaml: "cache:\n  backend: redis\n  hmac_key_env: K\n  redis:\n    address: localhost:6379\n",
		want: func(c *configv1.Config) {
			c.Cache.Backend = proto.String("redis")
			c.Cache.Redis.Address = "localhost:6379"
			c.Cache.HmacKeyEnv = "K"
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := config.Default()
			tt.want(want)
			got, err := config.Parse("guardgen.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

// brokenTests are the files in testdata/broken with their whole error
// texts, one line per problem, after the file name.
var brokenTests = []struct {
	file string
	want []string
}{{
	file: "unknown-key.yaml",
	want: []string{`7:5: unknown field "max_attemps", expected one of [max_attempts base_delay_seconds max_delay_seconds jitter_factor infra_errors attempt_timeout_seconds]`},
}, {
	file: "bad-action.yaml",
	want: []string{`4:15: llm_pipeline.routing.infrastructure.action: must be in list [retry_with_backoff, reject_and_fix, alert_and_degrade, fallback_to_cache] (string.in)`},
}, {
	file: "jitter-too-large.yaml",
	want: []string{`4:20: llm_pipeline.execution.jitter_factor: 1.5 is out of range (must be 0–1) (double.gte_lte)`},
}, {
	file: "negative-delay.yaml",
	want: []string{`3:25: llm_pipeline.execution.base_delay_seconds: -2 is out of range (must be 0–600) (double.gte_lte)`},
}, {
	file: "base-above-max.yaml",
	want: []string{`6:25: llm_pipeline.execution.base_delay_seconds: base_delay_seconds must not exceed max_delay_seconds (execution.delays_ordered)`},
}, {
	file: "redis-without-hmac-key.yaml",
	want: []string{`3:12: cache.backend: backend redis needs hmac_key_env: whoever can write to a shared Redis must not be able to make guardgen serve it (cache.redis_hmac_key)`},
}, {
	file: "drain-past-shutdown.yaml",
	want: []string{`4:24: server.drain_delay_seconds: drain_delay_seconds must not exceed shutdown_timeout_seconds (server.drain_within_shutdown)`},
}, {
	file: "route-missing-provider.yaml",
	want: []string{`9:19: routes[0].entries[1].provider: route entry names a provider that is not in providers (config.route_provider_exists)`},
}, {
	file: "default-route-missing.yaml",
	want: []string{`5:16: default_route: default_route must name a route in routes (config.default_route_exists)`},
}, {
	file: "grpc-without-address.yaml",
	want: []string{`4:5: providers[1]: a provider of type grpc needs an address (provider.grpc_address)`},
}, {
	file: "inline-api-key.yaml",
	want: []string{`4:18: providers[0].api_key_env: api_key_env must name an environment variable (e.g. OPENAI_API_KEY), never hold the key itself (provider.api_key_env)`},
}, {
	file: "api-key-field.yaml",
	want: []string{`5:5: unknown field "api_key", expected one of [name type model base_url api_key_env organization project ...]`},
}, {
	file: "wrong-type.yaml",
	want: []string{
		`3:19: llm_pipeline.execution.max_attempts: "three" is not a valid whole number (must be 1–10)`,
		`4:19: llm_pipeline.execution.infra_errors: expected sequence, got scalar`,
		`5:15: llm_pipeline.validation: expected fields for guardgen.config.v1.Validation, got sequence`,
	},
}, {
	file: "negative-count.yaml",
	want: []string{`5:19: llm_pipeline.execution.max_attempts: -2 is not a valid whole number (must be 1–10)`},
}, {
	file: "duplicate-key.yaml",
	want: []string{`5:5: key "max_attempts" is already set at line 3`},
}, {
	file: "input-constraint-retried.yaml",
	want: []string{`6:15: llm_pipeline.routing.input_constraint.action: input_constraint action must be reject_and_fix (routing.input_constraint_rejects)`},
}, {
	file: "redis-without-address.yaml",
	want: []string{`2:12: cache.backend: backend redis needs redis.address (cache.redis_address)`},
}, {
	file: "template-not-json.yaml",
	want: []string{`3:48: targets.templates["guardgen.examples.v1.TicketClassification"]: template must be the JSON text of an object (targets.template_json)`},
}, {
	file: "semantics-confidence-above-one.yaml",
	want: []string{`6:27: targets.semantics["guardgen.examples.v1.TicketClassification"].fields["priority"].min_confidence: 1.5 is out of range (must be 0–1) (double.gte_lte)`},
}, {
	file: "route-callers-without-auth.yaml",
	want: []string{`8:14: routes[1].callers: a route with callers needs server.auth: callers are authenticated subjects (config.route_callers_need_auth)`},
}, {
	// The default route names the synthetic provider the file's list
	// dropped: the error points at that list.
	file: "providers-without-default.yaml",
	want: []string{`4:3: providers: route entry names a provider that is not in providers (config.route_provider_exists)`},
}, {
	file: "preset-on-synthetic.yaml",
	want: []string{`2:5: providers[0]: base_url, api_key_env, organization, project, output_mode, preset and token_limit_field apply to type openai only (provider.openai_only)`},
}, {
	file: "unknown-preset.yaml",
	want: []string{`4:13: providers[0].preset: must be in list [openai, azure_openai, ollama, vllm, llama_cpp, anthropic, gemini] (string.in)`},
}, {
	file: "duplicate-price.yaml",
	want: []string{`2:5: providers[0]: each model may have one price (provider.prices_unique)`},
}, {
	file: "rate-limit-redis-without-address.yaml",
	want: []string{`5:7: server.rate_limit.redis: rate_limit.redis needs an address (rate_limit.redis_address)`},
}}

// Every broken file fails with the file, the line and column of the
// offending key or value, and the reason.
func TestBroken(t *testing.T) {
	t.Parallel()
	for _, tt := range brokenTests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("testdata", "broken", tt.file)
			cfg, err := config.Load(path)
			if err == nil {
				t.Fatalf("Load(%s) = %v, want an error", path, cfg)
			}
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = path + ":" + w
			}
			if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("Load(%s) error (-want +got):\n%s", path, diff)
			}
		})
	}
}

// Rules that span fields are reported at the field the file set.
func TestRuleLocations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want string
	}{{
		name: "duplicate provider",
		yaml: "providers:\n  - {name: synthetic, type: synthetic}\n  - name: synthetic\n    type: synthetic\n",
		want: `guardgen.yaml:3:11: providers[1].name: provider names must be unique (config.provider_names_unique)`,
	}, {
		name: "duplicate route",
		yaml: "routes:\n  - {name: default, entries: [{provider: synthetic}]}\n  - name: default\n    entries: [{provider: synthetic}]\n",
		want: `guardgen.yaml:3:11: routes[1].name: route names must be unique (config.route_names_unique)`,
	}, {
		name: "max_delay below the default base",
		yaml: "llm_pipeline:\n  execution:\n    max_delay_seconds: 1\n",
		want: `guardgen.yaml:3:24: llm_pipeline.execution.max_delay_seconds: base_delay_seconds must not exceed max_delay_seconds (execution.delays_ordered)`,
	}, {
		name: "prompt above message",
		yaml: "server:\n  max_message_bytes: 4096\n",
		want: `guardgen.yaml:2:22: server.max_message_bytes: max_prompt_bytes must not exceed max_message_bytes (server.prompt_within_message)` + "\n" +
			`guardgen.yaml:2:22: server.max_message_bytes: max_descriptor_set_bytes must not exceed max_message_bytes (server.descriptor_set_within_message)`,
	}, {
		name: "semantic attempts above calls",
		yaml: "server:\n  max_provider_calls: 2\n",
		want: `guardgen.yaml:2:23: server.max_provider_calls: semantic_attempts must not exceed max_provider_calls (server.semantic_within_calls)`,
	}, {
		name: "tls half a key pair",
		yaml: "providers:\n  - name: synthetic\n    type: synthetic\n  - name: p\n    type: grpc\n    address: p:1\n    tls:\n      cert_file: c.pem\n",
		want: `guardgen.yaml:8:7: providers[1].tls: cert_file and key_file must be set together (client_tls.key_pair)`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Parse("guardgen.yaml", []byte(tt.yaml))
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse error:\n%v\nwant:\n%s", err, tt.want)
			}
		})
	}
}

// Every file in testdata/broken has a case in TestBroken (or, for the
// syntax error, TestSyntaxError).
func TestBrokenFilesAreTested(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/broken/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tested := map[string]bool{"syntax-error.yaml": true}
	for _, tt := range brokenTests {
		tested[tt.file] = true
	}
	for _, f := range files {
		if !tested[filepath.Base(f)] {
			t.Errorf("%s has no case in brokenTests", f)
		}
	}
	if len(brokenTests) < 8 {
		t.Errorf("%d broken configs, want at least 8", len(brokenTests))
	}
}

// A YAML syntax error is reported as yaml words it, with the file name:
// yaml.v3 counts parser-error lines from 0 (the '[' here is on line 4), so
// its number is not claimed as a position.
func TestSyntaxError(t *testing.T) {
	t.Parallel()
	path := "testdata/broken/syntax-error.yaml"
	_, err := config.Load(path)
	want := path + `: yaml: line 3: did not find expected ',' or ']'`
	if err == nil || err.Error() != want {
		t.Errorf("Load(%s) = %v, want %s", path, err, want)
	}
}

// Errors never quote the file, so a key pasted into it stays out of logs.
func TestErrorsDoNotLeakSecrets(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"inline-api-key.yaml", "api-key-field.yaml"} {
		_, err := config.Load(filepath.Join("testdata", "broken", f))
		if err == nil || strings.Contains(err.Error(), "sk-proj") {
			t.Errorf("Load(%s) = %v, want an error without the key", f, err)
		}
	}
}

// Errors are *config.Errors with the position as data, in file order. This
// also pins how protoyaml (v0.8.0) formats its errors, which Parse reads
// (TestBroken pins its decoding errors).
func TestErrorsCarryPositions(t *testing.T) {
	t.Parallel()
	yaml := "llm_pipeline:\n  execution:\n    jitter_factor: 2\n    max_attempts: 0\n"
	_, err := config.Parse("guardgen.yaml", []byte(yaml))
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("Parse error %T is not a joined error: %v", err, err)
	}
	var got []config.Error
	for _, e := range joined.Unwrap() {
		var ce *config.Error
		if !errors.As(e, &ce) {
			t.Fatalf("error %T is not a *config.Error: %v", e, e)
		}
		got = append(got, *ce)
	}
	want := []config.Error{
		{File: "guardgen.yaml", Line: 3, Column: 20, Reason: "llm_pipeline.execution.jitter_factor: 2 is out of range (must be 0–1) (double.gte_lte)"},
		{File: "guardgen.yaml", Line: 4, Column: 19, Reason: "llm_pipeline.execution.max_attempts: 0 is out of range (must be 1–10) (uint32.gte_lte)"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestDefaultIsValid(t *testing.T) {
	t.Parallel()
	if err := config.Validate(config.Default()); err != nil {
		t.Fatal(err)
	}
	a := config.Default()
	a.Providers[0].Name = "changed"
	a.LlmPipeline.Execution.InfraErrors[0] = "changed"
	if b := config.Default(); b.GetProviders()[0].GetName() != "synthetic" || b.GetLlmPipeline().GetExecution().GetInfraErrors()[0] != "RateLimitError" {
		t.Error("Default returns shared memory: a change to one result shows in the next")
	}
}

// Validate checks configurations built in code, and reports cross-field
// rules at the offending field.
func TestValidate(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Routes[0].Entries = append(cfg.Routes[0].Entries, &configv1.RouteEntry{Provider: "missing"})
	err := config.Validate(cfg)
	verr, ok := errors.AsType[*protovalidate.ValidationError](err)
	if !ok {
		t.Fatalf("Validate = %v, want a *protovalidate.ValidationError", err)
	}
	msg := descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum()
	want := &validate.Violations{Violations: []*validate.Violation{validate.Violation_builder{
		Field: validate.FieldPath_builder{Elements: []*validate.FieldPathElement{
			validate.FieldPathElement_builder{FieldNumber: proto.Int32(3), FieldName: proto.String("routes"), FieldType: msg, Index: proto.Uint64(0)}.Build(),
			validate.FieldPathElement_builder{FieldNumber: proto.Int32(2), FieldName: proto.String("entries"), FieldType: msg, Index: proto.Uint64(1)}.Build(),
			validate.FieldPathElement_builder{FieldNumber: proto.Int32(1), FieldName: proto.String("provider"), FieldType: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()}.Build(),
		}}.Build(),
		RuleId:  proto.String("config.route_provider_exists"),
		Message: proto.String("route entry names a provider that is not in providers"),
	}.Build()}}
	if diff := cmp.Diff(want, verr.ToProto(), protocmp.Transform(), protocmp.IgnoreFields(&validate.Violation{}, "rule")); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
}

// TestProviderDefaults: a provider without a model or base_url gets the
// per-type defaults config.proto documents; its own values win.
func TestProviderDefaults(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		p           *configv1.Provider
		model, base string
	}{
		{&configv1.Provider{Type: "openai"}, "gpt-4o-mini", "https://api.openai.com/v1"},
		{&configv1.Provider{Type: "openai", Model: "m", BaseUrl: "http://localhost:8000/v1"}, "m", "http://localhost:8000/v1"},
		{&configv1.Provider{Type: "synthetic"}, "synthetic-1", "https://api.openai.com/v1"},
		{&configv1.Provider{Type: "grpc"}, "", "https://api.openai.com/v1"},
	} {
		if got := config.ProviderModel(tt.p); got != tt.model {
			t.Errorf("ProviderModel(%v) = %q, want %q", tt.p, got, tt.model)
		}
		if got := config.ProviderBaseURL(tt.p); got != tt.base {
			t.Errorf("ProviderBaseURL(%v) = %q, want %q", tt.p, got, tt.base)
		}
	}
}
