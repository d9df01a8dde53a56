package app_test

// End-to-end tests of the OpenAI-compatible presets and output modes:
// guardgen built by app.New from a configuration, called over real gRPC,
// its openai provider talking real HTTP to an openaitest server.

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/guardgen/guardgen/app"
	"github.com/guardgen/guardgen/app/apptest"
	"github.com/guardgen/guardgen/config"
	examplesv1 "github.com/guardgen/guardgen/gen/guardgen/examples/v1"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
)

const (
	ticketType  = "guardgen.examples.v1.TicketClassification"
	validTicket = `{"category":"billing","priority":3,"summary":"Customer was charged twice this month."}`
)

// openaiGuardgen starts guardgen whose default route is one openai
// provider at an openaitest server, configured by providerYAML (indented
// under the provider entry).
func openaiGuardgen(t *testing.T, providerYAML string, opts app.Options) (guardgenv1.GenerationServiceClient, *openaitest.Server, *apptest.Server) {
	t.Helper()
	up := openaitest.New()
	t.Cleanup(up.Close)
	srv := openaiGuardgenAt(t, up.URL(), providerYAML, opts)
	return guardgenv1.NewGenerationServiceClient(srv.Dial(t)), up, srv
}

// openaiGuardgenAt starts guardgen whose default route is one openai
// provider at baseURL, with one attempt per call.
func openaiGuardgenAt(t *testing.T, baseURL, providerYAML string, opts app.Options) *apptest.Server {
	t.Helper()
	cfg, err := config.Parse("test.yaml", fmt.Appendf(nil, `
llm_pipeline:
  execution:
    max_attempts: 1
providers:
  - name: upstream
    type: openai
    base_url: %s
    model: test-model
%s
routes:
  - name: default
    entries:
      - provider: upstream
`, baseURL, providerYAML))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return apptest.Start(t, cfg, opts)
}

func generate(t *testing.T, gen guardgenv1.GenerationServiceClient, req *guardgenv1.GenerateRequest) (*guardgenv1.GenerateResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	return gen.Generate(ctx, req)
}

// TestOllamaPresetSendsMaxTokens: Ollama reads max_tokens, not
// max_completion_tokens.
func TestOllamaPresetSendsMaxTokens(t *testing.T) {
	t.Parallel()
	gen, up, _ := openaiGuardgen(t, "    preset: ollama", app.Options{})
	up.Enqueue(openaitest.Reply(validTicket))
	_, err := generate(t, gen, &guardgenv1.GenerateRequest{Prompt: "charged twice", TargetType: ticketType,
		Options: &guardgenv1.GenerateOptions{MaxOutputTokens: 300}})
	if err != nil {
		t.Fatal(err)
	}
	body := up.Requests()[0].Body
	if body["max_tokens"] != float64(300) {
		t.Errorf("max_tokens = %v, want 300", body["max_tokens"])
	}
	if v, ok := body["max_completion_tokens"]; ok {
		t.Errorf("max_completion_tokens = %v sent to Ollama", v)
	}
}

// TestResponseFormatUnsupported: output_mode prompt (a server that does
// not honour response_format) sends none; the schema is in the prompt.
func TestResponseFormatUnsupported(t *testing.T) {
	t.Parallel()
	gen, up, _ := openaiGuardgen(t, "    preset: vllm\n    output_mode: prompt", app.Options{})
	up.Enqueue(openaitest.Reply(validTicket))
	if _, err := generate(t, gen, &guardgenv1.GenerateRequest{Prompt: "charged twice", TargetType: ticketType}); err != nil {
		t.Fatal(err)
	}
	body := up.Requests()[0].Body
	if v, ok := body["response_format"]; ok {
		t.Errorf("response_format = %v, want none", v)
	}
	system := body["messages"].([]any)[0].(map[string]any)["content"].(string)
	if !strings.Contains(system, "conforms to this JSON Schema") || !strings.Contains(system, `"priority"`) {
		t.Errorf("system message lacks the schema:\n%s", system)
	}
}

// TestAnthropicPresetUsesToolMode: the schema goes as one forced function,
// and the answer is read from its arguments.
func TestAnthropicPresetUsesToolMode(t *testing.T) {
	t.Parallel()
	gen, up, _ := openaiGuardgen(t, "    preset: anthropic", app.Options{})
	up.Enqueue(openaitest.ToolCall(validTicket))
	resp, err := generate(t, gen, &guardgenv1.GenerateRequest{Prompt: "charged twice", TargetType: ticketType})
	if err != nil {
		t.Fatal(err)
	}
	body := up.Requests()[0].Body
	tools, _ := body["tools"].([]any)
	choice, _ := body["tool_choice"].(map[string]any)
	fn, _ := choice["function"].(map[string]any)
	if len(tools) != 1 || fn["name"] != tools[0].(map[string]any)["function"].(map[string]any)["name"] {
		t.Errorf("tools %v, tool_choice %v: want one function, forced", body["tools"], body["tool_choice"])
	}
	var got examplesv1.TicketClassification
	if err := resp.GetMessage().UnmarshalTo(&got); err != nil || got.GetCategory() != "billing" || got.GetPriority() != 3 {
		t.Errorf("message %v (%v), want the tool call's arguments", &got, err)
	}
	if m := resp.GetReport().GetAttempts()[0].GetConstraint().GetMode(); m != providerv1.ConstraintMode_CONSTRAINT_MODE_TOOL {
		t.Errorf("report constraint mode = %v", m)
	}
}

