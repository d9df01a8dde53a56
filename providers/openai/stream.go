package openai

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/openai/openai-go/v3/packages/ssestream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// CompleteStream is Complete as server-sent events: openai-go's streaming
// chat completions, with stream_options.include_usage so that the usage
// still comes, last. Each content delta (in tools mode, each delta of the
// forced call's arguments) is one chunk, with its tokens' logprobs; a
// last chunk carries the finish reason, usage, model, id and constraint.
//
// The strict schema's rejection is retried without strict mode, as in
// Complete, since it comes before any chunk. When maps went as entry
// lists (strict mode has no maps) the content cannot be shown as it comes:
// it is turned back into objects once whole and sent as one chunk. A
// stream that ends without a finish reason (the connection closed early)
// is UNAVAILABLE, like one that breaks.
func (p *Provider) CompleteStream(req *providerv1.CompleteRequest, stream grpc.ServerStreamingServer[providerv1.CompleteStreamResponse]) error {
	ctx := stream.Context()
	out, err := p.request(req, true)
	if err != nil {
		return err
	}
	sent, err := p.stream(ctx, out, stream)
	if err != nil && !sent && out.constraint.GetStrict() && isSchemaRejection(err) {
		out.target.reject()
		if out, err = p.request(req, false); err != nil {
			return err
		}
		out.constraint.StrictRejected = true
		_, err = p.stream(ctx, out, stream)
	}
	return err
}

// stream makes one streaming upstream request under the provider's
// timeout and relays it; sent says whether any chunk went out.
func (p *Provider) stream(ctx context.Context, out outgoing, stream grpc.ServerStreamingServer[providerv1.CompleteStreamResponse]) (sent bool, err error) {
	callCtx, cancel := p.callContext(ctx)
	defer cancel()
	// The body is Complete's asking for a stream with the usage at the end;
	// post hands back the open response for the SDK's event decoder (and,
	// for an error status, the response the error was read from).
	httpResp, err := p.post(callCtx, streamBody(out.body))
	events := ssestream.NewStream[completion](ssestream.NewDecoder(httpResp), err)
	defer events.Close()
	r := relay{p: p, out: out, stream: stream, last: &providerv1.CompleteStreamResponse{Constraint: out.constraint}}
	for events.Next() {
		if err := r.chunk(events.Current()); err != nil {
			return r.sent, err
		}
	}
	if err := events.Err(); err != nil {
		return r.sent, p.streamFault(ctx, callCtx, httpResp, err)
	}
	if r.last.GetFinishReason() == providerv1.FinishReason_FINISH_REASON_UNSPECIFIED {
		if ctx.Err() != nil || callCtx.Err() != nil {
			return r.sent, p.fault(ctx, callCtx, httpResp, callCtx.Err())
		}
		return r.sent, fault(codes.Unavailable, "openai: the stream ended without a finish reason", ReasonUnavailable, nil)
	}
	return true, r.finish()
}

// streamBody is body, a JSON object, asking for a stream, with
// stream_options.include_usage added so that the usage still comes, in the
// last event.
func streamBody(body []byte) []byte {
	b := make([]byte, 0, len(body)+len(includeUsage))
	b = append(b, body[:len(body)-1]...)
	return append(b, includeUsage...)
}

const includeUsage = `,"stream":true,"stream_options":{"include_usage":true}}`

// streamFault maps a stream's error: an error event the upstream sent
// mid-stream is its server failing (UNAVAILABLE); anything else as for
// Complete, a connection cut mid-stream being a truncated response.
func (p *Provider) streamFault(ctx, callCtx context.Context, resp *http.Response, err error) error {
	if _, ok := errors.AsType[*ssestream.StreamError](err); ok && ctx.Err() == nil {
		return fault(codes.Unavailable, "openai: the upstream reported an error mid-stream", ReasonUnavailable, nil)
	}
	return p.fault(ctx, callCtx, resp, err)
}

// relay turns chat.completion.chunk events into CompleteStreamResponses.
type relay struct {
	p      *Provider
	out    outgoing
	stream grpc.ServerStreamingServer[providerv1.CompleteStreamResponse]
	// last collects what ends the completion: finish reason, usage, model,
	// id, refusal; held entries content when maps went as entry lists.
	last    *providerv1.CompleteStreamResponse
	held    strings.Builder
	refusal strings.Builder
	sent    bool
	called  bool // the model made the forced call (tools mode)
}

// chunk relays one event.
func (r *relay) chunk(c completion) error {
	if c.Model != "" {
		r.last.Model = c.Model
	}
	if c.ID != "" {
		r.last.Id = c.ID
	}
	if c.Usage != nil {
		r.last.Usage = c.Usage.proto()
	}
	if len(c.Choices) == 0 {
		return nil
	}
	choice := c.Choices[0]
	if choice.FinishReason != "" {
		r.last.FinishReason = finishReason(choice.FinishReason)
	}
	text := choice.Delta.Content
	if r.p.mode == ModeTools {
		// The first call (index 0) is the answer, as in Complete; the
		// deltas of a parallel second call are not part of it.
		for _, call := range choice.Delta.ToolCalls {
			if call.Index == 0 {
				text = call.Function.Arguments
				r.called = true
			}
		}
	}
	r.refusal.WriteString(choice.Delta.Refusal)
	tokens := tokenLogprobs(&choice.Logprobs)
	if text == "" && len(tokens) == 0 {
		return nil
	}
	if r.out.entries != nil {
		r.held.WriteString(text)
		return nil
	}
	// The model goes with the content too: a stream stopped early has no
	// last chunk to say who wrote it.
	return r.send(&providerv1.CompleteStreamResponse{Content: text, Logprobs: tokens, Model: c.Model})
}

func (r *relay) send(chunk *providerv1.CompleteStreamResponse) error {
	r.sent = true
	return r.stream.Send(chunk)
}

// finish sends the held content, if any, and the last chunk.
func (r *relay) finish() error {
	last := r.last
	last.FinishReason = r.p.toolFinish(last.FinishReason, r.called)
	if r.out.entries != nil {
		content := r.held.String()
		if last.FinishReason == providerv1.FinishReason_FINISH_REASON_STOP {
			b, paths := fromEntries([]byte(content), r.out.entries)
			content = string(b)
			last.Constraint.MapEntries = paths
		}
		last.Content = content
	}
	if last.Refusal = r.refusal.String(); last.Refusal != "" {
		last.FinishReason = providerv1.FinishReason_FINISH_REASON_REFUSAL
	}
	return r.send(last)
}
