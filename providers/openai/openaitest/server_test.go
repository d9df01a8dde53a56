package openaitest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/guardgen/guardgen/providers/openai/openaitest"
)

const chatBody = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`

// client returns an HTTP client on its own transport, closed at cleanup.
func client(t *testing.T) *http.Client {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func post(ctx context.Context, c *http.Client, url, body string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/chat/completions", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sk-x")
	return c.Do(req)
}

// decode reads a response's status and JSON body.
func decode(t *testing.T, resp *http.Response) (int, map[string]any) {
	t.Helper()
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return resp.StatusCode, body
}

func TestScriptThenDefault(t *testing.T) {
	t.Parallel()
	srv := openaitest.New()
	defer srv.Close()
	c := client(t)
	srv.Enqueue(openaitest.Reply(`{"a":1}`), openaitest.RateLimited("7"))
	srv.SetDefault(openaitest.Reply(`{"d":true}`))

	resp, err := post(t.Context(), c, srv.URL(), chatBody)
	if err != nil {
		t.Fatal(err)
	}
	code, body := decode(t, resp)
	msg := body["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)
	if code != 200 || msg["content"] != `{"a":1}` || body["model"] != "gpt-4o-mini" || body["object"] != "chat.completion" {
		t.Errorf("first answer = %d %v", code, body)
	}

	resp, err = post(t.Context(), c, srv.URL(), chatBody)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("Retry-After"); got != "7" {
		t.Errorf("Retry-After = %q", got)
	}
	code, body = decode(t, resp)
	want := map[string]any{"error": map[string]any{
		"message": "Rate limit reached for requests per min (RPM). Please try again later.",
		"type":    "requests", "code": "rate_limit_exceeded", "param": nil,
	}}
	if code != 429 || !cmp.Equal(want, body) {
		t.Errorf("second answer = %d %v", code, body)
	}

	resp, err = post(t.Context(), c, srv.URL(), chatBody)
	if err != nil {
		t.Fatal(err)
	}
	_, body = decode(t, resp)
	if content := body["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"]; content != `{"d":true}` {
		t.Errorf("default content = %v", content)
	}
	if srv.Count() != 3 || srv.Pending() != 0 {
		t.Errorf("Count, Pending = %d, %d", srv.Count(), srv.Pending())
	}
}

func TestRecordsRequests(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	srv := openaitest.New(openaitest.WithClock(func() time.Time { return at }))
	defer srv.Close()
	resp, err := post(t.Context(), client(t), srv.URL(), chatBody)
	if err != nil {
		t.Fatal(err)
	}
	_, body := decode(t, resp)
	if body["created"] != float64(at.Unix()) {
		t.Errorf("created = %v", body["created"])
	}
	got := srv.Requests()
	if len(got) != 1 {
		t.Fatalf("Requests = %d", len(got))
	}
	r := got[0]
	var want map[string]any
	_ = json.Unmarshal([]byte(chatBody), &want)
	if !r.Time.Equal(at) || r.Method != "POST" || r.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer sk-x" ||
		!cmp.Equal(want, r.Body) || string(r.RawBody) != chatBody || r.Cancelled {
		t.Errorf("recorded %+v", r)
	}
}

func TestResponses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                     string
		step                     openaitest.Step
		content, refusal, finish any
		usage                    map[string]any
	}{
		{"refusal", openaitest.Refusal("no"), nil, "no", "stop", nil},
		{"length", openaitest.Length(`{"a":`), `{"a":`, nil, "length", nil},
		{"content filter", openaitest.ContentFiltered(), nil, nil, "content_filter", nil},
		{"prose", openaitest.Prose("{}"), "Sure! Here is the result you asked for:\n\n{}\n\nLet me know if you need anything else.", nil, "stop", nil},
		{"usage", openaitest.Step{Content: "x", Usage: &openaitest.Usage{PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3}}, "x", nil, "stop",
			map[string]any{"prompt_tokens": float64(1), "completion_tokens": float64(2), "total_tokens": float64(3)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := openaitest.New()
			defer srv.Close()
			srv.Enqueue(tt.step)
			resp, err := post(t.Context(), client(t), srv.URL(), chatBody)
			if err != nil {
				t.Fatal(err)
			}
			_, body := decode(t, resp)
			choice := body["choices"].([]any)[0].(map[string]any)
			msg := choice["message"].(map[string]any)
			if msg["content"] != tt.content || msg["refusal"] != tt.refusal || choice["finish_reason"] != tt.finish {
				t.Errorf("choice = %v", choice)
			}
			if tt.usage != nil && !cmp.Equal(tt.usage, body["usage"]) {
				t.Errorf("usage = %v", body["usage"])
			}
		})
	}
}

func TestDelayRecordsCancellation(t *testing.T) {
	t.Parallel()
	srv := openaitest.New()
	defer srv.Close()
	srv.Enqueue(openaitest.Step{Delay: time.Minute})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { // cancel once the server has the request
		for srv.Count() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if _, err := post(ctx, client(t), srv.URL(), chatBody); !errors.Is(err, context.Canceled) {
		t.Fatalf("post = %v, want canceled", err)
	}
	wait, cancelWait := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancelWait()
	r, err := srv.Wait(wait, 0)
	if err != nil || !r.Cancelled {
		t.Errorf("Wait = %+v, %v; want a cancelled request", r, err)
	}
}

// TestCloseReleasesHangingHandlers: Close returns even while a client
// waits on a hanging step, and the client gets an error.
func TestCloseReleasesHangingHandlers(t *testing.T) {
	t.Parallel()
	srv := openaitest.New()
	srv.SetDefault(openaitest.Step{Hang: true})
	c := client(t)
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Go(func() {
			_, err := post(t.Context(), c, srv.URL(), chatBody)
			errs <- err
		})
	}
	for srv.Count() < 3 {
		time.Sleep(time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked on hanging handlers")
	}
	wg.Wait()
	for range 3 {
		if err := <-errs; err == nil {
			t.Error("a hanging request succeeded")
		}
	}
}

func TestResetConnection(t *testing.T) {
	t.Parallel()
	srv := openaitest.New()
	defer srv.Close()
	srv.Enqueue(openaitest.Step{ResetConnection: true})
	_, err := post(t.Context(), client(t), srv.URL(), chatBody)
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
		t.Errorf("post = %v, want a connection reset", err)
	}
}

func TestTruncateBody(t *testing.T) {
	t.Parallel()
	srv := openaitest.New()
	defer srv.Close()
	srv.Enqueue(openaitest.Step{TruncateBody: true, Content: `{"summary":"a long enough answer"}`})
	resp, err := post(t.Context(), client(t), srv.URL(), chatBody)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("ReadAll = %q, %v; want unexpected EOF", body, err)
	}
	if resp.StatusCode != 200 || len(body) == 0 || int64(len(body)) >= resp.ContentLength {
		t.Errorf("status %d, %d of %d bytes", resp.StatusCode, len(body), resp.ContentLength)
	}
}

func TestBadRequestBody(t *testing.T) {
	t.Parallel()
	srv := openaitest.New()
	defer srv.Close()
	resp, err := post(t.Context(), client(t), srv.URL(), "{not json")
	if err != nil {
		t.Fatal(err)
	}
	if code, body := decode(t, resp); code != 400 || body["error"] == nil {
		t.Errorf("answer = %d %v", code, body)
	}
}

func TestModels(t *testing.T) {
	t.Parallel()
	srv := openaitest.New()
	defer srv.Close()
	resp, err := client(t).Get(srv.URL() + "/models")
	if err != nil {
		t.Fatal(err)
	}
	code, body := decode(t, resp)
	data, _ := body["data"].([]any)
	if code != 200 || body["object"] != "list" || len(data) != 1 {
		t.Errorf("models = %d %v", code, body)
	}
	if srv.Count() != 0 {
		t.Errorf("models requests are not chat completions; Count = %d", srv.Count())
	}
}

func TestConcurrentRequests(t *testing.T) {
	t.Parallel()
	srv := openaitest.New()
	defer srv.Close()
	c := client(t)
	const n = 20
	for range n / 2 {
		srv.Enqueue(openaitest.ServerError(503))
	}
	var wg sync.WaitGroup
	codes := make(chan int, n)
	for range n {
		wg.Go(func() {
			resp, err := post(t.Context(), c, srv.URL(), chatBody)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		})
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[200] != n/2 || count[503] != n/2 || srv.Count() != n {
		t.Errorf("answers %v, Count %d", count, srv.Count())
	}
}

// TestVerifierScript: requests for a guardgen.v1.Verdict take the verifier
// script, others the main one, whatever order they come in.
func TestVerifierScript(t *testing.T) {
	t.Parallel()
	srv := openaitest.New()
	defer srv.Close()
	srv.Enqueue(openaitest.Reply(`{"n":1}`), openaitest.Reply(`{"n":2}`))
	srv.EnqueueVerifier(openaitest.Verdict(false, "not in the ticket"))
	srv.SetVerifierDefault(openaitest.Verdict(true, "fine"))
	c := client(t)
	generation := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
	byFormat := `{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"` + openaitest.VerdictSchema + `","schema":{}}}}`
	byPrompt := `{"model":"m","messages":[{"role":"system","content":"Answer with the JSON Schema named ` + openaitest.VerdictSchema + `"},{"role":"user","content":"hi"}]}`
	want := []string{`{"n":1}`, `{"reason":"not in the ticket","supported":false}`, `{"reason":"fine","supported":true}`, `{"n":2}`}
	for i, body := range []string{generation, byFormat, byPrompt, generation} {
		resp, err := post(context.Background(), c, srv.URL(), body)
		if err != nil {
			t.Fatal(err)
		}
		_, got := decode(t, resp)
		content := got["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"]
		if content != want[i] {
			t.Errorf("request %d: content %v, want %s", i, content, want[i])
		}
	}
}

// TestStreamEvents: a streaming request gets server-sent events as the API
// sends them, each chunk after its delay, the usage in its own chunk when
// asked for, then [DONE]; the record has when each chunk went out.
func TestStreamEvents(t *testing.T) {
	t.Parallel()
	srv := openaitest.New()
	defer srv.Close()
	srv.Enqueue(openaitest.Stream([]string{`{"a":`, `1}`}, 0, 50*time.Millisecond))
	resp, err := post(t.Context(), client(t), srv.URL(),
		`{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q", ct)
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var contents, finishes []string
	var usage, done bool
	for _, event := range strings.Split(strings.TrimSpace(string(raw)), "\n\n") {
		data, ok := strings.CutPrefix(event, "data: ")
		if !ok {
			t.Fatalf("event without data: %q", event)
		}
		if data == "[DONE]" {
			done = true
			continue
		}
		var chunk struct {
			Object  string `json:"object"`
			Choices []struct {
				Delta struct {
					Content *string `json:"content"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage *struct {
				Total int `json:"total_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal([]byte(data), &chunk); err != nil || chunk.Object != "chat.completion.chunk" {
			t.Fatalf("event %q: %v", data, err)
		}
		for _, c := range chunk.Choices {
			if c.Delta.Content != nil && *c.Delta.Content != "" {
				contents = append(contents, *c.Delta.Content)
			}
			if c.FinishReason != nil {
				finishes = append(finishes, *c.FinishReason)
			}
		}
		usage = usage || chunk.Usage != nil && chunk.Usage.Total > 0
	}
	if diff := cmp.Diff([]string{`{"a":`, `1}`}, contents); diff != "" {
		t.Errorf("contents (-want +got):\n%s", diff)
	}
	if !slices.Equal(finishes, []string{"stop"}) || !usage || !done {
		t.Errorf("finishes %v, usage %v, [DONE] %v", finishes, usage, done)
	}
	got := srv.Requests()[0]
	if !got.Streamed || len(got.ChunkTimes) != 2 || got.ChunkTimes[1].Sub(got.ChunkTimes[0]) < 50*time.Millisecond {
		t.Errorf("streamed %v, chunk times %v; want two, 50ms or more apart", got.Streamed, got.ChunkTimes)
	}
}

// TestTokenLimit: content longer than max_completion_tokens (four
// characters each) is cut there with finish reason "length"; shorter
// content, and a step with its own finish reason, are sent as scripted.
func TestTokenLimit(t *testing.T) {
	t.Parallel()
	srv := openaitest.New()
	defer srv.Close()
	const content = `{"category":"billing","priority":3}`
	srv.Enqueue(openaitest.Reply(content), openaitest.Reply(content), openaitest.Step{Content: content, FinishReason: "stop"})
	for _, tt := range []struct {
		limit           int
		content, finish string
	}{{2, content[:8], "length"}, {100, content, "stop"}, {2, content, "stop"}} {
		resp, err := post(t.Context(), client(t), srv.URL(),
			fmt.Sprintf(`{"model":"m","max_completion_tokens":%d,"messages":[{"role":"user","content":"hi"}]}`, tt.limit))
		if err != nil {
			t.Fatal(err)
		}
		_, body := decode(t, resp)
		choice := body["choices"].([]any)[0].(map[string]any)
		if got := choice["message"].(map[string]any)["content"]; got != tt.content || choice["finish_reason"] != tt.finish {
			t.Errorf("limit %d: content %q, finish %v; want %q, %s", tt.limit, got, choice["finish_reason"], tt.content, tt.finish)
		}
	}
}
