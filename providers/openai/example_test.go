package openai_test

import (
	"context"
	"fmt"

	"google.golang.org/grpc/status"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/providers/openai"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
)

func ExampleStrict() {
	schema := `{
		"type": "object",
		"properties": {
			"summary": {"type": "string", "maxLength": 500},
			"note": {"type": "string"}
		},
		"required": ["summary"]
	}`
	strict, err := openai.Strict([]byte(schema))
	if err != nil {
		panic(err)
	}
	fmt.Println(string(strict))
	// Output:
	// {"type":"object","properties":{"summary":{"type":"string","description":"At most 500 characters."},"note":{"type":["string","null"]}},"required":["summary","note"],"additionalProperties":false}
}

func ExampleProvider_Complete() {
	srv := openaitest.New()
	defer srv.Close()
	srv.Enqueue(openaitest.Reply(`{"category":"billing"}`), openaitest.RateLimited("2"))

	p, err := openai.New(openai.Options{BaseURL: srv.URL(), APIKey: "sk-example", Model: "gpt-4o-mini", MaxResponseBytes: 4 << 20})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	req := &providerv1.CompleteRequest{
		Messages: []*providerv1.Message{{Role: providerv1.Role_ROLE_USER, Content: "I was charged twice."}},
		OutputSchema: &providerv1.OutputSchema{
			Name:       "Ticket",
			JsonSchema: `{"type":"object","properties":{"category":{"type":"string"}},"required":["category"]}`,
			Strict:     true,
		},
	}
	resp, err := p.Complete(context.Background(), req)
	fmt.Println(resp.GetContent(), resp.GetFinishReason(), err)

	_, err = p.Complete(context.Background(), req)
	st := status.Convert(err)
	fmt.Println(st.Code(), st.Message())
	// Output:
	// {"category":"billing"} FINISH_REASON_STOP <nil>
	// ResourceExhausted openai: upstream rate limited the request (HTTP 429)
}
