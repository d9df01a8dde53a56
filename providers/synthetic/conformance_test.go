package synthetic_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/metadata"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/providers/providertest"
	"github.com/guardgen/guardgen/providers/synthetic"
)

// conformanceFaults is the fault-plan entry that makes the synthetic provider show
// each behaviour of the conformance suite.
var conformanceFaults = map[providertest.Behavior]string{
	providertest.Answer:          "ok",
	providertest.RateLimited:     "rate_limit",
	providertest.Unavailable:     "unavailable",
	providertest.Truncated:       "length",
	providertest.ContentFiltered: "content_filter",
	providertest.Refused:         "refusal",
	providertest.Hang:            "hang",
}

// The synthetic provider passes the provider conformance suite, each
// behaviour scripted by its fault plan.
func TestConformance(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		Client: providerv1.NewProviderServiceClient(providers.InProcess(synthetic.New())),
		Script: func(ctx context.Context, _ *testing.T, b providertest.Behavior) context.Context {
			return metadata.AppendToOutgoingContext(ctx, synthetic.FaultsMetadataKey, conformanceFaults[b])
		},
	})
}
