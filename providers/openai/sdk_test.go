package openai

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	openaisdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/shared"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
)

// This file holds the oracle for the provider's own encoding and decoding:
// the request as openai-go's ChatCompletionNewParams, built the way the
// provider built it before it encoded bodies itself, and the answer as
// openai-go's ChatCompletion. The tests check that the provider sends the
// same JSON and reads the same values.

// sdkParams maps a request onto ChatCompletionNewParams: messages, the
// output constraint of p's mode, sampling, the token limit and logprobs.
// strictAllowed false sends the schema without strict mode.
func sdkParams(t *testing.T, p *Provider, req *providerv1.CompleteRequest, strictAllowed bool) openaisdk.ChatCompletionNewParams {
	t.Helper()
	var params openaisdk.ChatCompletionNewParams
	params.Model = req.GetModel()
	if params.Model == "" {
		params.Model = p.model
	}
	messages := req.GetMessages()
	if schema := req.GetOutputSchema(); schema.GetJsonSchema() != "" {
		name, sent, strict := schemaName(schema.GetName()), json.RawMessage(schema.GetJsonSchema()), false
		if schema.GetStrict() && strictAllowed {
			if s, err := Strict([]byte(schema.GetJsonSchema())); err == nil {
				sent, strict = s, true
			}
		}
		instructions := "Respond with a single JSON object, and nothing else (no prose, no code fences), " +
			"that conforms to this JSON Schema"
		if schema.GetName() != "" {
			instructions += fmt.Sprintf(" (%s)", schema.GetName())
		}
		instructions += ":\n" + schema.GetJsonSchema()
		switch p.mode {
		case ModeJSONSchema:
			params.ResponseFormat.OfJSONSchema = &shared.ResponseFormatJSONSchemaParam{
				JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: name, Strict: openaisdk.Bool(strict), Schema: sent},
			}
		case ModeTools:
			fn, err := json.Marshal(map[string]any{
				"name":        name,
				"description": "Record the answer. Its arguments are the answer itself, an instance of " + schema.GetName() + ".",
				"parameters":  sent,
				"strict":      strict,
			})
			if err != nil {
				t.Fatal(err)
			}
			params.Tools = []openaisdk.ChatCompletionToolUnionParam{{OfFunction: &openaisdk.ChatCompletionFunctionToolParam{
				Function: param.Override[shared.FunctionDefinitionParam](json.RawMessage(fn)),
			}}}
			params.ToolChoice = openaisdk.ToolChoiceOptionFunctionToolChoice(openaisdk.ChatCompletionNamedToolChoiceFunctionParam{Name: name})
			messages = sdkWithText(messages, "Answer by calling the function "+name+"; its arguments are your answer.")
		case ModeJSONObject:
			params.ResponseFormat.OfJSONObject = &shared.ResponseFormatJSONObjectParam{}
			messages = sdkWithText(messages, instructions)
		case ModePrompt:
			messages = sdkWithText(messages, instructions)
		}
	}
	for _, m := range messages {
		switch m.GetRole() {
		case providerv1.Role_ROLE_SYSTEM:
			params.Messages = append(params.Messages, openaisdk.SystemMessage(m.GetContent()))
		case providerv1.Role_ROLE_USER:
			params.Messages = append(params.Messages, openaisdk.UserMessage(m.GetContent()))
		case providerv1.Role_ROLE_ASSISTANT:
			params.Messages = append(params.Messages, openaisdk.AssistantMessage(m.GetContent()))
		}
	}
	s := req.GetSampling()
	if s != nil && s.Temperature != nil {
		params.Temperature = openaisdk.Float(s.GetTemperature())
	}
	if s != nil && s.TopP != nil {
		params.TopP = openaisdk.Float(s.GetTopP())
	}
	if s != nil && s.Seed != nil {
		params.Seed = openaisdk.Int(s.GetSeed())
	}
	limit := int64(s.GetMaxOutputTokens())
	if limit == 0 {
		limit = int64(p.maxTokens)
	}
	if limit > 0 {
		if p.tokenLimit != TokenLimitMaxTokens {
			params.MaxCompletionTokens = openaisdk.Int(limit)
		}
		if p.tokenLimit != TokenLimitMaxCompletionTokens {
			params.MaxTokens = openaisdk.Int(limit)
		}
	}
	if req.GetLogprobs() {
		params.Logprobs = openaisdk.Bool(true)
	}
	return params
}

