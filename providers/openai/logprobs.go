package openai

import (
	openaisdk "github.com/openai/openai-go/v3"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// withLogprobs asks for token log-probabilities when the request does;
// they cost nothing extra in tokens, but guardgen asks only for targets
// that use them (or callers that want them in the report).
func withLogprobs(params *openaisdk.ChatCompletionNewParams, req *providerv1.CompleteRequest) {
	if req.GetLogprobs() {
		params.Logprobs = openaisdk.Bool(true)
	}
}

// tokenLogprobs maps choices[0].logprobs.content. A token's bytes, when
// the upstream sends them, are the token exactly (its text may show a
// split multi-byte character as an escape); otherwise its text is.
// Nothing is returned when the upstream sent none (it may not support
// them), so confidence stays unknown rather than invented.
func tokenLogprobs(content []openaisdk.ChatCompletionTokenLogprob) []*providerv1.TokenLogprob {
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
