package openai_test

// Tests of what makes the provider work with every OpenAI-compatible
// server: the token-limit field, tool mode, maps kept strict, a strict
// schema the upstream rejects, and the usage details. Each runs real HTTP
// from openai-go to an openaitest server.

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/providers/openai"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
)

func TestTokenLimitField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		field                 openai.TokenLimit
		maxCompletion, maxTok any
	}{
		{openai.TokenLimitMaxCompletionTokens, float64(77), nil},
		{openai.TokenLimitMaxTokens, nil, float64(77)},
		{openai.TokenLimitBoth, float64(77), float64(77)},
	}
	for _, tt := range tests {
		t.Run(tt.field.String(), func(t *testing.T) {
			t.Parallel()
			p, srv := start(t, openai.Options{TokenLimit: tt.field})
			req := request(t)
			req.Sampling = &providerv1.SamplingOptions{MaxOutputTokens: 77, TopP: proto.Float64(0.5), Seed: proto.Int64(7)}
			if _, err := p.Complete(t.Context(), req); err != nil {
				t.Fatal(err)
			}
			body := srv.Requests()[0].Body
			if body["max_completion_tokens"] != tt.maxCompletion || body["max_tokens"] != tt.maxTok {
				t.Errorf("max_completion_tokens = %v, max_tokens = %v; want %v, %v",
					body["max_completion_tokens"], body["max_tokens"], tt.maxCompletion, tt.maxTok)
			}
			if body["top_p"] != 0.5 || body["seed"] != float64(7) {
				t.Errorf("top_p = %v, seed = %v; want 0.5, 7", body["top_p"], body["seed"])
			}
		})
	}
}

// TestToolMode: the schema goes as the parameters of one function the
// request forces, and the answer is read from the call's arguments.
func TestToolMode(t *testing.T) {
	t.Parallel()
	p, srv := start(t, openai.Options{Mode: openai.ModeTools})
	const answer = `{"category":"billing","priority":3,"summary":"Charged twice."}`
	srv.Enqueue(openaitest.ToolCall(answer))
	got, err := p.Complete(t.Context(), request(t))
	if err != nil {
		t.Fatal(err)
	}
	body := srv.Requests()[0].Body
	if _, ok := body["response_format"]; ok {
		t.Errorf("tool mode sent response_format %v", body["response_format"])
	}
	tools, _ := body["tools"].([]any)
	if len(tools) != 1 {
		t.Fatalf("tools = %v, want exactly one function", body["tools"])
	}
	fn := tools[0].(map[string]any)["function"].(map[string]any)
	const name = "guardgen_examples_v1_TicketClassification"
	if fn["name"] != name || fn["strict"] != true {
		t.Errorf("function name %v, strict %v; want %s, true", fn["name"], fn["strict"], name)
	}
	params, _ := fn["parameters"].(map[string]any)
	if params["type"] != "object" || params["additionalProperties"] != false {
		t.Errorf("parameters = %v, want the strict schema", params)
	}
	wantChoice := map[string]any{"type": "function", "function": map[string]any{"name": name}}
	if diff := cmp.Diff(wantChoice, body["tool_choice"]); diff != "" {
		t.Errorf("tool_choice forces no single function (-want +got):\n%s", diff)
	}
	if got.GetContent() != answer || got.GetFinishReason() != providerv1.FinishReason_FINISH_REASON_STOP {
		t.Errorf("content %q, finish %v; want the call's arguments, STOP", got.GetContent(), got.GetFinishReason())
	}
	want := &providerv1.Constraint{Mode: providerv1.ConstraintMode_CONSTRAINT_MODE_TOOL, Strict: true}
	if diff := cmp.Diff(want, got.GetConstraint(), protocmp.Transform()); diff != "" {
		t.Errorf("constraint (-want +got):\n%s", diff)
	}
}

// TestMapSentStrict: IncidentReport's schema, with its labels map, goes
// strict, the map as a list of entries; the model's entries come back as
// a JSON object, and the response says where.
func TestMapSentStrict(t *testing.T) {
	t.Parallel()
	schema, err := os.ReadFile("testdata/map.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []openai.OutputMode{openai.ModeJSONSchema, openai.ModeTools} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			p, srv := start(t, openai.Options{Mode: mode})
			const answer = `{"title":"Outage","labels":[{"key":"team","value":"core"},{"key":"env","value":"prod"}],"services":[{"name":"api"}]}`
			if mode == openai.ModeTools {
				srv.Enqueue(openaitest.ToolCall(answer))
			} else {
				srv.Enqueue(openaitest.Reply(answer))
			}
			req := request(t)
			req.OutputSchema = &providerv1.OutputSchema{Name: "guardgen.examples.v1.IncidentReport", JsonSchema: string(schema), Strict: true}
			got, err := p.Complete(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			sent := sentSchema(t, srv.Requests()[0].Body)
			if sent.strict != true {
				t.Errorf("strict = %v, want true", sent.strict)
			}
			labels := sent.schema["properties"].(map[string]any)["labels"].(map[string]any)
			list := labels["anyOf"].([]any)[0].(map[string]any)
			if list["type"] != "array" {
				t.Errorf("labels sent as %v, want an array of entries", labels)
			}
			const want = `{"title":"Outage","labels":{"team":"core","env":"prod"},"services":[{"name":"api"}]}`
			if got.GetContent() != want {
				t.Errorf("content = %s\nwant %s", got.GetContent(), want)
			}
			if !slices.Equal(got.GetConstraint().GetMapEntries(), []string{"/labels"}) || !got.GetConstraint().GetStrict() {
				t.Errorf("constraint = %v, want strict with map_entries [/labels]", got.GetConstraint())
			}
		})
	}
}

