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
	if len(content) == 0 {
		return nil
	}
	out := make([]*providerv1.TokenLogprob, len(content))
	for i, t := range content {
		out[i] = tokenLogprob(t.Token, t.Bytes, t.Logprob)
	}
	return out
}

// chunkLogprobs is tokenLogprobs for a streamed chunk, decoded by the SDK.
func chunkLogprobs(content []openaisdk.ChatCompletionTokenLogprob) []*providerv1.TokenLogprob {
	if len(content) == 0 {
		return nil
	}
	out := make([]*providerv1.TokenLogprob, len(content))
	for i, t := range content {
		out[i] = tokenLogprob(t.Token, t.Bytes, t.Logprob)
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