// TestSchemaRejectionRetriesNonStrict: a 400 on the strict schema gets one
// non-strict retry inside the same provider call, and the report says so.
func TestSchemaRejectionRetriesNonStrict(t *testing.T) {
	t.Parallel()
	gen, up, _ := openaiGuardgen(t, "", app.Options{})
	up.Enqueue(openaitest.SchemaRejected(), openaitest.Reply(validTicket))
	resp, err := generate(t, gen, &guardgenv1.GenerateRequest{Prompt: "charged twice", TargetType: ticketType})
	if err != nil {
		t.Fatal(err)
	}
	reqs := up.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d upstream requests, want 2 (strict, then non-strict)", len(reqs))
	}
	strict := func(i int) any {
		return reqs[i].Body["response_format"].(map[string]any)["json_schema"].(map[string]any)["strict"]
	}
	if strict(0) != true || strict(1) != false {
		t.Errorf("strict = %v then %v, want true then false", strict(0), strict(1))
	}
	attempts := resp.GetReport().GetAttempts()
	want := &providerv1.Constraint{Mode: providerv1.ConstraintMode_CONSTRAINT_MODE_JSON_SCHEMA, StrictRejected: true}
	if len(attempts) != 1 {
		t.Fatalf("report has %d attempts, want 1", len(attempts))
	}
	if diff := cmp.Diff(want, attempts[0].GetConstraint(), protocmp.Transform()); diff != "" {
		t.Errorf("report constraint (-want +got):\n%s", diff)
	}
}

// TestSchemaRejectedIsPipelineLogic: refused strict and non-strict, the
// failure is SCHEMA_REJECTED: PIPELINE_LOGIC, INTERNAL.
func TestSchemaRejectedIsPipelineLogic(t *testing.T) {
	t.Parallel()
	gen, up, _ := openaiGuardgen(t, "", app.Options{})
	up.Enqueue(openaitest.SchemaRejected(), openaitest.SchemaRejected())
	_, err := generate(t, gen, &guardgenv1.GenerateRequest{Prompt: "charged twice", TargetType: ticketType})
	var detail *guardgenv1.FailureDetail
	for _, d := range status.Convert(err).Details() {
		if fd, ok := d.(*guardgenv1.FailureDetail); ok {
			detail = fd
		}
	}
	if status.Code(err) != codes.Internal || detail.GetDomain() != guardgenv1.FailureDomain_FAILURE_DOMAIN_PIPELINE_LOGIC ||
		detail.GetReason() != guardgenv1.FailureReason_FAILURE_REASON_SCHEMA_REJECTED {
		t.Errorf("err = %v, detail %v; want INTERNAL PIPELINE_LOGIC SCHEMA_REJECTED", err, detail)
	}
}

