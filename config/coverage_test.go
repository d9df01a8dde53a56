package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	configv1 "github.com/guardgen/guardgen/gen/guardgen/config/v1"
)

// settingTests names, for every leaf field of guardgen.config.v1.Config,
// the test that proves the setting takes effect, as "dir.TestName" with
// dir the package's directory from the repository root ("." for the root
// package). A map's entries and a repeated message's elements are walked
// under "*". A setting added to config.proto must be listed here with its
// test, or removed with reserved: TestEverySettingHasATest fails until
// then.
var settingTests = map[string]string{
	"llm_pipeline.execution.max_attempts":                   "app.TestZeroMeansWhatConfigSays",
	"llm_pipeline.execution.base_delay_seconds":             "app.TestZeroMeansWhatConfigSays",
	"llm_pipeline.execution.max_delay_seconds":              "app.TestZeroMeansWhatConfigSays",
	"llm_pipeline.execution.jitter_factor":                  "app.TestZeroMeansWhatConfigSays",
	"llm_pipeline.execution.infra_errors":                   "config.TestInfraReasons",
	"llm_pipeline.execution.attempt_timeout_seconds":        "app.TestHungUpstreamWithoutCallerDeadline",
	"llm_pipeline.validation.strip_markdown_fences":         "app.TestStripMarkdownFences",
	"llm_pipeline.validation.max_content_preview_length":    "server.TestLogRawPayloadsArePreviews",
	"llm_pipeline.validation.strict_schema_mode":            "server.TestOpenAIStrictPerRequest",
	"llm_pipeline.validation.allow_partial_matches":         "server.TestPartialMatch",
	"llm_pipeline.routing.infrastructure.action":            "app.TestRoutingAction",
	"llm_pipeline.routing.infrastructure.alert_threshold":   "app.TestAlertThreshold",
	"llm_pipeline.routing.input_constraint.action":          "app.TestRoutingAction",
	"llm_pipeline.routing.input_constraint.alert_threshold": "app.TestAlertThreshold",
	"llm_pipeline.routing.output_semantic.action":           "app.TestRoutingAction",
	"llm_pipeline.routing.output_semantic.alert_threshold":  "app.TestAlertThreshold",
	"llm_pipeline.routing.pipeline_logic.action":            "app.TestRoutingAction",
	"llm_pipeline.routing.pipeline_logic.alert_threshold":   "app.TestAlertThreshold",
	"llm_pipeline.observability.trace_errors":               "server.TestSpansCarryGenAIAndFailureAttributes",
	"llm_pipeline.observability.log_raw_payloads":           "server.TestLogRawPayloadsArePreviews",
	"llm_pipeline.observability.metrics_prefix":             "telemetry.TestCustomPrefix",

	"providers.name":                            "app.TestTraceJoinsTheCaller",
	"providers.type":                            ".TestPluginConformance",
	"providers.model":                           "app.TestProviderSettings",
	"providers.base_url":                        "app.TestTraceJoinsTheCaller",
	"providers.api_key_env":                     "app.TestTraceJoinsTheCaller",
	"providers.organization":                    "app.TestProviderSettings",
	"providers.project":                         "app.TestProviderSettings",
	"providers.timeout_seconds":                 "app.TestProviderSettings",
	"providers.attempt_timeout_seconds":         "app.TestHalfOpenProbeTimeout",
	"providers.output_mode":                     "app.TestAnthropicPresetUsesToolMode",
	"providers.address":                         ".TestExternalPlugin",
	"providers.tls.ca_file":                     ".TestMTLSAndBearerAuth",
	"providers.tls.cert_file":                   ".TestMTLSAndBearerAuth",
	"providers.tls.key_file":                    ".TestMTLSAndBearerAuth",
	"providers.tls.server_name":                 ".TestMTLSAndBearerAuth",
	"providers.preset":                          "app.TestOllamaPresetSendsMaxTokens",
	"providers.token_limit_field":               "app.TestOllamaPresetSendsMaxTokens",
	"providers.prices.model":                    "app.TestCostInReport",
	"providers.prices.input_per_million":        "app.TestCostInReport",
	"providers.prices.cached_input_per_million": "app.TestCostInReport",
	"providers.prices.output_per_million":       "app.TestCostInReport",

	"routes.name":                      ".TestRoutePolicy",
	"routes.entries.provider":          ".TestRoutePolicy",
	"routes.entries.model":             ".TestRoutePolicy",
	"routes.entries.max_output_tokens": ".TestRoutePolicy",
	"routes.allowed_models":            ".TestRoutePolicy",
	"routes.max_output_tokens":         ".TestRoutePolicy",
	"routes.callers":                   ".TestRoutePolicy",
	"default_route":                    ".TestRoutePolicy",

	"targets.descriptor_sets":                      ".TestConfiguredSemantics",
	"targets.business_rules":                       "server.TestBusinessRuleHaltsAndAlerts",
	"targets.non_critical_fields.*.paths":          "server.TestPartialMatch",
	"targets.templates":                            "server.TestTruncationDegradationChain",
	"targets.semantics.*.verifier_route":           ".TestConfiguredSemantics",
	"targets.semantics.*.fields.*.critical":        ".TestConfiguredSemantics",
	"targets.semantics.*.fields.*.min_confidence":  ".TestConfiguredSemantics",
	"targets.semantics.*.fields.*.verify":          ".TestConfiguredSemantics",
	"targets.request_types.allowed":                ".TestRequestTypePolicy",
	"targets.request_types.cel_rules":              ".TestRequestTypePolicy",
	"targets.request_types.max_cel_cost":           "schema.TestCELGuardLimits",
	"targets.request_types.max_regex_instructions": "schema.TestRegexBomb",
	"targets.request_types.cache_bytes":            ".TestRegexBombsAndTypeCache",
	"targets.request_types.cache_entries":          "schema.TestResolveCache",

	"cache.backend":                       "app.TestRedisBreaker",
	"cache.ttl_seconds":                   "app.TestCacheSettings",
	"cache.max_entries":                   "app.TestCacheSettings",
	"cache.redis.address":                 ".TestReplicasShareTheRedisCache",
	"cache.redis.password_env":            "app.TestRedisDatabaseAndPassword",
	"cache.redis.db":                      "app.TestRedisDatabaseAndPassword",
	"cache.redis.key_prefix":              "app.TestPoisonedRedisEntriesAreRefused",
	"cache.redis.tls.ca_file":             ".TestMTLSAndBearerAuth",
	"cache.redis.tls.cert_file":           ".TestMTLSAndBearerAuth",
	"cache.redis.tls.key_file":            ".TestMTLSAndBearerAuth",
	"cache.redis.tls.server_name":         ".TestMTLSAndBearerAuth",
	"cache.tenant":                        "app.TestCacheSettings",
	"cache.max_entry_bytes":               "app.TestPoisonedRedisEntriesAreRefused",
	"cache.timeout_seconds":               "app.TestFrozenRedisKeepsOKCalls",
	"cache.write_queue":                   "app.TestFrozenRedisKeepsOKCalls",
	"cache.breaker.consecutive_failures":  "app.TestRedisBreaker",
	"cache.breaker.open_seconds":          "app.TestRedisBreaker",
	"cache.breaker.probe_timeout_seconds": "app.TestRedisBreaker",
	"cache.hmac_key_env":                  "app.TestPoisonedRedisEntriesAreRefused",

	"server.listen":                                           "app.TestTraceJoinsTheCaller",
	"server.metrics_listen":                                   ".TestMetricsAfterTraffic",
	"server.max_in_flight":                                    "server.TestInFlightLimitShedsAtOnce",
	"server.max_message_bytes":                                ".TestTransportMistakes",
	"server.max_prompt_bytes":                                 "app.TestSizeSettings",
	"server.max_output_bytes":                                 "app.TestSizeSettings",
	"server.max_descriptor_set_bytes":                         "app.TestSizeSettings",
	"server.shutdown_timeout_seconds":                         "server.TestShutdownEndsStuckHandlers",
	"server.semantic_attempts":                                "server.TestLowConfidenceTwice",
	"server.max_provider_calls":                               "server.TestProviderCallCap",
	"server.tls.cert_file":                                    ".TestMTLSAndBearerAuth",
	"server.tls.key_file":                                     ".TestMTLSAndBearerAuth",
	"server.tls.client_ca_file":                               ".TestMTLSAndBearerAuth",
	"server.auth.tokens_file":                                 "app.TestTokensFile",
	"server.auth.tokens_env":                                  ".TestMTLSAndBearerAuth",
	"server.auth.allow_unauthenticated_health_and_reflection": ".TestMTLSAndBearerAuth",
	"server.rate_limit.requests_per_second":                   ".TestFleetRateLimit",
	"server.rate_limit.burst":                                 ".TestFleetRateLimit",
	"server.rate_limit.redis.address":                         ".TestFleetRateLimit",
	"server.rate_limit.redis.password_env":                    "app.TestRedisDatabaseAndPassword",
	"server.rate_limit.redis.db":                              "app.TestRedisDatabaseAndPassword",
	"server.rate_limit.redis.key_prefix":                      ".TestFleetRateLimit",
	"server.rate_limit.redis.tls.ca_file":                     ".TestMTLSAndBearerAuth",
	"server.rate_limit.redis.tls.cert_file":                   ".TestMTLSAndBearerAuth",
	"server.rate_limit.redis.tls.key_file":                    ".TestMTLSAndBearerAuth",
	"server.rate_limit.redis.tls.server_name":                 ".TestMTLSAndBearerAuth",
	"server.retry_budget.max_tokens":                          "app.TestZeroMeansWhatConfigSays",
	"server.retry_budget.token_ratio":                         "providers.TestBudgetStopsRetries",
	"server.breaker.consecutive_failures":                     "app.TestZeroMeansWhatConfigSays",
	"server.breaker.open_seconds":                             "app.TestHalfOpenProbeTimeout",
	"server.breaker.probe_timeout_seconds":                    "app.TestHalfOpenProbeTimeout",
	"server.drain_delay_seconds":                              "server.TestDrainDelayShowsNotServingFirst",
	"server.gc_heap_threshold_bytes":                          "app.TestGCHeapThreshold",
	"server.deadline_margin_seconds":                          "server.TestVerificationSkippedNearTheDeadline",
	"server.keepalive.max_connection_age_seconds":             "app.TestConnectionsRotate",
	"server.keepalive.max_connection_age_grace_seconds":       "app.TestConnectionsRotate",
	"server.keepalive.max_connection_idle_seconds":            "app.TestIdleConnectionsClose",
	"server.keepalive.time_seconds":                           "app.TestSilentClientsAreDropped",
	"server.keepalive.timeout_seconds":                        "app.TestSilentClientsAreDropped",
	"server.keepalive.min_client_ping_seconds":                "app.TestPingFloodIsRefused",
	"server.keepalive.permit_pings_without_calls":             "app.TestPingFloodIsRefused",
	"server.shed_retry_after_seconds":                         "server.TestInFlightLimitShedsAtOnce",
	"server.max_header_list_bytes":                            ".TestMetadataBomb",
	"server.request_timeout_seconds":                          "app.TestHungUpstreamWithoutCallerDeadline",
	"server.max_provider_response_bytes":                      "app.TestSizeSettings",
	"server.http.enabled":                                     "app.TestHTTPDisabled",
	"server.http.cors_allowed_origins":                        "app.TestHTTPCORS",
	"server.max_output_values":                                "app.TestSizeSettings",

	"telemetry.otlp_endpoint":        "telemetry.TestTracerProviderWithEndpoint",
	"telemetry.otlp_insecure":        "telemetry.TestTracerProviderWithEndpoint",
	"telemetry.trace_sample_ratio":   "app.TestTraceJoinsTheCaller",
	"telemetry.service_name":         "telemetry.TestTracerProviderWithEndpoint",
	"telemetry.log_format":           "app.TestLogSettings",
	"telemetry.log_level":            "app.TestLogSettings",
	"telemetry.alert_window_seconds": "telemetry.TestAlerterObserve",
}

