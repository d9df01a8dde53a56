package openai

import (
	openaisdk "github.com/openai/openai-go/v3"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// tokenLogprobs maps choices[0].logprobs.content. Nothing is returned when
// the upstream sent none (it may not support them), so confidence stays
// unknown rather than invented.
func tokenLogprobs(c *choice) []*providerv1.TokenLogprob {
	content := c.Logprobs.Content
	return logprobsOf(len(content), func(i int) (string, []int64, float64) {
		return content[i].Token, content[i].Bytes, content[i].Logprob
	})
}

// chunkLogprobs is tokenLogprobs for a streamed chunk, decoded by the SDK.
func chunkLogprobs(content []openaisdk.ChatCompletionTokenLogprob) []*providerv1.TokenLogprob {
	return logprobsOf(len(content), func(i int) (string, []int64, float64) {
		return content[i].Token, content[i].Bytes, content[i].Logprob
	})
}

// logprobsOf maps n tokens, the i-th read by at.
func logprobsOf(n int, at func(i int) (text string, bytes []int64, logprob float64)) []*providerv1.TokenLogprob {
	if n == 0 {
		return nil
	}
	out := make([]*providerv1.TokenLogprob, n)
	for i := range n {
		out[i] = tokenLogprob(at(i))
	}
	return out
}

// tokenLogprob maps one token. Its bytes, when the upstream sends them,
// are the token exactly (its text may show a split multi-byte character as
// an escape); otherwise its text is.
func tokenLogprob(text string, bytes []int64, logprob float64) *providerv1.TokenLogprob {
	token := []byte(text)
	if len(bytes) > 0 {
		token = make([]byte, len(bytes))
		for j, b := range bytes {
			token[j] = byte(b)
		}
	}
	return &providerv1.TokenLogprob{Token: token, Logprob: logprob}
}