// TestIncidentReportSentStrict: IncidentReport, with its labels map, goes
// strict; the model's entries come back as a map.
func TestIncidentReportSentStrict(t *testing.T) {
	t.Parallel()
	gen, up, _ := openaiGuardgen(t, "", app.Options{})
	up.Enqueue(openaitest.Reply(`{"title":"Checkout outage","severity":"SEVERITY_HIGH","detectedAt":"2026-11-30T10:00:00Z",` +
		`"resolvedAt":null,"services":[{"name":"checkout","region":"eu-west-1","errorRatePercent":null}],` +
		`"labels":[{"key":"team","value":"payments"},{"key":"env","value":"prod"}],` +
		`"team":"payments","oncallEmail":null,"customerImpactCount":null,"timeline":null}`))
	resp, err := generate(t, gen, &guardgenv1.GenerateRequest{Prompt: "checkout is down", TargetType: "guardgen.examples.v1.IncidentReport",
		Options: &guardgenv1.GenerateOptions{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	js := up.Requests()[0].Body["response_format"].(map[string]any)["json_schema"].(map[string]any)
	if js["strict"] != true {
		t.Errorf("IncidentReport sent with strict = %v, want true", js["strict"])
	}
	var got examplesv1.IncidentReport
	if err := resp.GetMessage().UnmarshalTo(&got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"team": "payments", "env": "prod"}, got.GetLabels()); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	c := resp.GetReport().GetAttempts()[0].GetConstraint()
	if !c.GetStrict() || len(c.GetMapEntries()) != 1 || c.GetMapEntries()[0] != "/labels" {
		t.Errorf("report constraint = %v, want strict with map_entries [/labels]", c)
	}
}

// TestRequestOptionsReachTheUpstream: seed, top_p and few-shot examples.
func TestRequestOptionsReachTheUpstream(t *testing.T) {
	t.Parallel()
	gen, up, _ := openaiGuardgen(t, "", app.Options{})
	up.Enqueue(openaitest.Reply(validTicket))
	seed, topP := int64(42), 0.25
	_, err := generate(t, gen, &guardgenv1.GenerateRequest{Prompt: "charged twice", TargetType: ticketType,
		Options: &guardgenv1.GenerateOptions{Seed: &seed, TopP: &topP, Examples: []*guardgenv1.Example{
			{Input: "the app crashes", Output: `{"category":"technical","priority":2,"summary":"App crash."}`},
		}}})
	if err != nil {
		t.Fatal(err)
	}
	body := up.Requests()[0].Body
	if body["seed"] != float64(42) || body["top_p"] != 0.25 {
		t.Errorf("seed %v, top_p %v; want 42, 0.25", body["seed"], body["top_p"])
	}
	var roles []string
	for _, m := range body["messages"].([]any) {
		roles = append(roles, m.(map[string]any)["role"].(string))
	}
	if diff := cmp.Diff([]string{"system", "user", "assistant", "user"}, roles); diff != "" {
		t.Errorf("roles (-want +got):\n%s", diff)
	}
	if got := body["messages"].([]any)[2].(map[string]any)["content"]; got != `{"category":"technical","priority":2,"summary":"App crash."}` {
		t.Errorf("example answer = %v", got)
	}
}

// TestCostInReport: the provider's price table prices each attempt, cached
// input at its own price.
func TestCostInReport(t *testing.T) {
	t.Parallel()
	gen, up, _ := openaiGuardgen(t, `    prices:
      - model: test-model
        input_per_million: 2
        cached_input_per_million: 1
        output_per_million: 8`, app.Options{})
	up.Enqueue(openaitest.Step{Content: validTicket, Usage: &openaitest.Usage{
		PromptTokens: 1000, CompletionTokens: 500, TotalTokens: 1500, CachedTokens: 400, ReasoningTokens: 100,
	}})
	resp, err := generate(t, gen, &guardgenv1.GenerateRequest{Prompt: "charged twice", TargetType: ticketType})
	if err != nil {
		t.Fatal(err)
	}
	const want = (600*2 + 400*1 + 500*8) / 1e6
	r := resp.GetReport()
	if r.Cost == nil || r.GetCost() != want || r.GetAttempts()[0].GetCost() != want {
		t.Errorf("cost: report %v, attempt %v; want %v", r.Cost, r.GetAttempts()[0].Cost, want)
	}
	if u := r.GetUsage(); u.GetCachedInputTokens() != 400 || u.GetReasoningTokens() != 100 {
		t.Errorf("report usage = %v, want cached 400 and reasoning 100", u)
	}
}

// TestProviderSettings: a provider's model, organization and project
// reach the upstream request, and its timeout_seconds ends a call the
// upstream never answers as UPSTREAM_TIMEOUT well before the request
// timeout.
func TestProviderSettings(t *testing.T) {
	t.Parallel()
	gen, up, _ := openaiGuardgen(t, "    organization: org-guardgen\n    project: proj-tickets\n    timeout_seconds: 0.5\n", app.Options{LogOutput: io.Discard})
	up.Enqueue(openaitest.Reply(validTicket))
	if _, err := generate(t, gen, &guardgenv1.GenerateRequest{Prompt: "charged twice", TargetType: ticketType}); err != nil {
		t.Fatal(err)
	}
	r := up.Requests()[0]
	if r.Body["model"] != "test-model" || r.Header.Get("OpenAI-Organization") != "org-guardgen" || r.Header.Get("OpenAI-Project") != "proj-tickets" {
		t.Errorf("model %v, organization %q, project %q; want test-model, org-guardgen, proj-tickets",
			r.Body["model"], r.Header.Get("OpenAI-Organization"), r.Header.Get("OpenAI-Project"))
	}
	up.SetDefault(openaitest.Step{Hang: true})
	// Another prompt: the first answer is cached.
	_, err := generate(t, gen, &guardgenv1.GenerateRequest{Prompt: "the app crashes", TargetType: ticketType})
	if classifierReason(err) != "UPSTREAM_TIMEOUT" {
		t.Errorf("a hung upstream with timeout_seconds 0.5: %v (detail %v), want UPSTREAM_TIMEOUT", err, detail(err))
	}
}
