package synthetic

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// ChunkTokens is how many tokens (as the provider's logprobs cut the
// content) each streamed chunk holds.
const ChunkTokens = 4

// CompleteStream answers as Complete does, written out in chunks of
// ChunkTokens tokens, with the tokens' logprobs when the request asks for
// them; the last chunk carries the finish reason, refusal and usage, every
// chunk the model. The plan's stream_reset entry ends the stream with
// UNAVAILABLE after half of its chunks; slow_start delays the first.
func (p *Provider) CompleteStream(req *providerv1.CompleteRequest, stream grpc.ServerStreamingServer[providerv1.CompleteStreamResponse]) error {
	ctx := stream.Context()
	resp, how, err := p.answer(ctx, req)
	if err != nil {
		return err
	}
	if how.slow > 0 {
		if err := sleep(ctx, how.slow); err != nil {
			return err
		}
	}
	chunks := split(resp)
	for i, chunk := range chunks {
		if how.reset && i == len(chunks)/2 && i > 0 {
			return status.Error(codes.Unavailable, "synthetic: stream reset mid-answer")
		}
		if err := ctx.Err(); err != nil {
			return status.FromContextError(err).Err()
		}
		if err := stream.Send(chunk); err != nil {
			return err
		}
	}
	return nil
}

// split cuts resp into chunks of ChunkTokens tokens each (one empty chunk
// for an empty content), the last carrying what ends a completion.
func split(resp *providerv1.CompleteResponse) []*providerv1.CompleteStreamResponse {
	content := resp.GetContent()
	tokens := resp.GetLogprobs()
	var cuts []int // token ends, in bytes
	if len(tokens) > 0 {
		at := 0
		for _, t := range tokens {
			at += len(t.GetToken())
			cuts = append(cuts, at)
		}
	} else {
		at := 0
		for _, t := range tokenize(content) {
			at += len(t)
			cuts = append(cuts, at)
		}
	}
	n := max((len(cuts)+ChunkTokens-1)/ChunkTokens, 1)
	chunks := make([]*providerv1.CompleteStreamResponse, n)
	start := 0
	for i := range chunks {
		last := min((i+1)*ChunkTokens, len(cuts))
		end := len(content)
		if last > 0 && i < n-1 {
			end = cuts[last-1]
		}
		c := &providerv1.CompleteStreamResponse{Content: content[start:end], Model: resp.GetModel()}
		if len(tokens) > 0 {
			c.Logprobs = tokens[min(i*ChunkTokens, len(tokens)):last]
		}
		chunks[i] = c
		start = end
	}
	final := chunks[n-1]
	final.FinishReason, final.Refusal, final.Usage = resp.GetFinishReason(), resp.GetRefusal(), resp.GetUsage()
	return chunks
}