// leafSettings lists the leaf fields of md as dotted paths: fields of
// nested configuration messages are walked into, with "*" for a map's
// value or a list's element; scalars, enums, lists of scalars and
// well-known types are leaves.
func leafSettings(md protoreflect.MessageDescriptor, prefix string, out []string) []string {
	for i := range md.Fields().Len() {
		f := md.Fields().Get(i)
		path := prefix + string(f.Name())
		switch {
		case f.IsMap() && f.MapValue().Message() != nil:
			out = leafSettings(f.MapValue().Message(), path+".*.", out)
		case f.Message() != nil && !f.IsMap() && !strings.HasPrefix(string(f.Message().FullName()), "google.protobuf."):
			out = leafSettings(f.Message(), path+".", out)
		default:
			out = append(out, path)
		}
	}
	return out
}

// uncovered returns the leaves of md that listed does not name, and the
// entries of listed that name no leaf.
func uncovered(md protoreflect.MessageDescriptor, listed map[string]string) (unlisted, stale []string) {
	leaves := leafSettings(md, "", nil)
	for _, l := range leaves {
		if _, ok := listed[l]; !ok {
			unlisted = append(unlisted, l)
		}
	}
	for l := range listed {
		if !slices.Contains(leaves, l) {
			stale = append(stale, l)
		}
	}
	slices.Sort(stale)
	return unlisted, stale
}

