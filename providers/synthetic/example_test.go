package synthetic_test

import (
	"context"
	"fmt"

	"google.golang.org/grpc/metadata"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/providers/synthetic"
)

const ticketSchema = `{
  "type": "object",
  "properties": {
    "category": {"type": "string", "enum": ["billing", "technical", "account", "other"]},
    "priority": {"type": "integer", "minimum": 1, "maximum": 5},
    "summary": {"type": "string", "minLength": 1, "maxLength": 500}
  },
  "required": ["category", "priority", "summary"],
  "additionalProperties": false
}`

func ExampleProvider_Complete() {
	p := synthetic.New()
	resp, err := p.Complete(context.Background(), &providerv1.CompleteRequest{
		Messages:     []*providerv1.Message{{Role: providerv1.Role_ROLE_USER, Content: "I was charged twice this month"}},
		OutputSchema: &providerv1.OutputSchema{Name: "ticket", JsonSchema: ticketSchema},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.GetFinishReason(), resp.GetContent())
	// Output:
	// FINISH_REASON_STOP {"category":"billing","priority":5,"summary":"was charged twice this month"}
}

// A fault plan scripts the provider: here the second call of a request
// breaks a field rule.
func ExampleProvider_Complete_faultPlan() {
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(
		synthetic.FaultsMetadataKey, "ok,schema",
		providers.CallMetadataKey, "2",
	))
	resp, err := synthetic.New().Complete(ctx, &providerv1.CompleteRequest{
		Messages:     []*providerv1.Message{{Role: providerv1.Role_ROLE_USER, Content: "I was charged twice this month"}},
		OutputSchema: &providerv1.OutputSchema{Name: "ticket", JsonSchema: ticketSchema},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.GetContent())
	// Output:
	// {"category":"billing","priority":6,"summary":"was charged twice this month"}
}

func ExampleFaults() {
	fmt.Println(synthetic.Faults())
	// Output:
	// [ok rate_limit unavailable timeout hang length content_filter refusal fence prose malformed schema unknown_field business_rule low_confidence verify_reject stream_reset slow_start]
}