type sent struct {
	schema map[string]any
	strict any
}

// sentSchema returns the schema a request carried, as response_format or
// as the function's parameters.
func sentSchema(t *testing.T, body map[string]any) sent {
	t.Helper()
	if rf, ok := body["response_format"].(map[string]any); ok {
		js := rf["json_schema"].(map[string]any)
		return sent{schema: js["schema"].(map[string]any), strict: js["strict"]}
	}
	fn := body["tools"].([]any)[0].(map[string]any)["function"].(map[string]any)
	return sent{schema: fn["parameters"].(map[string]any), strict: fn["strict"]}
}

// TestSchemaRejectedRetriesNonStrict: a 400 on the strict schema is
// followed by exactly one request without strict mode, the response says
// so, and later requests for that schema go non-strict at once.
func TestSchemaRejectedRetriesNonStrict(t *testing.T) {
	t.Parallel()
	p, srv := start(t, openai.Options{})
	srv.Enqueue(openaitest.SchemaRejected(), openaitest.Reply(`{"category":"billing"}`), openaitest.Reply(`{}`))
	got, err := p.Complete(t.Context(), request(t))
	if err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d upstream requests, want the rejected one and one retry", len(reqs))
	}
	if s := sentSchema(t, reqs[0].Body); s.strict != true {
		t.Errorf("first request strict = %v, want true", s.strict)
	}
	retry := sentSchema(t, reqs[1].Body)
	var original map[string]any
	if err := json.Unmarshal([]byte(ticketSchema(t)), &original); err != nil {
		t.Fatal(err)
	}
	if retry.strict != false || !cmp.Equal(retry.schema, original) {
		t.Errorf("retry strict = %v with schema changed %v; want false with the schema as given", retry.strict, !cmp.Equal(retry.schema, original))
	}
	want := &providerv1.Constraint{Mode: providerv1.ConstraintMode_CONSTRAINT_MODE_JSON_SCHEMA, StrictRejected: true}
	if diff := cmp.Diff(want, got.GetConstraint(), protocmp.Transform()); diff != "" {
		t.Errorf("constraint (-want +got):\n%s", diff)
	}

	again, err := p.Complete(t.Context(), request(t))
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.Count(); n != 3 || sentSchema(t, srv.Requests()[2].Body).strict != false || !again.GetConstraint().GetStrictRejected() {
		t.Errorf("after a rejection: %d requests, the next strict = %v; want one more, non-strict", n, sentSchema(t, srv.Requests()[2].Body).strict)
	}
}

// TestSchemaRejectedTwice: when the non-strict schema is refused too, the
// failure is SCHEMA_REJECTED, which guardgen classifies as PIPELINE_LOGIC.
func TestSchemaRejectedTwice(t *testing.T) {
	t.Parallel()
	p, srv := start(t, openai.Options{})
	srv.Enqueue(openaitest.SchemaRejected(), openaitest.SchemaRejected())
	_, err := p.Complete(t.Context(), request(t))
	st := status.Convert(err)
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	if st.Code() != codes.FailedPrecondition || info.GetReason() != openai.ReasonSchemaRejected {
		t.Errorf("err = %v (%v), want FAILED_PRECONDITION SCHEMA_REJECTED", err, info)
	}
	if n := srv.Count(); n != 2 {
		t.Errorf("%d upstream requests, want 2", n)
	}
}

func TestUsageDetails(t *testing.T) {
	t.Parallel()
	p, srv := start(t, openai.Options{})
	srv.Enqueue(openaitest.Step{Content: "{}", Usage: &openaitest.Usage{
		PromptTokens: 100, CompletionTokens: 40, TotalTokens: 140, CachedTokens: 64, ReasoningTokens: 25,
	}})
	got, err := p.Complete(t.Context(), request(t))
	if err != nil {
		t.Fatal(err)
	}
	want := &providerv1.Usage{InputTokens: 100, OutputTokens: 40, TotalTokens: 140, CachedInputTokens: 64, ReasoningTokens: 25}
	if diff := cmp.Diff(want, got.GetUsage(), protocmp.Transform()); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
	if got.GetId() != "chatcmpl-openaitest-1" {
		t.Errorf("id = %q", got.GetId())
	}
}
