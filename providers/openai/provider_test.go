package openai_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/guardgen/guardgen/config"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/providers/openai"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
	"github.com/guardgen/guardgen/providers/openai/strictcheck"
)

const testKey = "sk-test-not-a-secret"

// start runs a test server and a provider pointed at it.
func start(t testing.TB, opts openai.Options) (*openai.Provider, *openaitest.Server) {
	t.Helper()
	srv := openaitest.New()
	t.Cleanup(srv.Close)
	opts.BaseURL = srv.URL()
	opts.APIKey = testKey
	opts = withDefaults(opts)
	p, err := openai.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p, srv
}

// withDefaults fills the required options opts leaves zero with
// config.Default's: the openai type's default model and the server's
// response bound.
func withDefaults(opts openai.Options) openai.Options {
	if opts.Model == "" {
		opts.Model = config.OpenAIModel
	}
	if opts.MaxResponseBytes == 0 {
		opts.MaxResponseBytes = int64(config.Default().GetServer().GetMaxProviderResponseBytes())
	}
	return opts
}

func ticketSchema(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile("testdata/ticket.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func request(t testing.TB) *providerv1.CompleteRequest {
	return &providerv1.CompleteRequest{
		Messages: []*providerv1.Message{
			{Role: providerv1.Role_ROLE_SYSTEM, Content: "You classify support tickets."},
			{Role: providerv1.Role_ROLE_USER, Content: "I was charged twice this month."},
		},
		OutputSchema: &providerv1.OutputSchema{
			Name:       "guardgen.examples.v1.TicketClassification",
			JsonSchema: ticketSchema(t),
			Strict:     true,
		},
	}
}

// secret stands for prompt text an upstream error message echoes back.
const secret = "PROMPT-ECHO-7f3a"

// echoing makes step's error message echo the prompt, as real upstream
// errors can; the test then checks the echo never reaches the status.
func echoing(step openaitest.Step) openaitest.Step {
	if step.Error != nil {
		e := *step.Error
		e.Message += " Your prompt was: " + secret
		step.Error = &e
	}
	return step
}

func info(reason string, md ...string) *errdetails.ErrorInfo {
	i := &errdetails.ErrorInfo{Domain: openai.ErrorInfoDomain, Reason: reason}
	if len(md) > 0 {
		i.Metadata = map[string]string{}
		for k := 0; k < len(md); k += 2 {
			i.Metadata[md[k]] = md[k+1]
		}
	}
	return i
}

func retryIn(d time.Duration) *errdetails.RetryInfo {
	return &errdetails.RetryInfo{RetryDelay: durationpb.New(d)}
}

// TestErrorMapping: each upstream fault becomes the status the provider
// contract names, with its details, after exactly one upstream request.
func TestErrorMapping(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	withHeader := func(s openaitest.Step, k, v string) openaitest.Step {
		s.Headers = map[string]string{k: v}
		return s
	}
	tests := []struct {
		name    string
		step    openaitest.Step
		code    codes.Code
		details []any
	}{
		{"429 Retry-After seconds", openaitest.RateLimited("2"), codes.ResourceExhausted,
			[]any{info("RATE_LIMITED", "http_status", "429", "upstream_code", "rate_limit_exceeded"), retryIn(2 * time.Second)}},
		{"429 Retry-After fractional seconds", openaitest.RateLimited("0.25"), codes.ResourceExhausted,
			[]any{info("RATE_LIMITED", "http_status", "429", "upstream_code", "rate_limit_exceeded"), retryIn(250 * time.Millisecond)}},
		{"429 retry-after-ms", openaitest.RateLimitedMs(1500), codes.ResourceExhausted,
			[]any{info("RATE_LIMITED", "http_status", "429", "upstream_code", "rate_limit_exceeded"), retryIn(1500 * time.Millisecond)}},
		{"429 Retry-After HTTP date", openaitest.RateLimited(now.Add(30 * time.Second).Format(http.TimeFormat)), codes.ResourceExhausted,
			[]any{info("RATE_LIMITED", "http_status", "429", "upstream_code", "rate_limit_exceeded"), retryIn(30 * time.Second)}},
		{"429 Retry-After date in the past", openaitest.RateLimited(now.Add(-time.Minute).Format(http.TimeFormat)), codes.ResourceExhausted,
			[]any{info("RATE_LIMITED", "http_status", "429", "upstream_code", "rate_limit_exceeded"), retryIn(0)}},
		{"429 without Retry-After", openaitest.RateLimited(""), codes.ResourceExhausted,
			[]any{info("RATE_LIMITED", "http_status", "429", "upstream_code", "rate_limit_exceeded")}},
		{"429 unparsable Retry-After", openaitest.RateLimited("soon"), codes.ResourceExhausted,
			[]any{info("RATE_LIMITED", "http_status", "429", "upstream_code", "rate_limit_exceeded")}},
		{"429 insufficient_quota", withHeader(openaitest.InsufficientQuota(), "Retry-After", "5"), codes.ResourceExhausted,
			[]any{info("QUOTA_EXHAUSTED", "http_status", "429", "upstream_code", "insufficient_quota")}},
		{"500", openaitest.ServerError(500), codes.Unavailable,
			[]any{info("UPSTREAM_UNAVAILABLE", "http_status", "500", "upstream_code", "server_error")}},
		{"503 Retry-After", withHeader(openaitest.ServerError(503), "Retry-After", "3"), codes.Unavailable,
			[]any{info("UPSTREAM_UNAVAILABLE", "http_status", "503", "upstream_code", "server_error"), retryIn(3 * time.Second)}},
		{"502 HTML from a proxy", openaitest.Step{Status: 502, Body: "<html><body>Bad Gateway " + secret + "</body></html>"}, codes.Unavailable,
			[]any{info("UPSTREAM_UNAVAILABLE", "http_status", "502")}},
		{"409", openaitest.Step{Status: 409, Error: &openaitest.APIError{Message: "conflict"}}, codes.Unavailable,
			[]any{info("UPSTREAM_UNAVAILABLE", "http_status", "409")}},
		{"408", openaitest.Step{Status: 408, Error: &openaitest.APIError{Message: "timeout"}}, codes.DeadlineExceeded,
			[]any{info("UPSTREAM_TIMEOUT", "http_status", "408")}},
		{"400 context_length_exceeded", openaitest.ContextLengthExceeded(), codes.InvalidArgument,
			[]any{info("CONTEXT_LENGTH_EXCEEDED", "http_status", "400", "upstream_code", "context_length_exceeded")}},
		{"400 content_policy_violation", openaitest.ContentPolicyViolation(), codes.FailedPrecondition,
			[]any{info("CONTENT_FILTER", "http_status", "400", "upstream_code", "content_policy_violation")}},
		{"400 invalid_prompt", openaitest.Step{Status: 400, Error: &openaitest.APIError{Message: "flagged", Type: "invalid_request_error", Code: "invalid_prompt"}}, codes.FailedPrecondition,
			[]any{info("CONTENT_FILTER", "http_status", "400", "upstream_code", "invalid_prompt")}},
		{"400 Azure content_filter", openaitest.AzureContentFilter(), codes.FailedPrecondition,
			[]any{info("CONTENT_FILTER", "http_status", "400", "upstream_code", "content_filter")}},
		{"400 Azure innererror only", openaitest.Step{Status: 400, Headers: map[string]string{"Content-Type": "application/json"},
			Body: `{"error":{"message":"filtered","innererror":{"code":"ResponsibleAIPolicyViolation"}}}`}, codes.FailedPrecondition,
			[]any{info("CONTENT_FILTER", "http_status", "400")}},
		{"400 other", openaitest.InvalidRequest(), codes.InvalidArgument,
			[]any{info("INVALID_REQUEST", "http_status", "400", "upstream_code", "invalid_value")}},
		{"422", openaitest.Step{Status: 422, Error: &openaitest.APIError{Message: "unprocessable", Type: "invalid_request_error"}}, codes.InvalidArgument,
			[]any{info("INVALID_REQUEST", "http_status", "422", "upstream_code", "invalid_request_error")}},
		{"400 free-text code is not echoed", openaitest.Step{Status: 400, Error: &openaitest.APIError{Message: "bad", Code: "you said " + secret}}, codes.InvalidArgument,
			[]any{info("INVALID_REQUEST", "http_status", "400")}},
		{"401", openaitest.Unauthorized(), codes.Unauthenticated,
			[]any{info("UNAUTHENTICATED", "http_status", "401", "upstream_code", "invalid_api_key")}},
		{"403", openaitest.Forbidden(), codes.PermissionDenied,
			[]any{info("PERMISSION_DENIED", "http_status", "403", "upstream_code", "unsupported_country_region_territory")}},
		{"404", openaitest.NotFound(), codes.NotFound,
			[]any{info("NOT_FOUND", "http_status", "404", "upstream_code", "model_not_found")}},
		{"connection reset", openaitest.Step{ResetConnection: true}, codes.Unavailable,
			[]any{info("UPSTREAM_UNAVAILABLE")}},
		{"truncated body", openaitest.Step{TruncateBody: true, Content: `{"category":"billing"}`}, codes.Unavailable,
			[]any{info("UPSTREAM_UNAVAILABLE")}},
		{"truncated error body", openaitest.Step{TruncateBody: true, Status: 503, Error: &openaitest.APIError{Message: "x"}}, codes.Unavailable,
			[]any{info("UPSTREAM_UNAVAILABLE", "http_status", "503")}},
		{"200 with a body that is not JSON", openaitest.Step{Headers: map[string]string{"Content-Type": "application/json"}, Body: "{not json " + secret}, codes.Unavailable,
			[]any{info("UPSTREAM_UNAVAILABLE")}},
		{"200 with an HTML page", openaitest.Step{Body: "<html>captive portal " + secret + "</html>"}, codes.Unavailable,
			[]any{info("UPSTREAM_UNAVAILABLE")}},
		{"404 with a non-OpenAI JSON body", openaitest.Step{Status: 404, Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"detail":"Not Found"}`}, codes.NotFound,
			[]any{info("NOT_FOUND", "http_status", "404")}},
		{"200 without choices", openaitest.Step{NoChoices: true}, codes.Unavailable,
			[]any{info("UPSTREAM_UNAVAILABLE")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, srv := start(t, openai.Options{Now: func() time.Time { return now }})
			srv.Enqueue(echoing(tt.step))
			_, err := p.Complete(t.Context(), request(t))
			if err == nil {
				t.Fatal("Complete succeeded, want an error")
			}
			st, ok := status.FromError(err)
			if !ok {
				t.Fatalf("Complete error %v is not a status", err)
			}
			if st.Code() != tt.code {
				t.Errorf("code = %v, want %v (%v)", st.Code(), tt.code, err)
			}
			if diff := cmp.Diff(tt.details, st.Details(), protocmp.Transform()); diff != "" {
				t.Errorf("details mismatch (-want +got):\n%s", diff)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(protoText(st.Proto()), secret) {
				t.Errorf("status carries upstream text: %v", err)
			}
			if n := srv.Count(); n != 1 {
				t.Errorf("upstream requests = %d, want exactly 1 (SDK retries must be off)", n)
			}
		})
	}
}

func protoText(m proto.Message) string {
	b, _ := protojson.Marshal(m)
	return string(b)
}

// TestResetOnReusedConnection: a reset on a kept-alive connection is not
// silently replayed by the HTTP transport either.
func TestResetOnReusedConnection(t *testing.T) {
	t.Parallel()
	p, srv := start(t, openai.Options{})
	srv.Enqueue(openaitest.Reply("{}"), openaitest.Step{ResetConnection: true}, openaitest.Reply("{}"))
	for i, want := range []codes.Code{codes.OK, codes.Unavailable, codes.OK} {
		if _, err := p.Complete(t.Context(), request(t)); status.Code(err) != want {
			t.Errorf("call %d: code = %v, want %v (%v)", i, status.Code(err), want, err)
		}
		if n := srv.Count(); n != i+1 {
			t.Errorf("after call %d: upstream requests = %d, want %d", i, n, i+1)
		}
	}
}

// TestRequestShape: what goes over the wire for a strict json_schema request.
func TestRequestShape(t *testing.T) {
	t.Parallel()
	p, srv := start(t, openai.Options{Organization: "org-1", Project: "proj-1", MaxOutputTokens: 256})
	req := request(t)
	temp, seed := 0.2, int64(7)
	req.Model = "gpt-4o-2024-08-06"
	req.Sampling = &providerv1.SamplingOptions{Temperature: &temp, Seed: &seed, MaxOutputTokens: 300}
	req.Messages = append(req.Messages, &providerv1.Message{Role: providerv1.Role_ROLE_ASSISTANT, Content: "{}"},
		&providerv1.Message{Role: providerv1.Role_ROLE_USER, Content: "Fix: category is required."})
	if _, err := p.Complete(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	got := srv.Requests()[0]

	strict, err := openai.Strict([]byte(ticketSchema(t)))
	if err != nil {
		t.Fatal(err)
	}
	var schema any
	if err := json.Unmarshal(strict, &schema); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"model": "gpt-4o-2024-08-06",
		"messages": []any{
			map[string]any{"role": "system", "content": "You classify support tickets."},
			map[string]any{"role": "user", "content": "I was charged twice this month."},
			map[string]any{"role": "assistant", "content": "{}"},
			map[string]any{"role": "user", "content": "Fix: category is required."},
		},
		"temperature":           0.2,
		"seed":                  float64(7),
		"max_completion_tokens": float64(300),
		"response_format": map[string]any{
			"type": "json_schema",
			"json_schema": map[string]any{
				"name":   "guardgen_examples_v1_TicketClassification",
				"strict": true,
				"schema": schema,
			},
		},
	}
	if diff := cmp.Diff(want, got.Body); diff != "" {
		t.Errorf("request body mismatch (-want +got):\n%s", diff)
	}
	sent, _ := json.Marshal(got.Body["response_format"].(map[string]any)["json_schema"].(map[string]any)["schema"])
	if err := strictcheck.Check(sent); err != nil {
		t.Errorf("sent schema breaks the strict subset: %v", err)
	}
	for header, want := range map[string]string{
		"Authorization":       "Bearer " + testKey,
		"OpenAI-Organization": "org-1",
		"OpenAI-Project":      "proj-1",
		"Content-Type":        "application/json",
	} {
		if v := got.Header.Get(header); v != want {
			t.Errorf("header %s = %q, want %q", header, v, want)
		}
	}
	if got.Path != "/v1/chat/completions" || got.Method != http.MethodPost {
		t.Errorf("request line = %s %s", got.Method, got.Path)
	}
}

// TestRequestDefaults: configured model and token bound, no optional
// sampling fields, no organization headers.
func TestRequestDefaults(t *testing.T) {
	t.Parallel()
	p, srv := start(t, openai.Options{Model: "gpt-test", MaxOutputTokens: 128})
	req := request(t)
	req.OutputSchema = nil
	if _, err := p.Complete(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	got := srv.Requests()[0]
	if got.Body["model"] != "gpt-test" || got.Body["max_completion_tokens"] != float64(128) {
		t.Errorf("model, max_completion_tokens = %v, %v", got.Body["model"], got.Body["max_completion_tokens"])
	}
	for _, absent := range []string{"temperature", "seed", "max_tokens", "response_format"} {
		if _, ok := got.Body[absent]; ok {
			t.Errorf("body has %q", absent)
		}
	}
	for _, absent := range []string{"OpenAI-Organization", "OpenAI-Project"} {
		if v := got.Header.Get(absent); v != "" {
			t.Errorf("header %s = %q", absent, v)
		}
	}
}

// TestOutputModes: how the schema travels in each mode.
func TestOutputModes(t *testing.T) {
	t.Parallel()
	const freeFormSchema = `{"type":"object","description":"TicketClassification is the article's example.","properties":{"v":{}},"required":["v"]}`
	mapSchema, err := os.ReadFile("testdata/map.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		mode         openai.OutputMode
		schema       string
		strict       bool
		format       string // response_format.type; "" for none
		wantStrict   any    // response_format.json_schema.strict
		instructions bool   // schema in the system message
	}{
		{"json_schema strict", openai.ModeJSONSchema, ticketSchema(t), true, "json_schema", true, false},
		{"json_schema not asked strict", openai.ModeJSONSchema, ticketSchema(t), false, "json_schema", false, false},
		{"json_schema with a map stays strict", openai.ModeJSONSchema, string(mapSchema), true, "json_schema", true, false},
		{"json_schema with a free-form value falls back to non-strict", openai.ModeJSONSchema, freeFormSchema, true, "json_schema", false, false},
		{"json_object", openai.ModeJSONObject, ticketSchema(t), true, "json_object", nil, true},
		{"prompt", openai.ModePrompt, ticketSchema(t), true, "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, srv := start(t, openai.Options{Mode: tt.mode})
			req := request(t)
			req.OutputSchema.JsonSchema, req.OutputSchema.Strict = tt.schema, tt.strict
			if _, err := p.Complete(t.Context(), req); err != nil {
				t.Fatal(err)
			}
			body := srv.Requests()[0].Body
			rf, _ := body["response_format"].(map[string]any)
			if got, _ := rf["type"].(string); got != tt.format {
				t.Errorf("response_format.type = %q, want %q", got, tt.format)
			}
			js, _ := rf["json_schema"].(map[string]any)
			if got := js["strict"]; got != tt.wantStrict {
				t.Errorf("json_schema.strict = %v, want %v", got, tt.wantStrict)
			}
			messages := body["messages"].([]any)
			system := messages[0].(map[string]any)["content"].(string)
			if got := strings.Contains(system, `"TicketClassification is the article's example`) || strings.Contains(system, "\"$schema\""); got != tt.instructions {
				t.Errorf("schema in system instructions = %v, want %v:\n%s", got, tt.instructions, system)
			}
			if len(messages) != 2 || !strings.HasPrefix(system, "You classify support tickets.") {
				t.Errorf("messages = %v, want the schema merged into the leading system message", messages)
			}
		})
	}
}

