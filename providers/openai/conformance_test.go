package openai_test

import (
	"context"
	"testing"

	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/providers/openai"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
	"github.com/guardgen/guardgen/providers/providertest"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// The OpenAI provider passes the provider conformance suite against the
// local OpenAI-compatible server, each behaviour scripted as the HTTP
// answer a real upstream gives.
func TestConformance(t *testing.T) {
	p, srv := start(t, openai.Options{})
	steps := map[providertest.Behavior]openaitest.Step{
		providertest.Answer:          {Content: `{"category":"billing","priority":2,"summary":"Customer was charged twice."}`},
		providertest.RateLimited:     {Status: 429, Headers: map[string]string{"Retry-After": "1"}, Error: &openaitest.APIError{Message: "Rate limit reached", Type: "requests", Code: "rate_limit_exceeded"}},
		providertest.Unavailable:     {Status: 503, Error: &openaitest.APIError{Message: "The server is overloaded", Type: "server_error"}},
		providertest.Truncated:       {Content: `{"category":"billing","priority":2,"summ`, FinishReason: "length"},
		providertest.ContentFiltered: {FinishReason: "content_filter", NoContent: true},
		providertest.Refused:         {Refusal: "I can't help with that."},
		providertest.Hang:            {Hang: true},
	}
	providertest.Run(t, providertest.Harness{
		Client: providerv1.NewProviderServiceClient(providers.InProcess(p)),
		Script: func(ctx context.Context, t *testing.T, b providertest.Behavior) context.Context {
			srv.Enqueue(steps[b])
			return ctx
		},
	})
}