func sdkWithText(messages []*providerv1.Message, text string) []*providerv1.Message {
	if first := messages[0]; first.GetRole() == providerv1.Role_ROLE_SYSTEM {
		merged := &providerv1.Message{Role: providerv1.Role_ROLE_SYSTEM, Content: first.GetContent() + "\n\n" + text}
		return append([]*providerv1.Message{merged}, messages[1:]...)
	}
	return append([]*providerv1.Message{{Role: providerv1.Role_ROLE_SYSTEM, Content: text}}, messages...)
}

// fromSDK keeps the fields of an SDK completion that guardgen reads.
func fromSDK(c *openaisdk.ChatCompletion) *completion {
	out := &completion{ID: c.ID, Model: c.Model}
	if c.JSON.Usage.Valid() {
		out.Usage = usageFromSDK(c.Usage)
	}
	for _, sc := range c.Choices {
		var ch choice
		ch.FinishReason = sc.FinishReason
		ch.Message.Content = sc.Message.Content
		ch.Message.Refusal = sc.Message.Refusal
		for _, tc := range sc.Message.ToolCalls {
			var call toolCall
			call.Function.Arguments = tc.Function.Arguments
			ch.Message.ToolCalls = append(ch.Message.ToolCalls, call)
		}
		ch.Logprobs = logprobsFromSDK(sc.Logprobs.Content)
		out.Choices = append(out.Choices, ch)
	}
	return out
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// equivalenceRequests are requests that exercise every part of the body.
func equivalenceRequests(t *testing.T) map[string]*providerv1.CompleteRequest {
	t.Helper()
	ticket, maps := readTestdata(t, "ticket.schema.json"), readTestdata(t, "map.schema.json")
	const freeForm = `{"type":"object","properties":{"v":{}},"required":["v"]}`
	// Prose with everything a JSON string must escape or may carry.
	const awkward = "quotes \" and \\ backslashes, <html> & more, tabs\tand\nnewlines\r, a bell \a, NUL \x00, " +
		"U+2028 \u2028 U+2029 \u2029, é, 漢字, 🙂, invalid \xff\xfe bytes, a cut \xe2\x82 rune"
	msgs := func(system bool, extra ...*providerv1.Message) []*providerv1.Message {
		out := []*providerv1.Message{}
		if system {
			out = append(out, &providerv1.Message{Role: providerv1.Role_ROLE_SYSTEM, Content: "You classify support tickets."})
		}
		out = append(out, &providerv1.Message{Role: providerv1.Role_ROLE_USER, Content: "I was charged twice this month."})
		return append(out, extra...)
	}
	schema := func(name, text string, strict bool) *providerv1.OutputSchema {
		return &providerv1.OutputSchema{Name: name, JsonSchema: text, Strict: strict}
	}
	temp, topP, seed, tiny, huge := 0.2, 0.95, int64(-7), 1e-7, 1e21
	return map[string]*providerv1.CompleteRequest{
		"strict ticket": {Messages: msgs(true), OutputSchema: schema("guardgen.examples.v1.TicketClassification", ticket, true)},
		"not strict":    {Messages: msgs(true), OutputSchema: schema("guardgen.examples.v1.TicketClassification", ticket, false)},
		"map schema":    {Messages: msgs(true), OutputSchema: schema("guardgen.examples.v1.IncidentReport", maps, true)},
		"free-form":     {Messages: msgs(true), OutputSchema: schema("x.Free", freeForm, true)},
		"no name":       {Messages: msgs(true), OutputSchema: schema("", ticket, true)},
		"odd name":      {Messages: msgs(true), OutputSchema: schema(`we"ird.näme/`+strings.Repeat("x", 80), ticket, true)},
		"no system":     {Messages: msgs(false), OutputSchema: schema("guardgen.examples.v1.TicketClassification", ticket, true)},
		"no schema":     {Messages: msgs(true)},
		"re-ask": {Messages: msgs(true,
			&providerv1.Message{Role: providerv1.Role_ROLE_ASSISTANT, Content: `{"category":"nope"}`},
			&providerv1.Message{Role: providerv1.Role_ROLE_USER, Content: "Fix: category must be one of billing, technical."}),
			OutputSchema: schema("guardgen.examples.v1.TicketClassification", ticket, true)},
		"awkward text": {Messages: []*providerv1.Message{
			{Role: providerv1.Role_ROLE_SYSTEM, Content: awkward},
			{Role: providerv1.Role_ROLE_USER, Content: awkward + awkward},
		}, OutputSchema: schema("guardgen.examples.v1.TicketClassification", ticket, true)},
		"sampling": {Messages: msgs(true), Model: "gpt-4o-2024-08-06", Logprobs: true,
			Sampling:     &providerv1.SamplingOptions{Temperature: &temp, TopP: &topP, Seed: &seed, MaxOutputTokens: 300},
			OutputSchema: schema("guardgen.examples.v1.TicketClassification", ticket, true)},
		"extreme numbers": {Messages: msgs(true), Sampling: &providerv1.SamplingOptions{Temperature: &tiny, TopP: &huge}},
		"empty contents": {Messages: []*providerv1.Message{
			{Role: providerv1.Role_ROLE_SYSTEM}, {Role: providerv1.Role_ROLE_USER},
		}, OutputSchema: schema("guardgen.examples.v1.TicketClassification", ticket, true)},
	}
}

// providerOptions are every output mode with every token limit field, with
// and without a configured output bound.
func providerOptions() map[string]Options {
	out := map[string]Options{}
	for _, mode := range []OutputMode{ModeJSONSchema, ModeJSONObject, ModePrompt, ModeTools} {
		for _, limit := range []TokenLimit{TokenLimitMaxCompletionTokens, TokenLimitMaxTokens, TokenLimitBoth} {
			out[mode.String()+"/"+limit.String()] = Options{Mode: mode, TokenLimit: limit, MaxOutputTokens: 128, Model: "gpt-test"}
		}
		out[mode.String()+"/unbounded"] = Options{Mode: mode, Model: "gpt-4o-mini"}
	}
	// Never called: the requests are compared as built.
	for name, o := range out {
		o.BaseURL, o.MaxResponseBytes = "http://127.0.0.1:1/v1", 1<<20
		out[name] = o
	}
	return out
}

func jsonValue(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, data)
	}
	return v
}

