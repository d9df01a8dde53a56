package providers

import (
	"context"
	"io"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// Stream is an open completion stream: Recv returns its chunks in order,
// then io.EOF, or the call's failure.
type Stream struct {
	cs    grpc.ServerStreamingClient[providerv1.CompleteStreamResponse]
	first *providerv1.CompleteStreamResponse
	err   error // the first Recv's, or the unary call's
	taken bool
}

// OpenStream asks client for req as a stream and waits for its first
// chunk. A provider that does not implement CompleteStream (UNIMPLEMENTED)
// is asked with Complete instead, once, and its answer is the stream's
// one chunk; a chain that saw it once asks such a provider with Complete
// at once thereafter. The error of a stream that could not open is
// returned by Recv, so a caller reads every failure in one place.
func OpenStream(ctx context.Context, client providerv1.ProviderServiceClient, req *providerv1.CompleteRequest) *Stream {
	cs, err := client.CompleteStream(ctx, req)
	if err == nil {
		first, err := cs.Recv()
		if !unimplemented(err) {
			return &Stream{cs: cs, first: first, err: err}
		}
	} else if !unimplemented(err) {
		return &Stream{err: err}
	}
	resp, err := client.Complete(ctx, req)
	if err != nil {
		return &Stream{err: err}
	}
	return &Stream{first: Chunk(resp)}
}

func unimplemented(err error) bool { return err != nil && status.Code(err) == codes.Unimplemented }

// Recv returns the next chunk.
func (s *Stream) Recv() (*providerv1.CompleteStreamResponse, error) {
	switch {
	case !s.taken:
		s.taken = true
		return s.first, s.err
	case s.err != nil:
		return nil, s.err
	case s.cs == nil:
		return nil, io.EOF
	}
	chunk, err := s.cs.Recv()
	s.err = err
	return chunk, err
}

// Chunk is resp as the one chunk of a stream.
func Chunk(resp *providerv1.CompleteResponse) *providerv1.CompleteStreamResponse {
	return &providerv1.CompleteStreamResponse{
		Content:      resp.GetContent(),
		Logprobs:     resp.GetLogprobs(),
		Refusal:      resp.GetRefusal(),
		FinishReason: resp.GetFinishReason(),
		Usage:        resp.GetUsage(),
		Model:        resp.GetModel(),
		Id:           resp.GetId(),
		Constraint:   resp.GetConstraint(),
	}
}

// Completion accumulates the chunks of a stream into the completion they
// spell. Its zero value is empty and ready.
type Completion struct {
	content, refusal strings.Builder
	logprobs         []*providerv1.TokenLogprob
	last             providerv1.CompleteResponse // all but content, refusal and logprobs
}

// Add appends a chunk.
func (c *Completion) Add(chunk *providerv1.CompleteStreamResponse) {
	c.content.WriteString(chunk.GetContent())
	c.refusal.WriteString(chunk.GetRefusal())
	c.logprobs = append(c.logprobs, chunk.GetLogprobs()...)
	if r := chunk.GetFinishReason(); r != providerv1.FinishReason_FINISH_REASON_UNSPECIFIED {
		c.last.FinishReason = r
	}
	if chunk.GetUsage() != nil {
		c.last.Usage = chunk.GetUsage()
	}
	if chunk.GetModel() != "" {
		c.last.Model = chunk.GetModel()
	}
	if chunk.GetId() != "" {
		c.last.Id = chunk.GetId()
	}
	if chunk.GetConstraint() != nil {
		c.last.Constraint = chunk.GetConstraint()
	}
}

// Content is the text so far.
func (c *Completion) Content() string { return c.content.String() }

// Logprobs are the tokens so far.
func (c *Completion) Logprobs() []*providerv1.TokenLogprob { return c.logprobs }

// Response is the completion so far as one response.
func (c *Completion) Response() *providerv1.CompleteResponse {
	return &providerv1.CompleteResponse{
		Content:      c.content.String(),
		FinishReason: c.last.FinishReason,
		Refusal:      c.refusal.String(),
		Usage:        c.last.Usage,
		Model:        c.last.Model,
		Id:           c.last.Id,
		Constraint:   c.last.Constraint,
		Logprobs:     c.logprobs,
	}
}

// Reset empties c for a stream that starts over.
func (c *Completion) Reset() {
	c.content.Reset()
	c.refusal.Reset()
	c.logprobs = nil
	c.last = providerv1.CompleteResponse{}
}
