package openai

import (
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// tokenLogprobs maps choices[0].logprobs.content. A token's bytes, when
// the upstream sends them, are the token exactly (its text may show a
// split multi-byte character as an escape); otherwise its text is.
// Nothing is returned when the upstream sent none (it may not support
// them), so confidence stays unknown rather than invented.
func tokenLogprobs(c *choice) []*providerv1.TokenLogprob {
	content := c.Logprobs.Content
	if len(content) == 0 {
		return nil
	}
	out := make([]*providerv1.TokenLogprob, len(content))
	for i, t := range content {
		token := []byte(t.Token)
		if len(t.Bytes) > 0 {
			token = make([]byte, len(t.Bytes))
			for j, b := range t.Bytes {
				token[j] = byte(b)
			}
		}
		out[i] = &providerv1.TokenLogprob{Token: token, Logprob: t.Logprob}
	}
	return out
}