// TestRequestBodyMatchesSDK: for every output mode and token limit field,
// every kind of request, strict allowed or not and after an upstream
// rejected the strict form, the body the provider encodes is the same JSON
// as openai-go's encoding of the ChatCompletionNewParams the provider used
// to build, and the constraint it reports is what that schema was sent as.
func TestRequestBodyMatchesSDK(t *testing.T) {
	t.Parallel()
	for optName, opts := range providerOptions() {
		p, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		for reqName, req := range equivalenceRequests(t) {
			for _, phase := range []string{"strict allowed", "strict not allowed", "after a rejection"} {
				t.Run(optName+"/"+reqName+"/"+phase, func(t *testing.T) {
					p, allow := p, phase == "strict allowed"
					if phase == "after a rejection" {
						fresh, err := New(opts)
						if err != nil {
							t.Fatal(err)
						}
						first, err := fresh.request(req, true)
						if err != nil {
							t.Fatal(err)
						}
						if first.target != nil {
							first.target.reject()
						}
						p, allow = fresh, true
					}
					out, err := p.request(req, allow)
					if err != nil {
						t.Fatal(err)
					}
					wantStrict := allow && phase != "after a rejection" && req.GetOutputSchema().GetStrict() &&
						(p.mode == ModeJSONSchema || p.mode == ModeTools)
					if wantStrict {
						if _, err := Strict([]byte(req.GetOutputSchema().GetJsonSchema())); err != nil {
							wantStrict = false
						}
					}
					sdk, err := sdkParams(t, p, req, wantStrict).MarshalJSON()
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(jsonValue(t, sdk), jsonValue(t, out.body)); diff != "" {
						t.Errorf("body differs from the SDK's (-sdk +provider):\n%s\nbody: %s", diff, out.body)
					}
					// CompleteStream sends the same body asking for a stream
					// with the usage at the end, as the SDK's NewStreaming
					// would: its params plus "stream": true.
					streamed := sdkParams(t, p, req, wantStrict)
					streamed.StreamOptions = openaisdk.ChatCompletionStreamOptionsParam{IncludeUsage: openaisdk.Bool(true)}
					sdkStream, err := streamed.MarshalJSON()
					if err != nil {
						t.Fatal(err)
					}
					want := jsonValue(t, sdkStream).(map[string]any)
					want["stream"] = true
					if diff := cmp.Diff(want, jsonValue(t, streamBody(out.body))); diff != "" {
						t.Errorf("stream body differs from the SDK's (-sdk +provider):\n%s", diff)
					}
					if got := out.constraint.GetStrict(); got != wantStrict {
						t.Errorf("constraint.strict = %v, want %v", got, wantStrict)
					}
				})
			}
		}
	}
}

