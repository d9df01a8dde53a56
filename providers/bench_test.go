package providers_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	openaisdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/providers/openai"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
	"github.com/guardgen/guardgen/schema"
)

// BenchmarkProviderPath measures what guardgen's provider path adds to a
// call: each iteration makes one call (a) with openai-go alone and one (b)
// through the in-process chain (pushback → retry → breaker, budget, span,
// recorder) → openai provider (request mapping, cached strict schema, a
// copy of the request openai-go built once) → net/http, both to the same
// openaitest server with the same request
// body, so loopback HTTP and the server's own cost cancel out. The two
// paths alternate, so drift (GC, CPU frequency) hits both alike. It
// reports each path's median latency and their difference:
//
//	go test -run '^$' -bench BenchmarkProviderPath -benchtime 5000x -count 3 ./providers/
func BenchmarkProviderPath(b *testing.B) {
	srv := openaitest.New()
	b.Cleanup(srv.Close)
	const content = `{"category":"billing","priority":3,"summary":"Customer was charged twice this month."}`
	srv.SetDefault(openaitest.Reply(content))
	resolver, err := schema.NewResolver(schema.Options{RequestTypesOff: true}) // compiled-in targets only
	if err != nil {
		b.Fatal(err)
	}
	target, err := resolver.Resolve("guardgen.examples.v1.TicketClassification", nil)
	if err != nil {
		b.Fatal(err)
	}
	const (
		system = "Answer with one JSON object that conforms to the JSON Schema."
		prompt = "The checkout page double-charged me, please refund"
		model  = "gpt-4o-mini"
	)

	// (a) openai-go alone, sending what the provider sends.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	b.Cleanup(transport.CloseIdleConnections)
	chat := openaisdk.NewChatCompletionService(
		option.WithHTTPClient(&http.Client{Transport: transport}),
		option.WithBaseURL(srv.URL()),
		option.WithAPIKey("sk-test-not-a-secret"),
		option.WithMaxRetries(0),
	)
	strict, err := openai.Strict(target.JSONSchema)
	if err != nil {
		b.Fatal(err)
	}
	params := openaisdk.ChatCompletionNewParams{
		Model:               model,
		Messages:            []openaisdk.ChatCompletionMessageParamUnion{openaisdk.SystemMessage(system), openaisdk.UserMessage(prompt)},
		MaxCompletionTokens: openaisdk.Int(512),
		ResponseFormat: openaisdk.ChatCompletionNewParamsResponseFormatUnion{
			OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{
				Name:   "guardgen_examples_v1_TicketClassification",
				Strict: openaisdk.Bool(true),
				Schema: json.RawMessage(strict),
			}},
		},
	}

	// (b) the chain in front of the provider, as main wires it.
	p, err := openai.New(openai.Options{BaseURL: srv.URL(), APIKey: "sk-test-not-a-secret", Model: model, MaxResponseBytes: 4 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close() })
	opts := defaults
	opts.Provider, opts.Model = "openai", model
	chain := newChain(b, opts)
	client := providerv1.NewProviderServiceClient(providers.InProcess(p, chain.Interceptors()...))
	req := &providerv1.CompleteRequest{
		Messages: []*providerv1.Message{
			{Role: providerv1.Role_ROLE_SYSTEM, Content: system},
			{Role: providerv1.Role_ROLE_USER, Content: prompt},
		},
		Model:        model,
		OutputSchema: &providerv1.OutputSchema{Name: "guardgen.examples.v1.TicketClassification", JsonSchema: string(target.JSONSchema), Strict: true},
		Sampling:     &providerv1.SamplingOptions{MaxOutputTokens: 512},
	}

	ctx := b.Context()
	direct := func() {
		c, err := chat.New(ctx, params)
		if err != nil || c.Choices[0].Message.Content != content {
			b.Fatalf("direct: %v", err)
		}
	}
	viaChain := func() {
		// A recorder per call, as the server attaches one per request.
		rctx, _ := providers.WithRecorder(ctx, 6)
		resp, err := client.Complete(rctx, req)
		if err != nil || resp.GetContent() != content {
			b.Fatalf("chain: %v", err)
		}
	}
	// Warm connections and the strict-schema cache outside the timing.
	for range 50 {
		direct()
		viaChain()
	}

	directLat := make([]time.Duration, 0, b.N)
	chainLat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// Alternate which path goes first, so neither always follows the
		// other's connection reuse.
		first, second, firstLat, secondLat := direct, viaChain, &directLat, &chainLat
		if i%2 == 1 {
			first, second, firstLat, secondLat = viaChain, direct, &chainLat, &directLat
		}
		start := time.Now()
		first()
		mid := time.Now()
		second()
		*firstLat = append(*firstLat, mid.Sub(start))
		*secondLat = append(*secondLat, time.Since(mid))
	}
	b.StopTimer()
	d, c := median(directLat), median(chainLat)
	b.ReportMetric(float64(d.Nanoseconds())/1e3, "direct-p50-µs")
	b.ReportMetric(float64(c.Nanoseconds())/1e3, "chain-p50-µs")
	b.ReportMetric(float64((c-d).Nanoseconds())/1e3, "added-p50-µs")
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
