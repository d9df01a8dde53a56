package openai

import (
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// tokenLogprobs maps a choice's logprobs.content, whole or a chunk's
// share. Nothing is returned when the upstream sent none (it may not
// support them), so confidence stays unknown rather than invented.
func tokenLogprobs(l *logprobs) []*providerv1.TokenLogprob {
	content := l.Content
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