// repertoire is every kind of answer openaitest scripts.
func repertoire() map[string]openaitest.Step {
	withUsage := openaitest.Reply(`{"category":"billing","priority":3,"summary":"s"}`)
	withUsage.Usage = &openaitest.Usage{PromptTokens: 1200, CompletionTokens: 80, TotalTokens: 1280, CachedTokens: 1024, ReasoningTokens: 64}
	withLogprobs := openaitest.Reply(`{"a":"é"}`)
	withLogprobs.Logprobs = []openaitest.Logprob{
		{Token: `{"`, Logprob: -0.01}, {Token: "a", Logprob: 0}, {Token: `":"`, Logprob: -1e-6},
		{Token: `\xc3`, Logprob: -0.5, Bytes: []byte{0xc3}}, {Token: `\xa9`, Logprob: -0.25, Bytes: []byte{0xa9}},
		{Token: `"}`, Logprob: -3.5},
	}
	completionJSON := `{"id":"chatcmpl-x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,` +
		`"message":{"role":"assistant","content":"{}","refusal":null},"logprobs":null,"finish_reason":"stop"}],` +
		`"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`
	jsonHeader := map[string]string{"Content-Type": "application/json"}
	steps := map[string]openaitest.Step{
		"zero step":               {},
		"reply":                   openaitest.Reply(`{"category":"billing","priority":3,"summary":"Charged twice."}`),
		"fenced":                  openaitest.Fenced(`{"a":1}`),
		"prose":                   openaitest.Prose(`{"a":1}`),
		"malformed":               openaitest.Malformed(),
		"length":                  openaitest.Length(`{"category":"bill`),
		"cut at the token limit":  openaitest.Reply(strings.Repeat("x", 4*128+10)),
		"content filtered":        openaitest.ContentFiltered(),
		"refusal":                 openaitest.Refusal("I can't help with that."),
		"refusal and content":     {Content: `{"a":1}`, Refusal: "partly"},
		"tool call":               openaitest.ToolCall(`{"category":"billing","priority":3,"summary":"s"}`),
		"tool call finish reason": {ToolArguments: `{"a":1}`, FinishReason: "tool_calls"},
		"tool call and content":   {ToolArguments: `{"a":1}`, Content: "thinking"},
		"verdict":                 openaitest.Verdict(true, "matches the ticket"),
		"usage details":           withUsage,
		"logprobs":                withLogprobs,
		"no choices":              {NoChoices: true},
		"no content":              {NoContent: true},
		"model":                   {Content: `{}`, Model: "gpt-4o-mini-2024-07-18"},
		"finish tool_calls":       {NoContent: true, FinishReason: "tool_calls"},
		"finish function_call":    {NoContent: true, FinishReason: "function_call"},
		"finish unknown":          {Content: `{}`, FinishReason: "something_new"},
		"escapes in content":      openaitest.Reply("{\"a\":\"quote \\\" backslash \\\\ newline \\n tab \\t é 漢 🙂 \u2028\"}\n\t<&>"),
		"truncated body":          {TruncateBody: true, Content: `{"category":"billing"}`},
		"truncated error":         {TruncateBody: true, Status: 500, Error: &openaitest.APIError{Message: "boom", Type: "server_error"}},
		"text/plain body":         {Body: completionJSON},
		"JSON body verbatim":      {Body: completionJSON, Headers: jsonHeader},
		"not JSON, JSON type":     {Body: "<html>oops</html>", Headers: jsonHeader},
		"empty JSON object":       {Body: `{}`, Headers: jsonHeader},
		"proxy error page":        {Status: 502, Body: "<html>Bad Gateway</html>"},
		"padded under the limit":  {Content: `{"a":1}`, PadContent: 1000},
		// Past net/http's 4 KiB response buffer: sent chunked, so of no
		// declared length, and still under the limit.
		"padded, chunked":       {Content: `{"a":1}`, PadContent: 16 << 10},
		"padded over the limit": {Content: `{"a":1}`, PadContent: 64 << 10},
		"connection reset":      {ResetConnection: true},
		"rate limited":          openaitest.RateLimited("2"),
		"rate limited ms":       openaitest.RateLimitedMs(1500),
		"insufficient quota":    openaitest.InsufficientQuota(),
		"server error":          openaitest.ServerError(503),
		"context length":        openaitest.ContextLengthExceeded(),
		"content policy":        openaitest.ContentPolicyViolation(),
		"azure content filter":  openaitest.AzureContentFilter(),
		"invalid request":       openaitest.InvalidRequest(),
		"unauthorized":          openaitest.Unauthorized(),
		"forbidden":             openaitest.Forbidden(),
		"not found":             openaitest.NotFound(),
		"schema rejected":       openaitest.SchemaRejected(),
	}
	return steps
}

