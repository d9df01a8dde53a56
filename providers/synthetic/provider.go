package synthetic

import (
	"context"
	"sync"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// Model is the model name the provider reports when the request names none.
const Model = "synthetic-1"

// DefaultRetryDelay is the RetryInfo delay of the rate_limit fault.
const DefaultRetryDelay = 50 * time.Millisecond

// cacheSize bounds the parsed-schema cache. guardgen sends one schema per
// target type, so a few hundred covers any realistic set of targets.
const cacheSize = 256

// Provider is guardgen's built-in deterministic provider. It answers
// Complete with a JSON instance of the request's output schema, generated
// from a seed derived from the prompt, and simulates upstream failures from
// the fault plan in the request metadata (see FaultsMetadataKey). It is safe
// for concurrent use.
type Provider struct {
	providerv1.UnimplementedProviderServiceServer

	retryDelay time.Duration

	mu      sync.RWMutex
	schemas map[string]*compiled
}

// Option configures a Provider.
type Option func(*Provider)

// WithRetryDelay sets the RetryInfo delay the rate_limit fault reports
// (default DefaultRetryDelay).
func WithRetryDelay(d time.Duration) Option {
	return func(p *Provider) { p.retryDelay = d }
}

// New returns a Provider.
func New(opts ...Option) *Provider {
	p := &Provider{retryDelay: DefaultRetryDelay, schemas: map[string]*compiled{}}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Complete answers with an instance of req.OutputSchema.JsonSchema, or with
// the fault the plan assigns to this call. The same first user message
// always yields the same instance. An answer longer than
// req.Sampling.MaxOutputTokens (at four characters per token) is cut there
// with finish reason LENGTH, as a model's would be.
func (p *Provider) Complete(ctx context.Context, req *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
	resp, f, err := p.answer(ctx, req)
	if err != nil {
		return nil, err
	}
	switch {
	case f.reset:
		// A unary call sees a stream broken mid-answer as a reset connection.
		return nil, status.Error(codes.Unavailable, "synthetic: connection reset mid-answer")
	case f.slow > 0:
		if err := sleep(ctx, f.slow); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// answer is the reply to req by the plan entry of this call, and the entry.
func (p *Provider) answer(ctx context.Context, req *providerv1.CompleteRequest) (*providerv1.CompleteResponse, planned, error) {
	if err := ctx.Err(); err != nil {
		return nil, planned{}, status.FromContextError(err).Err()
	}
	f, arg, err := faultFor(ctx)
	if err != nil {
		return nil, planned{}, err
	}
	if f.status != nil {
		return nil, planned{}, f.status(ctx, p).Err()
	}
	verification := req.GetPurpose() == providerv1.Purpose_PURPOSE_VERIFICATION
	if f.verifies && !verification {
		return nil, planned{}, status.Errorf(codes.InvalidArgument, "synthetic: fault %q answers verification calls only", f.name)
	}
	how, err := f.streamed(arg)
	if err != nil {
		return nil, planned{}, err
	}
	text := req.GetOutputSchema().GetJsonSchema()
	if text == "" {
		return nil, planned{}, status.Error(codes.InvalidArgument, "synthetic: output_schema.json_schema is empty")
	}
	s, err := p.schema(text)
	if err != nil {
		return nil, planned{}, status.Errorf(codes.InvalidArgument, "synthetic: output schema: %v", err)
	}
	prompt := firstUser(req.GetMessages())
	seed := fnv64a(prompt)
	r := f.answer(&request{schema: s, seed: seed, prompt: prompt, verification: verification, arg: arg})
	if limit := int(req.GetSampling().GetMaxOutputTokens()); limit > 0 && r.finish == providerv1.FinishReason_FINISH_REASON_STOP && len(r.content) > 4*limit {
		// A real model stops at its token limit: the output is cut (at the
		// four characters per token usage assumes) and says so.
		r.content, r.finish = r.content[:4*limit], providerv1.FinishReason_FINISH_REASON_LENGTH
	}
	model := req.GetModel()
	if model == "" {
		model = Model
	}
	resp := &providerv1.CompleteResponse{
		Content:      r.content,
		FinishReason: r.finish,
		Refusal:      r.refusal,
		Usage:        usage(req.GetMessages(), r.content),
		Model:        model,
	}
	if req.GetLogprobs() {
		resp.Logprobs = logprobs(r.content, seed, r.low)
	}
	return resp, how, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

// schema returns the compiled schema for text, from the cache when it is
// there. When the cache is full an arbitrary entry makes room.
func (p *Provider) schema(text string) (*compiled, error) {
	p.mu.RLock()
	s, ok := p.schemas[text]
	p.mu.RUnlock()
	if ok {
		return s, nil
	}
	s, err := compile(text)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.schemas) >= cacheSize {
		for k := range p.schemas {
			delete(p.schemas, k)
			break
		}
	}
	p.schemas[text] = s
	return s, nil
}

func firstUser(msgs []*providerv1.Message) string {
	for _, m := range msgs {
		if m.GetRole() == providerv1.Role_ROLE_USER {
			return m.GetContent()
		}
	}
	return ""
}

// fnv64a is FNV-1a (64-bit) of s, without hash.Hash's allocations.
func fnv64a(s string) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= prime
	}
	return h
}

// usage estimates tokens at four characters each, as the rule of thumb for
// English text goes: input from every message's runes, output from the
// content's bytes.
func usage(msgs []*providerv1.Message, content string) *providerv1.Usage {
	runes := 0
	for _, m := range msgs {
		runes += utf8.RuneCountInString(m.GetContent())
	}
	in, out := int64(max(runes/4, 1)), int64(max(len(content)/4, 1))
	return &providerv1.Usage{InputTokens: in, OutputTokens: out, TotalTokens: in + out}
}
