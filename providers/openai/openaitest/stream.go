package openaitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// stream answers a streaming request the way the API does: server-sent
// events, each a chat.completion.chunk (the role first, then the content
// or the forced call's arguments piece by piece, then the finish reason),
// the usage in a chunk of its own when stream_options.include_usage asks
// for it, and data: [DONE]. Each piece waits for its delay; a client that
// goes away meanwhile is recorded as cancelled, with the chunks sent so
// far. It is the wire format written out in the order the API sends it,
// one piece after another.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, rec *record, step Step, req map[string]any) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	s.mu.Lock()
	rec.req.Streamed = true
	n := len(s.requests)
	s.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	for k, v := range step.Headers {
		h.Set(k, v)
	}
	w.WriteHeader(http.StatusOK)

	model := step.Model
	if model == "" {
		model, _ = req["model"].(string)
	}
	id, created := fmt.Sprintf("chatcmpl-openaitest-%d", n), s.now().Unix()
	send := func(choices []any, usage any) {
		b, _ := json.Marshal(map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
			"system_fingerprint": "fp_openaitest", "choices": choices, "usage": usage,
		})
		fmt.Fprintf(w, "data: %s\n\n", b)
		flusher.Flush()
	}
	choice := func(delta map[string]any, logprobs []Logprob, finish any) []any {
		var lp any
		if asked, _ := req["logprobs"].(bool); asked && logprobs != nil {
			lp = logprobsBody(logprobs)
		}
		return []any{map[string]any{"index": 0, "delta": delta, "logprobs": lp, "finish_reason": finish}}
	}

	tool := forcesTool(req) && (step.ToolArguments != "" || (len(step.Chunks) > 0 && step.Content == ""))
	first := map[string]any{"role": "assistant", "content": ""}
	if tool {
		first = map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{map[string]any{
			"index": 0, "id": "call_openaitest", "type": "function",
			"function": map[string]any{"name": forcedFunction(req), "arguments": ""},
		}}}
	}
	send(choice(first, nil, nil), nil)

	for _, c := range pieces(step, tool) {
		if c.Delay > 0 && !s.wait(r, rec, c.Delay) {
			return
		}
		if r.Context().Err() != nil {
			s.markCancelled(rec)
			return
		}
		delta := map[string]any{"content": c.Content}
		if tool {
			delta = map[string]any{"tool_calls": []any{map[string]any{"index": 0, "function": map[string]any{"arguments": c.Content}}}}
		}
		at := s.now() // before the write: no client can have the chunk earlier
		send(choice(delta, c.Logprobs, nil), nil)
		s.mu.Lock()
		rec.req.ChunkTimes = append(rec.req.ChunkTimes, at)
		s.mu.Unlock()
	}
	if tool && step.SecondToolArguments != "" {
		send(choice(map[string]any{"tool_calls": []any{map[string]any{
			"index": 1, "id": "call_openaitest_2", "type": "function",
			"function": map[string]any{"name": forcedFunction(req), "arguments": step.SecondToolArguments},
		}}}, nil, nil), nil)
	}
	if step.Refusal != "" {
		send(choice(map[string]any{"refusal": step.Refusal}, nil, nil), nil)
	}
	if step.BreakStream {
		panic(http.ErrAbortHandler) // the connection closes without the stream's end
	}
	finish := step.FinishReason
	if finish == "" {
		finish = "stop"
	}
	send(choice(map[string]any{}, nil, finish), nil)
	if opts, _ := req["stream_options"].(map[string]any); opts["include_usage"] == true {
		usage := step.Usage
		if usage == nil {
			u := Usage{PromptTokens: 12, CompletionTokens: int64(len(joined(pieces(step, tool)))/4 + 1)}
			u.TotalTokens = u.PromptTokens + u.CompletionTokens
			usage = &u
		}
		send([]any{}, usageBody(usage))
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	flusher.Flush()
}

// pieces are the chunks a streamed answer sends: the step's, or its whole
// content (tool arguments) as one.
func pieces(step Step, tool bool) []Chunk {
	if len(step.Chunks) > 0 {
		return step.Chunks
	}
	text := step.Content
	if tool {
		text = step.ToolArguments
	}
	if text == "" {
		return nil
	}
	return []Chunk{{Content: text, Logprobs: step.Logprobs}}
}

// wait sleeps d; false means the client went away (recorded) or the server
// is closing (the connection is dropped).
func (s *Server) wait(r *http.Request, rec *record, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		s.markCancelled(rec)
		return false
	case <-s.closing:
		panic(http.ErrAbortHandler)
	}
}