// TestCompletionMatchesSDK sends every scripted answer of the test server
// to the provider and to openai-go's ChatCompletionService, over real HTTP
// with the same size limit, in every output mode: both requests carry the
// same JSON to the same URL with the same headers; every field guardgen
// reads decodes to the same value; and an answer the SDK fails on fails the
// provider with the same status.
func TestCompletionMatchesSDK(t *testing.T) {
	t.Parallel()
	const limit = 32 << 10
	for _, mode := range []OutputMode{ModeJSONSchema, ModeJSONObject, ModePrompt, ModeTools} {
		srv := openaitest.New()
		t.Cleanup(srv.Close)
		p, err := New(Options{BaseURL: srv.URL(), APIKey: "sk-test", Organization: "org-1", Project: "proj-1",
			Model: "gpt-4o-mini", Mode: mode, MaxOutputTokens: 128, MaxResponseBytes: limit})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		transport := http.DefaultTransport.(*http.Transport).Clone()
		t.Cleanup(transport.CloseIdleConnections)
		sdk := openaisdk.NewChatCompletionService(
			option.WithHTTPClient(&http.Client{Transport: transport}),
			option.WithBaseURL(srv.URL()),
			option.WithAPIKey("sk-test"),
			option.WithOrganization("org-1"),
			option.WithProject("proj-1"),
			option.WithMaxRetries(0),
			option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
				resp, err := next(r)
				if err != nil {
					return resp, err
				}
				return limitBody(resp, limit)
			}),
		)
		req := equivalenceRequests(t)["sampling"]
		for name, step := range repertoire() {
			t.Run(mode.String()+"/"+name, func(t *testing.T) {
				// Subtests share the server's script: not parallel.
				out, err := p.request(req, true)
				if err != nil {
					t.Fatal(err)
				}
				before := srv.Count()
				srv.Enqueue(step, step)
				var sdkResp *http.Response
				sdkCompletion, sdkErr := sdk.New(t.Context(), sdkParams(t, p, req, out.constraint.GetStrict()), option.WithResponseInto(&sdkResp))
				got, err := p.send(t.Context(), out.body)

				reqs := srv.Requests()[before:]
				if len(reqs) != 2 {
					t.Fatalf("the server saw %d requests, want 2", len(reqs))
				}
				if diff := cmp.Diff(jsonValue(t, reqs[0].RawBody), jsonValue(t, reqs[1].RawBody)); diff != "" {
					t.Errorf("request bodies differ (-sdk +provider):\n%s", diff)
				}
				// The bodies are the same JSON, not always the same bytes.
				sdkHeader, header := reqs[0].Header.Clone(), reqs[1].Header.Clone()
				sdkHeader.Del("Content-Length")
				header.Del("Content-Length")
				if diff := cmp.Diff(sdkHeader, header); diff != "" || reqs[0].Method != reqs[1].Method || reqs[0].Path != reqs[1].Path {
					t.Errorf("requests differ: %s %s, %s %s; headers (-sdk +provider):\n%s",
						reqs[0].Method, reqs[0].Path, reqs[1].Method, reqs[1].Path, diff)
				}
				if sdkErr != nil {
					if err == nil {
						t.Fatalf("the SDK failed (%v) and the provider did not", sdkErr)
					}
					want := p.fault(t.Context(), t.Context(), sdkResp, sdkErr)
					if diff := cmp.Diff(status.Convert(want).Proto(), status.Convert(err).Proto(), protocmp.Transform()); diff != "" {
						t.Errorf("status differs (-sdk +provider):\n%s", diff)
					}
					return
				}
				if err != nil {
					t.Fatalf("the provider failed (%v) and the SDK did not", err)
				}
				// The id is numbered per request by the server.
				want := fromSDK(sdkCompletion)
				want.ID = strings.Replace(want.ID, fmt.Sprint("-", before+1), fmt.Sprint("-", before+2), 1)
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("decoded differently (-sdk +provider):\n%s", diff)
				}
			})
		}
	}
}

