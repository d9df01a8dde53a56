package openai_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/providers/openai"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
	"github.com/guardgen/guardgen/providers/providertest"
)

// streamed calls CompleteStream in process and returns the chunks and the
// error the stream ended with (nil at its end).
func streamed(ctx context.Context, p *openai.Provider, req *providerv1.CompleteRequest) ([]*providerv1.CompleteStreamResponse, error) {
	return providertest.Chunks(providerv1.NewProviderServiceClient(providers.InProcess(p)).CompleteStream(ctx, req))
}

func collect(chunks []*providerv1.CompleteStreamResponse) *providerv1.CompleteResponse {
	var c providers.Completion
	for _, ch := range chunks {
		c.Add(ch)
	}
	return c.Response()
}

// TestStreamChunks: each content delta is a chunk, with its tokens'
// logprobs; the request streams with include_usage, and the last chunk
// has the finish reason, usage, model and id.
func TestStreamChunks(t *testing.T) {
	t.Parallel()
	p, srv := start(t, openai.Options{})
	srv.Enqueue(openaitest.Step{
		Chunks: []openaitest.Chunk{
			{Content: `{"category":"billing",`, Logprobs: []openaitest.Logprob{{Token: `{"category":"`, Logprob: -0.01}, {Token: `billing",`, Logprob: -0.2}}},
			{Content: `"priority":2,`, Logprobs: []openaitest.Logprob{{Token: `"priority":2,`, Logprob: -0.5}}},
			{Content: `"summary":"x"}`, Logprobs: []openaitest.Logprob{{Token: `"summary":"x"}`, Logprob: 0}}},
		},
		Usage: &openaitest.Usage{PromptTokens: 20, CompletionTokens: 4, TotalTokens: 24},
	})
	req := request(t)
	req.Logprobs = true
	chunks, err := streamed(t.Context(), p, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 4 {
		t.Fatalf("%d chunks, want 3 of content and the last", len(chunks))
	}
	got := collect(chunks)
	want := &providerv1.CompleteResponse{
		Content:      `{"category":"billing","priority":2,"summary":"x"}`,
		FinishReason: providerv1.FinishReason_FINISH_REASON_STOP,
		Usage:        &providerv1.Usage{InputTokens: 20, OutputTokens: 4, TotalTokens: 24},
		Model:        "gpt-4o-mini",
		Id:           "chatcmpl-openaitest-1",
		Constraint:   &providerv1.Constraint{Mode: providerv1.ConstraintMode_CONSTRAINT_MODE_JSON_SCHEMA, Strict: true},
		Logprobs: []*providerv1.TokenLogprob{
			{Token: []byte(`{"category":"`), Logprob: -0.01}, {Token: []byte(`billing",`), Logprob: -0.2},
			{Token: []byte(`"priority":2,`), Logprob: -0.5}, {Token: []byte(`"summary":"x"}`), Logprob: 0},
		},
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("collected (-want +got):\n%s", diff)
	}
	if n := len(chunks[1].GetLogprobs()); n != 1 {
		t.Errorf("chunk 2 has %d logprobs, want its one token", n)
	}
	body := srv.Requests()[0].Body
	opts, _ := body["stream_options"].(map[string]any)
	if body["stream"] != true || opts["include_usage"] != true {
		t.Errorf("request stream = %v, stream_options = %v; want true and include_usage", body["stream"], body["stream_options"])
	}
}

// TestStreamToolsMode: in tools mode the forced call's argument deltas are
// the content, and the call's finish is a normal stop.
func TestStreamToolsMode(t *testing.T) {
	t.Parallel()
	p, srv := start(t, openai.Options{Mode: openai.ModeTools})
	srv.Enqueue(openaitest.Stream([]string{`{"category":`, `"billing"}`}))
	chunks, err := streamed(t.Context(), p, request(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := collect(chunks); got.GetContent() != `{"category":"billing"}` || got.GetFinishReason() != providerv1.FinishReason_FINISH_REASON_STOP {
		t.Errorf("content %q finish %v, want the arguments and STOP", got.GetContent(), got.GetFinishReason())
	}
}

// TestStreamMapsComeWhole: maps sent as entry lists are turned back into
// objects, so that content comes in one chunk once whole.
func TestStreamMapsComeWhole(t *testing.T) {
	t.Parallel()
	mapSchema, err := os.ReadFile("testdata/map.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	p, srv := start(t, openai.Options{})
	req := request(t)
	req.OutputSchema.JsonSchema = string(mapSchema)
	if _, err := p.Complete(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	sent := srv.Requests()[0].Body["response_format"].(map[string]any)["json_schema"].(map[string]any)["schema"]
	if sent == nil {
		t.Fatal("no schema sent")
	}
	srv.Enqueue(openaitest.Stream([]string{`{"labels":[{"key":"team",`, `"value":"payments"}]}`}))
	chunks, err := streamed(t.Context(), p, req)
	if err != nil {
		t.Fatal(err)
	}
	got := collect(chunks)
	if len(chunks) != 1 || got.GetContent() != `{"labels":{"team":"payments"}}` || len(got.GetConstraint().GetMapEntries()) != 1 {
		t.Errorf("%d chunks, content %q, map entries %v; want one chunk with the map as an object", len(chunks), got.GetContent(), got.GetConstraint().GetMapEntries())
	}
}

// TestStreamFaults: a fault before the stream is the status Complete
// gives; a stream cut mid-answer is UNAVAILABLE after the chunks sent.
func TestStreamFaults(t *testing.T) {
	t.Parallel()
	t.Run("rate limited", func(t *testing.T) {
		t.Parallel()
		p, srv := start(t, openai.Options{})
		srv.Enqueue(openaitest.RateLimitedMs(250))
		_, err := streamed(t.Context(), p, request(t))
		if status.Code(err) != codes.ResourceExhausted {
			t.Errorf("err = %v, want RESOURCE_EXHAUSTED", err)
		}
	})
	for _, tt := range []struct {
		name string
		step openaitest.Step
	}{
		{"connection cut", openaitest.Step{Chunks: []openaitest.Chunk{{Content: `{"category":`}}, BreakStream: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, srv := start(t, openai.Options{})
			srv.Enqueue(tt.step)
			chunks, err := streamed(t.Context(), p, request(t))
			if status.Code(err) != codes.Unavailable || len(chunks) != 1 {
				t.Errorf("%d chunks, then %v; want the one chunk, then UNAVAILABLE", len(chunks), err)
			}
		})
	}
	t.Run("schema rejected", func(t *testing.T) {
		t.Parallel()
		p, srv := start(t, openai.Options{})
		srv.Enqueue(openaitest.SchemaRejected(), openaitest.Stream([]string{`{"category":"billing"}`}))
		chunks, err := streamed(t.Context(), p, request(t))
		got := collect(chunks)
		if err != nil || got.GetContent() != `{"category":"billing"}` || !got.GetConstraint().GetStrictRejected() || srv.Count() != 2 {
			t.Errorf("content %q, constraint %v, %v after %d requests; want the non-strict answer", got.GetContent(), got.GetConstraint(), err, srv.Count())
		}
	})
}

// TestStreamCancelled: a caller that cancels mid-stream cancels the HTTP
// request; the server records it, with the chunks it had sent.
func TestStreamCancelled(t *testing.T) {
	t.Parallel()
	p, srv := start(t, openai.Options{})
	srv.Enqueue(openaitest.Stream([]string{`{"category":"billing",`, `"priority":2,`, `"summary":"x"}`}, 0, 0, time.Minute))
	client := providerv1.NewProviderServiceClient(providers.InProcess(p))
	ctx, cancel := context.WithCancel(t.Context())
	stream, err := client.CompleteStream(ctx, request(t))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := stream.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	if _, err := stream.Recv(); status.Code(err) != codes.Canceled {
		t.Errorf("Recv after cancel: %v, want CANCELLED", err)
	}
	wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer wcancel()
	got, err := srv.Wait(wctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Cancelled || len(got.ChunkTimes) != 2 || !got.Streamed {
		t.Errorf("recorded cancelled %v after %d chunks (streamed %v), want cancelled after 2", got.Cancelled, len(got.ChunkTimes), got.Streamed)
	}
}

// TestToolCallsAlikeUnaryAndStreamed: the answer is the first call's
// arguments whether it comes whole or streamed, a parallel second call
// left out of it; finish reason tool_calls becomes a stop only when the
// model made the call, in both.
func TestToolCallsAlikeUnaryAndStreamed(t *testing.T) {
	t.Parallel()
	const first, second = `{"category":"billing"}`, `{"category":"other"}`
	tests := []struct {
		name        string
		step        openaitest.Step
		wantContent string
		wantFinish  providerv1.FinishReason
	}{
		{"parallel calls", openaitest.Step{ToolArguments: first, SecondToolArguments: second, FinishReason: "tool_calls"},
			first, providerv1.FinishReason_FINISH_REASON_STOP},
		{"tool_calls without a call", openaitest.Step{Content: first, FinishReason: "tool_calls"},
			first, providerv1.FinishReason_FINISH_REASON_TOOL_CALLS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, srv := start(t, openai.Options{Mode: openai.ModeTools})
			srv.Enqueue(tt.step)
			unary, err := p.Complete(t.Context(), request(t))
			if err != nil {
				t.Fatal(err)
			}
			srv.Enqueue(tt.step)
			chunks, err := streamed(t.Context(), p, request(t))
			if err != nil {
				t.Fatal(err)
			}
			stream := collect(chunks)
			for _, got := range []struct {
				how     string
				content string
				finish  providerv1.FinishReason
			}{{"unary", unary.GetContent(), unary.GetFinishReason()}, {"streamed", stream.GetContent(), stream.GetFinishReason()}} {
				if got.content != tt.wantContent || got.finish != tt.wantFinish {
					t.Errorf("%s: content %q finish %v, want %q %v", got.how, got.content, got.finish, tt.wantContent, tt.wantFinish)
				}
			}
		})
	}
}
