// Package telemetry is guardgen's observability kit: OpenTelemetry metrics
// exposed in the Prometheus format, failure-domain alerts over a sliding
// window, OTLP trace export, and the span attribute keys guardgen uses.
//
// Everything here is built from option structs whose zero value means the
// defaults, and every record method is safe on a nil *Metrics, so code paths
// and tests without telemetry need no branching.
//
// # Metric families
//
// With the default prefix "llm.pipeline" the Prometheus families are:
//
//	llm_pipeline_requests_total{outcome,domain,action,reason,target}
//	llm_pipeline_request_duration_seconds{outcome,target}
//	llm_pipeline_requests_in_flight
//	llm_pipeline_requests_shed_total{reason}
//	llm_pipeline_provider_calls_total{provider,model,outcome}
//	llm_pipeline_provider_call_duration_seconds{provider,model,outcome}
//	llm_pipeline_provider_retries_total{provider,reason}
//	llm_pipeline_requests_rejected_total{reason}
//	llm_pipeline_tokens_total{provider,model,direction}
//	llm_pipeline_cost_total{provider,model}
//	llm_pipeline_reasks_total{reason}
//	llm_pipeline_fallbacks_total{kind}
//	llm_pipeline_cache_lookups_total{backend,result}
//	llm_pipeline_cache_rejected_total{backend,reason}
//	llm_pipeline_cache_writes_total{backend,result}
//	llm_pipeline_cache_breaker_state{backend}
//	llm_pipeline_breaker_state{provider}
//	llm_pipeline_alerts_total{domain}
//
// Beside them, under the names and with the bucket boundaries of the
// OpenTelemetry GenAI semantic conventions (GenAISemconvVersion), whatever
// the prefix:
//
//	gen_ai_client_operation_duration_seconds{gen_ai_operation_name,gen_ai_provider_name,gen_ai_request_model,gen_ai_response_model,server_address,server_port,error_type}
//	gen_ai_client_token_usage{...,gen_ai_token_type}
//
// requests_rejected counts every request refused before any generation
// (invalid_argument, unknown_target, unauthenticated, and the shed ones:
// rate_limit, overload); requests_shed counts only the shed ones, for the
// load-shed alert.
//
// Enum labels (domain, action, reason) carry the proto enum value name
// without its prefix ("OUTPUT_SEMANTIC", "ALERT_AND_DEGRADE",
// "RETRIES_EXHAUSTED"), the same text classifier.ReasonName logs; an
// unspecified enum is "none". Free-form labels (target, provider, model,
// backend) are bounded: each keeps its first Options.MaxLabelValues distinct
// values and reports the rest as "other", so a caller that invents target
// type names or model names cannot grow the series count without bound.
//
// The alerting rules in deploy/prometheus assume the default prefix.
package telemetry