// TestEverySettingHasATest: every leaf field of the configuration is
// listed with a test, every listed test exists, and no entry names a field
// that is gone.
func TestEverySettingHasATest(t *testing.T) {
	t.Parallel()
	unlisted, stale := uncovered((&configv1.Config{}).ProtoReflect().Descriptor(), settingTests)
	for _, l := range unlisted {
		t.Errorf("setting %s is listed with no test proving its effect: add it to settingTests, or remove it from config.proto with reserved", l)
	}
	for _, l := range stale {
		t.Errorf("settingTests lists %s, which config.proto does not have", l)
	}
	declared := make(map[string]map[string]bool)
	for setting, test := range settingTests {
		dir, name, ok := strings.Cut(test, ".")
		if !ok || !strings.HasPrefix(name, "Test") {
			t.Errorf("%s: %q is not dir.TestName", setting, test)
			continue
		}
		if declared[dir] == nil {
			declared[dir] = testsIn(t, filepath.Join("..", dir))
		}
		if !declared[dir][name] {
			t.Errorf("%s: test %s does not exist in %s/", setting, name, filepath.Join(".", dir))
		}
	}
}

var testFunc = regexp.MustCompile(`(?m)^func (Test\w+)\(t \*testing\.T\)`)

// testsIn returns the names of the Test functions in dir's _test.go files.
func testsIn(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files in %s (%v)", dir, err)
	}
	names := make(map[string]bool)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range testFunc.FindAllSubmatch(src, -1) {
			names[string(m[1])] = true
		}
	}
	return names
}

