package openaitest

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is a scripted OpenAI-compatible HTTP server. It is safe for
// concurrent use.
type Server struct {
	ts      *httptest.Server
	now     func() time.Time
	closing chan struct{} // closed by Close to release hanging handlers
	once    sync.Once

	mu       sync.Mutex
	queue    []Step
	fallback Step
	requests []*record
	// verifier answers verifier requests when it has steps or a default;
	// otherwise they take the main queue like any request.
	verifier     []Step
	verifierDflt *Step
}

// Request is one recorded chat completion request.
type Request struct {
	// Time is when the request arrived, by the server's clock.
	Time   time.Time
	Method string
	Path   string
	// Proto is the HTTP version the request came in, e.g. "HTTP/2.0".
	Proto  string
	Header http.Header
	// Body is the decoded JSON body; nil when it was not a JSON object.
	Body map[string]any
	// RawBody is the body as received.
	RawBody []byte
	// Cancelled reports that the client went away (cancelled, timed out,
	// closed the connection) before the server answered, or, for a
	// streamed answer, before its last chunk; CancelledAt is when the
	// server noticed.
	Cancelled   bool
	CancelledAt time.Time
	// Streamed says the answer was sent as server-sent events; ChunkTimes
	// are when each content chunk was released (its write began), by the
	// server's clock, so len(ChunkTimes) chunks were sent.
	Streamed   bool
	ChunkTimes []time.Time
}

type record struct {
	req  Request
	done chan struct{} // closed when the handler returns
}

// Option configures a Server.
type Option func(*Server, *config)

type config struct {
	listener net.Listener
	tls      bool
}

// WithClock sets the clock that stamps request arrival times and the
// "created" field; the default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Server, _ *config) { s.now = now }
}

// WithListener serves on l instead of a new listener on 127.0.0.1:0.
func WithListener(l net.Listener) Option {
	return func(_ *Server, c *config) { c.listener = l }
}

// WithTLS serves HTTPS, HTTP/2 negotiated by ALPN as api.openai.com
// does, with a certificate for 127.0.0.1 from [Server.CertificatePEM].
func WithTLS() Option {
	return func(_ *Server, c *config) { c.tls = true }
}

// New starts a Server on 127.0.0.1 with an ephemeral port. Close it when
// done.
func New(opts ...Option) *Server {
	s := &Server{now: time.Now, closing: make(chan struct{})}
	var c config
	for _, o := range opts {
		o(s, &c)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.chatCompletions)
	mux.HandleFunc("GET /v1/models", s.models)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, &APIError{Message: "Unknown request URL.", Type: "invalid_request_error", Code: "unknown_url"})
	})
	s.ts = httptest.NewUnstartedServer(mux)
	if c.listener != nil {
		_ = s.ts.Listener.Close()
		s.ts.Listener = c.listener
	}
	if c.tls {
		s.ts.EnableHTTP2 = true
		s.ts.StartTLS()
	} else {
		s.ts.Start()
	}
	return s
}

// CertificatePEM is the PEM certificate a client must trust to reach a
// server started WithTLS; nil for a plaintext server.
func (s *Server) CertificatePEM() []byte {
	if s.ts.TLS == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.ts.Certificate().Raw})
}

// URL returns the base URL that OpenAI clients take, ending in /v1.
func (s *Server) URL() string { return s.ts.URL + "/v1" }

// Close releases hanging handlers, closes all connections and waits for
// every handler to return.
func (s *Server) Close() {
	s.once.Do(func() { close(s.closing) })
	s.ts.CloseClientConnections()
	s.ts.Close()
}

// Enqueue appends steps to the script; each chat completion request takes
// the next one.
func (s *Server) Enqueue(steps ...Step) {
	s.mu.Lock()
	s.queue = append(s.queue, steps...)
	s.mu.Unlock()
}

// SetDefault sets the step used when the script is empty. The initial
// default answers with content "{}".
func (s *Server) SetDefault(step Step) {
	s.mu.Lock()
	s.fallback = step
	s.mu.Unlock()
}