// TestNonStrictSendsSchemaUnchanged: when strict is off the schema is
// passed through byte for byte (as JSON).
func TestNonStrictSendsSchemaUnchanged(t *testing.T) {
	t.Parallel()
	p, srv := start(t, openai.Options{})
	req := request(t)
	req.OutputSchema.Strict = false
	if _, err := p.Complete(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	var want any
	if err := json.Unmarshal([]byte(ticketSchema(t)), &want); err != nil {
		t.Fatal(err)
	}
	got := srv.Requests()[0].Body["response_format"].(map[string]any)["json_schema"].(map[string]any)["schema"]
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("schema changed (-want +got):\n%s", diff)
	}
}

func TestInstructionsWithoutSystemMessage(t *testing.T) {
	t.Parallel()
	p, srv := start(t, openai.Options{Mode: openai.ModeJSONObject})
	req := request(t)
	req.Messages = req.Messages[1:]
	if _, err := p.Complete(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	messages := srv.Requests()[0].Body["messages"].([]any)
	first := messages[0].(map[string]any)
	if len(messages) != 2 || first["role"] != "system" || !strings.Contains(first["content"].(string), "JSON") {
		t.Errorf("messages = %v, want a system message with the schema first", messages)
	}
}

// TestResponseMapping: finish reasons, refusal, usage and model.
func TestResponseMapping(t *testing.T) {
	t.Parallel()
	usage := &openaitest.Usage{PromptTokens: 11, CompletionTokens: 5, TotalTokens: 16}
	tests := []struct {
		name string
		step openaitest.Step
		want *providerv1.CompleteResponse
	}{
		{"stop", openaitest.Step{Content: `{"a":1}`, Usage: usage, Model: "gpt-4o-mini-2024-07-18"},
			&providerv1.CompleteResponse{Content: `{"a":1}`, FinishReason: providerv1.FinishReason_FINISH_REASON_STOP, Model: "gpt-4o-mini-2024-07-18"}},
		{"length", openaitest.Step{Content: `{"a":`, FinishReason: "length", Usage: usage},
			&providerv1.CompleteResponse{Content: `{"a":`, FinishReason: providerv1.FinishReason_FINISH_REASON_LENGTH, Model: "gpt-4o-mini"}},
		{"content_filter", openaitest.Step{NoContent: true, FinishReason: "content_filter", Usage: usage},
			&providerv1.CompleteResponse{FinishReason: providerv1.FinishReason_FINISH_REASON_CONTENT_FILTER, Model: "gpt-4o-mini"}},
		{"tool_calls", openaitest.Step{NoContent: true, FinishReason: "tool_calls", Usage: usage},
			&providerv1.CompleteResponse{FinishReason: providerv1.FinishReason_FINISH_REASON_TOOL_CALLS, Model: "gpt-4o-mini"}},
		{"function_call", openaitest.Step{NoContent: true, FinishReason: "function_call", Usage: usage},
			&providerv1.CompleteResponse{FinishReason: providerv1.FinishReason_FINISH_REASON_TOOL_CALLS, Model: "gpt-4o-mini"}},
		{"unknown finish reason", openaitest.Step{Content: "{}", FinishReason: "sleepy", Usage: usage},
			&providerv1.CompleteResponse{Content: "{}", FinishReason: providerv1.FinishReason_FINISH_REASON_OTHER, Model: "gpt-4o-mini"}},
		{"refusal", openaitest.Step{Refusal: "I can't help with that.", Usage: usage},
			&providerv1.CompleteResponse{Refusal: "I can't help with that.", FinishReason: providerv1.FinishReason_FINISH_REASON_REFUSAL, Model: "gpt-4o-mini"}},
		{"fenced content is passed on as is", openaitest.Fenced(`{"a":1}`),
			&providerv1.CompleteResponse{Content: "```json\n{\"a\":1}\n```", FinishReason: providerv1.FinishReason_FINISH_REASON_STOP, Model: "gpt-4o-mini"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, srv := start(t, openai.Options{})
			srv.Enqueue(tt.step)
			got, err := p.Complete(t.Context(), request(t))
			if err != nil {
				t.Fatal(err)
			}
			if tt.step.Usage != nil {
				tt.want.Usage = &providerv1.Usage{InputTokens: 11, OutputTokens: 5, TotalTokens: 16}
			} else {
				got.Usage = nil
			}
			// The id and the constraint have tests of their own.
			ignore := protocmp.IgnoreFields(&providerv1.CompleteResponse{}, "id", "constraint")
			if diff := cmp.Diff(tt.want, got, protocmp.Transform(), ignore); diff != "" {
				t.Errorf("response mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCallerDeadline: a hanging upstream and the caller's deadline: the
// provider returns promptly with DEADLINE_EXCEEDED and the server sees the
// client go away.
func TestCallerDeadline(t *testing.T) {
	t.Parallel()
	p, srv := start(t, openai.Options{})
	srv.Enqueue(openaitest.Step{Hang: true})
	// The deadline leaves the request time to reach the server even on a
	// loaded machine, so that the server can see it cancelled.
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := p.Complete(ctx, request(t))
	if elapsed := time.Since(began); elapsed > 2500*time.Millisecond {
		t.Errorf("Complete took %v after a 500ms deadline", elapsed)
	}
	if got := status.Code(err); got != codes.DeadlineExceeded {
		t.Errorf("code = %v, want DeadlineExceeded (%v)", got, err)
	}
	if st, _ := status.FromError(err); len(st.Details()) != 0 {
		t.Errorf("the caller's deadline is not an upstream fault; details = %v", st.Details())
	}
	assertCancelled(t, srv)
}

func TestCallerCancel(t *testing.T) {
	t.Parallel()
	p, srv := start(t, openai.Options{})
	srv.Enqueue(openaitest.Step{Hang: true})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { // cancel once the request is upstream
		for srv.Count() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := p.Complete(ctx, request(t))
	if got := status.Code(err); got != codes.Canceled {
		t.Errorf("code = %v, want Canceled (%v)", got, err)
	}
	assertCancelled(t, srv)
}

// TestUpstreamTimeout: Options.Timeout is an upstream timeout, not the
// caller's deadline.
func TestUpstreamTimeout(t *testing.T) {
	t.Parallel()
	p, srv := start(t, openai.Options{Timeout: 500 * time.Millisecond})
	srv.Enqueue(openaitest.Step{Delay: time.Minute})
	began := time.Now()
	_, err := p.Complete(t.Context(), request(t))
	if elapsed := time.Since(began); elapsed > 2500*time.Millisecond {
		t.Errorf("Complete took %v with a 500ms timeout", elapsed)
	}
	st, _ := status.FromError(err)
	if st.Code() != codes.DeadlineExceeded {
		t.Errorf("code = %v, want DeadlineExceeded (%v)", st.Code(), err)
	}
	if diff := cmp.Diff([]any{info("UPSTREAM_TIMEOUT")}, st.Details(), protocmp.Transform()); diff != "" {
		t.Errorf("details mismatch (-want +got):\n%s", diff)
	}
	assertCancelled(t, srv)
	if n := srv.Count(); n != 1 {
		t.Errorf("upstream requests = %d, want 1", n)
	}
}

// TestTimeoutNotHit: a slow but timely answer is fine.
func TestTimeoutNotHit(t *testing.T) {
	t.Parallel()
	p, srv := start(t, openai.Options{Timeout: 5 * time.Second})
	srv.Enqueue(openaitest.Step{Delay: 20 * time.Millisecond, Content: `{"ok":true}`})
	got, err := p.Complete(t.Context(), request(t))
	if err != nil || got.GetContent() != `{"ok":true}` {
		t.Fatalf("Complete = %v, %v", got, err)
	}
}

func assertCancelled(t *testing.T, srv *openaitest.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	rec, err := srv.Wait(ctx, 0)
	if err != nil {
		t.Fatalf("server never finished the request: %v (count %d)", err, srv.Count())
	}
	if !rec.Cancelled {
		t.Error("the server did not see the client go away")
	}
}

func TestInvalidRequests(t *testing.T) {
	t.Parallel()
	p, srv := start(t, openai.Options{})
	tests := []struct {
		name string
		edit func(*providerv1.CompleteRequest)
	}{
		{"no messages", func(r *providerv1.CompleteRequest) { r.Messages = nil }},
		{"message without role", func(r *providerv1.CompleteRequest) { r.Messages[1].Role = providerv1.Role_ROLE_UNSPECIFIED }},
		{"schema not JSON", func(r *providerv1.CompleteRequest) { r.OutputSchema.JsonSchema = "{" }},
		{"schema not an object", func(r *providerv1.CompleteRequest) { r.OutputSchema.JsonSchema = "[1]" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := request(t)
			tt.edit(req)
			if _, err := p.Complete(t.Context(), req); status.Code(err) != codes.InvalidArgument {
				t.Errorf("code = %v, want InvalidArgument (%v)", status.Code(err), err)
			}
		})
	}
	if n := srv.Count(); n != 0 {
		t.Errorf("invalid requests reached the upstream %d times", n)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	valid := withDefaults(openai.Options{BaseURL: "https://api.openai.com/v1"})
	for _, change := range []func(*openai.Options){
		func(o *openai.Options) { o.BaseURL = "not a url" },
		func(o *openai.Options) { o.BaseURL = "ftp://example.com/v1" },
		func(o *openai.Options) { o.BaseURL = "" },
		func(o *openai.Options) { o.Model = "" },
		func(o *openai.Options) { o.MaxResponseBytes = 0 },
		func(o *openai.Options) { o.Mode = openai.OutputMode(9) },
		func(o *openai.Options) { o.Timeout = -time.Second },
	} {
		opts := valid
		change(&opts)
		if p, err := openai.New(opts); err == nil {
			_ = p.Close()
			t.Errorf("New(%+v) = nil error", opts)
		}
	}
	p, err := openai.New(valid)
	if err != nil {
		t.Fatalf("New(%+v) = %v", valid, err)
	}
	_ = p.Close()
}

func TestOptionsFromEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{"OPENAI_API_KEY": "sk-1", "OPENAI_BASE_URL": "http://localhost:1/v1", "OPENAI_ORG_ID": "ignored"}
	got := openai.OptionsFromEnv(func(k string) string { return env[k] })
	want := openai.Options{APIKey: "sk-1", BaseURL: "http://localhost:1/v1"} // no model: config.ProviderModel's
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b func() time.Time) bool { return a == nil && b == nil })); diff != "" {
		t.Errorf("OptionsFromEnv mismatch (-want +got):\n%s", diff)
	}
	env["OPENAI_MODEL"] = "gpt-4.1"
	if got := openai.OptionsFromEnv(func(k string) string { return env[k] }); got.Model != "gpt-4.1" {
		t.Errorf("Model = %q, want gpt-4.1", got.Model)
	}
}

// TestConcurrent: the provider is safe for concurrent use (run with -race).
func TestConcurrent(t *testing.T) {
	t.Parallel()
	p, srv := start(t, openai.Options{})
	errs := make(chan error, 16)
	for range 16 {
		go func() {
			_, err := p.Complete(t.Context(), request(t))
			errs <- err
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := srv.Count(); n != 16 {
		t.Errorf("upstream requests = %d, want 16", n)
	}
}

// TestRedirectStaysAtOrigin: a caller's http.Client follows redirects, but
// never one that leaves the base URL's origin, which would take the prompt
// and the API key elsewhere.
func TestRedirectStaysAtOrigin(t *testing.T) {
	t.Parallel()
	elsewhere := openaitest.New()
	t.Cleanup(elsewhere.Close)
	elsewhere.SetDefault(openaitest.Reply(validTicket))
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL()+"/chat/completions", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)
	p, err := openai.New(withDefaults(openai.Options{BaseURL: redirector.URL + "/v1", APIKey: testKey, HTTPClient: &http.Client{}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	if _, err := p.Complete(t.Context(), request(t)); err == nil {
		t.Error("Complete followed the redirect to another origin")
	}
	if n := elsewhere.Count(); n != 0 {
		t.Errorf("the other origin received %d requests, want 0", n)
	}
}