// TestCoverageCatchesAnUnlistedSetting is the coverage test's own test: a
// configuration schema with one more field, in a nested message, is
// reported as unlisted, and a listed field the schema lacks as stale.
func TestCoverageCatchesAnUnlistedSetting(t *testing.T) {
	t.Parallel()
	file := protodesc.ToFileDescriptorProto(configv1.File_guardgen_config_v1_config_proto)
	file.Name = proto.String("guardgen/config/v1/config_with_an_unread_setting.proto")
	file.Package = proto.String("guardgen.config.v1.unread")
	// Messages refer to each other by full name: move them to the copy's
	// package so the copy stands on its own next to the original.
	for _, m := range file.GetMessageType() {
		retype(m)
	}
	var server *descriptorpb.DescriptorProto
	for _, m := range file.GetMessageType() {
		if m.GetName() == "Server" {
			server = m
		}
	}
	if server == nil {
		t.Fatal("config.proto has no Server message")
	}
	server.Field = append(server.Field, &descriptorpb.FieldDescriptorProto{
		Name:     proto.String("unread_setting"),
		JsonName: proto.String("unreadSetting"),
		Number:   proto.Int32(9999),
		Label:    descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
		Type:     descriptorpb.FieldDescriptorProto_TYPE_UINT32.Enum(),
	})
	fd, err := protodesc.NewFile(file, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatalf("building the changed config.proto: %v", err)
	}
	listed := make(map[string]string, len(settingTests)+1)
	for k, v := range settingTests {
		listed[k] = v
	}
	listed["server.removed_setting"] = "app.TestSomething"
	unlisted, stale := uncovered(fd.Messages().ByName("Config"), listed)
	if fmt.Sprint(unlisted) != "[server.unread_setting]" {
		t.Errorf("unlisted = %v, want [server.unread_setting]", unlisted)
	}
	if fmt.Sprint(stale) != "[server.removed_setting]" {
		t.Errorf("stale = %v, want [server.removed_setting]", stale)
	}
}

// retype points m's message and enum fields that name guardgen.config.v1
// types at the copy's package.
func retype(m *descriptorpb.DescriptorProto) {
	for _, f := range m.GetField() {
		if n := f.GetTypeName(); strings.HasPrefix(n, ".guardgen.config.v1.") {
			f.TypeName = proto.String(".guardgen.config.v1.unread." + strings.TrimPrefix(n, ".guardgen.config.v1."))
		}
	}
	for _, nested := range m.GetNestedType() {
		retype(nested)
	}
}