// EnqueueVerifier appends steps to the verifier script: requests for a
// guardgen.v1.Verdict (see VerdictSchema) take the next one, so a test can
// script generations and verifications apart.
func (s *Server) EnqueueVerifier(steps ...Step) {
	s.mu.Lock()
	s.verifier = append(s.verifier, steps...)
	s.mu.Unlock()
}

// SetVerifierDefault sets the step verifier requests get when the verifier
// script is empty.
func (s *Server) SetVerifierDefault(step Step) {
	s.mu.Lock()
	s.verifierDflt = &step
	s.mu.Unlock()
}

// Pending returns the number of scripted steps not yet taken.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Count returns the number of chat completion requests received.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// Requests returns a copy of the recorded chat completion requests, in
// arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = r.req
	}
	return out
}

// Wait blocks until the handler of request i (0-based) has returned, then
// returns its final record, so a test can see whether the server noticed a
// client going away.
func (s *Server) Wait(ctx context.Context, i int) (Request, error) {
	for {
		s.mu.Lock()
		var rec *record
		if i < len(s.requests) {
			rec = s.requests[i]
		}
		s.mu.Unlock()
		if rec != nil {
			select {
			case <-rec.done:
				s.mu.Lock()
				defer s.mu.Unlock()
				return rec.req, nil
			case <-ctx.Done():
				return Request{}, ctx.Err()
			}
		}
		select {
		case <-ctx.Done():
			return Request{}, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// next records r and returns the step that answers it.
func (s *Server) next(r *http.Request, raw []byte, body map[string]any) (*record, Step) {
	rec := &record{
		req: Request{
			Time:    s.now(),
			Method:  r.Method,
			Proto:   r.Proto,
			Path:    r.URL.Path,
			Header:  r.Header.Clone(),
			Body:    body,
			RawBody: raw,
		},
		done: make(chan struct{}),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, rec)
	if isVerifier(body) {
		switch {
		case len(s.verifier) > 0:
			step := s.verifier[0]
			s.verifier = s.verifier[1:]
			return rec, step
		case s.verifierDflt != nil:
			return rec, *s.verifierDflt
		}
	}
	if len(s.queue) == 0 {
		return rec, s.fallback
	}
	step := s.queue[0]
	s.queue = s.queue[1:]
	return rec, step
}

func (s *Server) markCancelled(rec *record) {
	s.mu.Lock()
	rec.req.Cancelled = true
	rec.req.CancelledAt = s.now()
	s.mu.Unlock()
}

func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return // the client went away mid-request; nothing to record
	}
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	rec, step := s.next(r, raw, body)
	defer close(rec.done)

	if body == nil {
		writeError(w, http.StatusBadRequest, &APIError{Message: "We could not parse the JSON body of your request.", Type: "invalid_request_error"})
		return
	}
	if step.Hang {
		select {
		case <-r.Context().Done():
			s.markCancelled(rec)
		case <-s.closing:
			panic(http.ErrAbortHandler) // drop the connection: no answer at all
		}
		return
	}
	if step.ResetConnection {
		resetConnection(w)
		return
	}
	if step.Delay > 0 {
		t := time.NewTimer(step.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			s.markCancelled(rec)
			return
		case <-s.closing:
			panic(http.ErrAbortHandler)
		}
	}

	if streams, _ := body["stream"].(bool); streams && step.Body == "" && step.Error == nil && step.Status < http.StatusBadRequest {
		s.stream(w, r, rec, withTokenLimit(step, body), body)
		return
	}
	if step.PadContent > 0 {
		s.writePadded(w, step, body)
		return
	}
	step = withTokenLimit(step, body)
	status, contentType, payload := s.render(step, body)
	if step.TruncateBody {
		truncate(w, status, contentType, step.Headers, payload)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	for k, v := range step.Headers {
		h.Set(k, v)
	}
	h.Set("Content-Length", strconv.Itoa(len(payload)))
	w.WriteHeader(status)
	_, _ = w.Write(payload)
}

// withTokenLimit cuts step's content at the request's
// max_completion_tokens (at four characters per token), with finish reason
// "length", as a model stops at its limit; a step with its own finish
// reason is left alone.
func withTokenLimit(step Step, req map[string]any) Step {
	limit, _ := req["max_completion_tokens"].(float64)
	if limit <= 0 || step.FinishReason != "" || float64(len(step.Content)) <= 4*limit {
		return step
	}
	step.Content, step.FinishReason = step.Content[:int(4*limit)], "length"
	return step
}

// padMarker stands for the padding in a rendered completion: JSON encodes
// its NUL bytes as \u0000, which scripted content does not produce by
// accident.
const padMarker = "\x00pad\x00"

// writePadded answers with step's chat completion, its content followed by
// step.PadContent spaces, streamed.
func (s *Server) writePadded(w http.ResponseWriter, step Step, req map[string]any) {
	step.Content += padMarker
	if step.Content == padMarker {
		step.Content = "{}" + padMarker
	}
	payload := s.completion(step, req)
	prefix, suffix, _ := bytes.Cut(payload, []byte(`\u0000pad\u0000`))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(prefix); err != nil {
		return
	}
	chunk := bytes.Repeat([]byte(" "), 32<<10)
	for left := step.PadContent; left > 0; left -= int64(len(chunk)) {
		if _, err := w.Write(chunk[:min(left, int64(len(chunk)))]); err != nil {
			return // the client stopped reading
		}
	}
	_, _ = w.Write(suffix)
}

// render returns the status, content type and body that step answers with.
func (s *Server) render(step Step, req map[string]any) (int, string, []byte) {
	status := step.Status
	switch {
	case step.Body != "":
		if status == 0 {
			status = http.StatusOK
		}
		return status, "text/plain; charset=utf-8", []byte(step.Body)
	case step.Error != nil:
		if status == 0 {
			status = http.StatusInternalServerError
		}
		return status, "application/json", errorBody(step.Error)
	}
	if status == 0 {
		status = http.StatusOK
	}
	return status, "application/json", s.completion(step, req)
}

// completion renders a chat.completion object.
func (s *Server) completion(step Step, req map[string]any) []byte {
	step = step.unchunked(req)
	model := step.Model
	if model == "" {
		model, _ = req["model"].(string)
	}
	var content, refusal any
	switch {
	case step.Content != "":
		content = step.Content
	case step.Refusal == "" && !step.NoContent:
		content = "{}"
	}
	if step.Refusal != "" {
		refusal = step.Refusal
	}
	finish := step.FinishReason
	if finish == "" {
		finish = "stop"
	}
	usage := step.Usage
	if usage == nil {
		text, _ := content.(string)
		u := Usage{PromptTokens: 12, CompletionTokens: int64(len(text)/4 + 1)}
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
		usage = &u
	}
	message := map[string]any{
		"role":        "assistant",
		"content":     content,
		"refusal":     refusal,
		"annotations": []any{},
	}
	if step.ToolArguments != "" {
		if step.Content == "" {
			message["content"] = nil
		}
		calls := []any{map[string]any{
			"id":   "call_openaitest",
			"type": "function",
			"function": map[string]any{
				"name":      forcedFunction(req),
				"arguments": step.ToolArguments,
			},
		}}
		if step.SecondToolArguments != "" {
			calls = append(calls, map[string]any{
				"id":       "call_openaitest_2",
				"type":     "function",
				"function": map[string]any{"name": forcedFunction(req), "arguments": step.SecondToolArguments},
			})
		}
		message["tool_calls"] = calls
	}
	choices := []any{}
	if !step.NoChoices {
		choices = append(choices, map[string]any{
			"index":         0,
			"message":       message,
			"logprobs":      logprobs(step, req),
			"finish_reason": finish,
		})
	}
	s.mu.Lock()
	n := len(s.requests)
	s.mu.Unlock()
	out, _ := json.Marshal(map[string]any{
		"id":                 fmt.Sprintf("chatcmpl-openaitest-%d", n),
		"object":             "chat.completion",
		"created":            s.now().Unix(),
		"model":              model,
		"choices":            choices,
		"system_fingerprint": "fp_openaitest",
		"usage":              usageBody(usage),
	})
	return out
}

// logprobs renders choices[0].logprobs: null unless the request asked for
// them and the step has some.
func logprobs(step Step, req map[string]any) any {
	if asked, _ := req["logprobs"].(bool); !asked || step.Logprobs == nil {
		return nil
	}
	return logprobsBody(step.Logprobs)
}

// logprobsBody renders a logprobs object of tokens.
func logprobsBody(tokens []Logprob) map[string]any {
	content := make([]any, len(tokens))
	for i, t := range tokens {
		b := t.Bytes
		if b == nil {
			b = []byte(t.Token)
		}
		ints := make([]int, len(b))
		for j, c := range b {
			ints[j] = int(c)
		}
		content[i] = map[string]any{"token": t.Token, "logprob": t.Logprob, "bytes": ints, "top_logprobs": []any{}}
	}
	return map[string]any{"content": content, "refusal": nil}
}

// isVerifier reports a request for a guardgen.v1.Verdict: named as the
// forced function in tools mode, as the response_format's json_schema, or,
// in the modes that put the schema in the instructions, in the first
// system message.
func isVerifier(req map[string]any) bool {
	if _, ok := req["tool_choice"].(map[string]any); ok {
		return forcedFunction(req) == VerdictSchema
	}
	if rf, ok := req["response_format"].(map[string]any); ok {
		if js, ok := rf["json_schema"].(map[string]any); ok {
			name, _ := js["name"].(string)
			return name == VerdictSchema
		}
	}
	msgs, _ := req["messages"].([]any)
	if len(msgs) == 0 {
		return false
	}
	first, _ := msgs[0].(map[string]any)
	content, _ := first["content"].(string)
	return first["role"] == "system" && strings.Contains(content, VerdictSchema)
}

func usageBody(u *Usage) map[string]any {
	body := map[string]any{
		"prompt_tokens":     u.PromptTokens,
		"completion_tokens": u.CompletionTokens,
		"total_tokens":      u.TotalTokens,
	}
	if u.CachedTokens > 0 {
		body["prompt_tokens_details"] = map[string]any{"cached_tokens": u.CachedTokens}
	}
	if u.ReasoningTokens > 0 {
		body["completion_tokens_details"] = map[string]any{"reasoning_tokens": u.ReasoningTokens}
	}
	return body
}

// forcedFunction is the function the request's tool_choice forces, or
// "answer".
func forcedFunction(req map[string]any) string {
	choice, _ := req["tool_choice"].(map[string]any)
	fn, _ := choice["function"].(map[string]any)
	if name, ok := fn["name"].(string); ok && name != "" {
		return name
	}
	return "answer"
}

func (s *Server) models(w http.ResponseWriter, _ *http.Request) {
	out, _ := json.Marshal(map[string]any{
		"object": "list",
		"data": []any{map[string]any{
			"id": "gpt-4o-mini", "object": "model", "created": s.now().Unix(), "owned_by": "openaitest",
		}},
	})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// errorBody renders {"error":{...}} with empty fields as null.
func errorBody(e *APIError) []byte {
	orNull := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	out, _ := json.Marshal(map[string]any{"error": map[string]any{
		"message": e.Message,
		"type":    orNull(e.Type),
		"param":   orNull(e.Param),
		"code":    orNull(e.Code),
	}})
	return out
}

func writeError(w http.ResponseWriter, status int, e *APIError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(errorBody(e))
}

// resetConnection closes the client's connection with a TCP RST.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // not hijackable (HTTP/2): abort the stream instead
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// truncate writes a response whose Content-Length promises the whole
// payload but whose body stops halfway, then closes the connection.
func truncate(w http.ResponseWriter, status int, contentType string, headers map[string]string, payload []byte) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer conn.Close()
	h := http.Header{}
	h.Set("Content-Type", contentType)
	for k, v := range headers {
		h.Set(k, v)
	}
	h.Set("Content-Length", strconv.Itoa(len(payload)))
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	_ = h.Write(&b)
	b.WriteString("\r\n")
	b.Write(payload[:len(payload)/2])
	_, _ = buf.Write(b.Bytes())
	_ = buf.Flush()
}
