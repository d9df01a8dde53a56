package openai_test

import (
	"encoding/json"
	"net/http"
	"testing"

	openaisdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/guardgen/guardgen/providers/openai"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
)

const benchContent = `{"category":"billing","priority":3,"summary":"Customer was charged twice this month."}`

// BenchmarkComplete is a full provider call: CompleteRequest → params
// (strict schema from the cache) → openai-go → loopback HTTP → test server
// → CompleteResponse. Compare with BenchmarkDirect for the provider's own
// overhead.
func BenchmarkComplete(b *testing.B) {
	p, srv := start(b, openai.Options{})
	srv.SetDefault(openaitest.Reply(benchContent))
	req := request(b)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Complete(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDirect sends the same request with openai-go alone, over the same
// kind of transport to the same server.
func BenchmarkDirect(b *testing.B) {
	srv := openaitest.New()
	b.Cleanup(srv.Close)
	srv.SetDefault(openaitest.Reply(benchContent))
	transport := http.DefaultTransport.(*http.Transport).Clone()
	b.Cleanup(transport.CloseIdleConnections)
	chat := openaisdk.NewChatCompletionService(
		option.WithHTTPClient(&http.Client{Transport: transport}),
		option.WithBaseURL(srv.URL()),
		option.WithAPIKey(testKey),
		option.WithMaxRetries(0),
	)
	schema, err := openai.Strict([]byte(ticketSchema(b)))
	if err != nil {
		b.Fatal(err)
	}
	params := openaisdk.ChatCompletionNewParams{
		Model: "gpt-4o-mini",
		Messages: []openaisdk.ChatCompletionMessageParamUnion{
			openaisdk.SystemMessage("You classify support tickets."),
			openaisdk.UserMessage("I was charged twice this month."),
		},
		ResponseFormat: openaisdk.ChatCompletionNewParamsResponseFormatUnion{
			OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{
				Name:   "guardgen_examples_v1_TicketClassification",
				Strict: openaisdk.Bool(true),
				Schema: json.RawMessage(schema),
			}},
		},
	}
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		c, err := chat.New(ctx, params)
		if err != nil {
			b.Fatal(err)
		}
		if c.Choices[0].Message.Content != benchContent {
			b.Fatal("unexpected content")
		}
	}
}

// BenchmarkStrict is the schema conversion alone, uncached.
func BenchmarkStrict(b *testing.B) {
	schema := []byte(ticketSchema(b))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := openai.Strict(schema); err != nil {
			b.Fatal(err)
		}
	}
}