// usageFromSDK is the usage guardgen reads, from openai-go's.
func usageFromSDK(c openaisdk.CompletionUsage) *usage {
	u := &usage{PromptTokens: c.PromptTokens, CompletionTokens: c.CompletionTokens, TotalTokens: c.TotalTokens}
	u.PromptTokensDetails.CachedTokens = c.PromptTokensDetails.CachedTokens
	u.CompletionTokensDetails.ReasoningTokens = c.CompletionTokensDetails.ReasoningTokens
	return u
}

// logprobsFromSDK is the logprobs guardgen reads, from openai-go's.
func logprobsFromSDK(content []openaisdk.ChatCompletionTokenLogprob) logprobs {
	var l logprobs
	for _, lp := range content {
		l.Content = append(l.Content, logprobToken{lp.Token, lp.Logprob, lp.Bytes})
	}
	return l
}

// fromSDKChunk is the chunk guardgen reads, from openai-go's decoding.
func fromSDKChunk(c *openaisdk.ChatCompletionChunk) *completion {
	out := &completion{ID: c.ID, Model: c.Model}
	if c.JSON.Usage.Valid() {
		out.Usage = usageFromSDK(c.Usage)
	}
	for _, sc := range c.Choices {
		var ch choice
		ch.FinishReason = sc.FinishReason
		ch.Delta.Content = sc.Delta.Content
		ch.Delta.Refusal = sc.Delta.Refusal
		for _, tc := range sc.Delta.ToolCalls {
			d := toolCall{Index: tc.Index}
			d.Function.Arguments = tc.Function.Arguments
			ch.Delta.ToolCalls = append(ch.Delta.ToolCalls, d)
		}
		ch.Logprobs = logprobsFromSDK(sc.Logprobs.Content)
		out.Choices = append(out.Choices, ch)
	}
	return out
}

