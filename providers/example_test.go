package providers_test

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/providers"
)

// A built-in provider called in process through the chain: two transport
// failures are retried with backoff, and the Recorder the server attaches
// to each request sees every attempt.
func ExampleNewChain() {
	calls := 0
	flaky := providerFunc(func(context.Context, *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
		calls++
		if calls < 3 {
			return nil, status.Error(codes.Unavailable, "upstream unavailable")
		}
		return &providerv1.CompleteResponse{Content: `{"ok":true}`, FinishReason: providerv1.FinishReason_FINISH_REASON_STOP}, nil
	})
	chain, err := providers.NewChain(providers.ChainOptions{
		Provider: "flaky",
		Model:    "flaky-1",
		// MaxAttempts counts calls: one call and up to two retries.
		Policy:  providers.Policy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond},
		Breaker: providers.BreakerPolicy{ConsecutiveFailures: 5, OpenFor: 30 * time.Second},
		Budget:  providers.BudgetPolicy{MaxTokens: 10, Ratio: 0.1},
		OnWait:  func(retry uint, wait time.Duration) { fmt.Printf("retry %d after a wait\n", retry) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	client := providerv1.NewProviderServiceClient(providers.InProcess(flaky.server(), chain.Interceptors()...))

	ctx, rec := providers.WithRecorder(context.Background(), 6)
	resp, err := client.Complete(ctx, &providerv1.CompleteRequest{
		Messages: []*providerv1.Message{{Role: providerv1.Role_ROLE_USER, Content: "hi"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range rec.Calls() {
		fmt.Printf("call %d to %s/%s: %v\n", c.Number, c.Provider, c.Model, c.Code())
	}
	fmt.Println(resp.GetContent(), chain.BreakerState())
	// Output:
	// retry 1 after a wait
	// retry 2 after a wait
	// call 1 to flaky/flaky-1: Unavailable
	// call 2 to flaky/flaky-1: Unavailable
	// call 3 to flaky/flaky-1: OK
	// {"ok":true} closed
}