// TestChunkMatchesSDK streams every scripted answer of the test server
// that streams (and a few shapes only streams have) and decodes each event
// both as openai-go's ChatCompletionChunk and as the provider's chunk:
// every field guardgen reads is the same. At least one event of each kind
// read (content, refusal, tool call deltas, logprobs, usage, finish reason)
// must have been compared, or the test proves nothing.
func TestChunkMatchesSDK(t *testing.T) {
	t.Parallel()
	srv := openaitest.New()
	t.Cleanup(srv.Close)
	steps := repertoire()
	steps["chunks with logprobs"] = openaitest.Step{Chunks: []openaitest.Chunk{
		{Content: `{"a":`, Logprobs: []openaitest.Logprob{{Token: `{"a":`, Logprob: -0.25}}},
		{Content: `"é"}`, Logprobs: []openaitest.Logprob{{Token: `"é"}`, Logprob: -1, Bytes: []byte(`"é"}`)}}},
	}}
	steps["parallel tool calls"] = openaitest.Step{ToolArguments: `{"a":1}`, SecondToolArguments: `{"b":2}`, FinishReason: "tool_calls"}
	// As in Complete: a plain request, and one forcing a tool (the answer
	// then comes as the call's argument deltas).
	const plain = `{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true},"logprobs":true`
	bodies := map[string]string{
		"plain": plain + `}`,
		"tool":  plain + `,"tools":[{"type":"function","function":{"name":"answer","parameters":{"type":"object"}}}],"tool_choice":{"type":"function","function":{"name":"answer"}}}`,
	}
	seen := map[string]bool{}
	for name, step := range steps {
		for kind, body := range bodies {
			t.Run(name+"/"+kind, func(t *testing.T) {
				// Subtests share the server's script: not parallel.
				srv.Enqueue(step)
				for _, c := range streamedChunks(t, srv.URL(), body) {
					for _, c := range c.Choices {
						seen["content"] = seen["content"] || c.Delta.Content != ""
						seen["refusal"] = seen["refusal"] || c.Delta.Refusal != ""
						seen["tool call"] = seen["tool call"] || len(c.Delta.ToolCalls) > 0
						seen["second tool call"] = seen["second tool call"] || len(c.Delta.ToolCalls) > 0 && c.Delta.ToolCalls[0].Index == 1
						seen["logprobs"] = seen["logprobs"] || len(c.Logprobs.Content) > 0
						seen["finish reason"] = seen["finish reason"] || c.FinishReason != ""
					}
					seen["usage"] = seen["usage"] || c.Usage != nil && c.Usage.CompletionTokensDetails.ReasoningTokens > 0
				}
			})
		}
	}
	for _, kind := range []string{"content", "refusal", "tool call", "second tool call", "logprobs", "finish reason", "usage"} {
		if !seen[kind] {
			t.Errorf("no event with %s was compared", kind)
		}
	}
}

// streamedChunks posts body to the test server and decodes each event of
// the stream both ways, failing on any difference; it returns the
// provider's chunks. An answer that is not a stream (an error status, a
// reset connection) has no events.
func streamedChunks(t *testing.T, base, body string) []completion {
	t.Helper()
	resp, err := http.Post(base+"/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		return nil
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return nil
	}
	var out []completion
	events := ssestream.NewDecoder(resp)
	for events.Next() {
		data := events.Event().Data
		if strings.HasPrefix(string(data), "[DONE]") {
			break
		}
		var sdk openaisdk.ChatCompletionChunk
		var got completion
		if sdkErr, err := json.Unmarshal(data, &sdk), json.Unmarshal(data, &got); sdkErr != nil || err != nil {
			t.Fatalf("event %s: the SDK read it with %v, the provider with %v", data, sdkErr, err)
		}
		if diff := cmp.Diff(fromSDKChunk(&sdk), &got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("event %s decoded differently (-sdk +provider):\n%s", data, diff)
		}
		out = append(out, got)
	}
	return out
}
