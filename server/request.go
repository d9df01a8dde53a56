package server

import (
	"cmp"
	"context"
	"strings"

	"google.golang.org/grpc/metadata"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/schema"
)

// providerRequest builds the provider request from the caller's: the
// caller's instructions, guardgen's, the prompt and the output schema.
func (g *generation) providerRequest() *providerv1.CompleteRequest {
	// One concatenation: this runs on every request.
	value := answerForms[g.target.Form()]
	system := "Answer with one " + value + " that conforms to the JSON Schema named " + g.target.Name +
		" (protobuf message " + string(g.target.Desc.FullName()) + "). Output only the " + value + ": no prose, no markdown."
	if in := g.req.GetInstructions(); in != "" {
		system = in + "\n\n" + system
	}
	opts := g.req.GetOptions()
	// The request and its parts for the usual shape (no examples) are
	// one allocation, not six: this runs on every request.
	b := new(requestBlock)
	// Few-shot examples go between the instructions and the prompt, as
	// the turns they stand for.
	messages := b.messages[:0]
	if n := 2 + 2*len(opts.GetExamples()); n > len(b.messages) {
		messages = make([]*providerv1.Message, 0, n)
	}
	b.system = providerv1.Message{Role: providerv1.Role_ROLE_SYSTEM, Content: system}
	messages = append(messages, &b.system)
	for _, ex := range opts.GetExamples() {
		messages = append(messages,
			&providerv1.Message{Role: providerv1.Role_ROLE_USER, Content: ex.GetInput()},
			&providerv1.Message{Role: providerv1.Role_ROLE_ASSISTANT, Content: ex.GetOutput()})
	}
	b.prompt = providerv1.Message{Role: providerv1.Role_ROLE_USER, Content: g.req.GetPrompt()}
	messages = append(messages, &b.prompt)
	// Shaped for the route's first entry, which entryRequest then sends
	// as it is: no copy per call to fill in the entry's model and limit.
	first := &g.route.Entries[0]
	b.sampling.MaxOutputTokens = cmp.Or(opts.GetMaxOutputTokens(), first.MaxOutputTokens)
	if opts != nil {
		b.sampling.Temperature, b.sampling.TopP, b.sampling.Seed = copyOf(opts.Temperature), copyOf(opts.TopP), copyOf(opts.Seed)
	}
	b.schema = providerv1.OutputSchema{Name: g.target.Name, JsonSchema: g.target.JSONSchemaText, Strict: true}
	b.req = providerv1.CompleteRequest{
		Messages:     messages,
		Model:        cmp.Or(opts.GetModel(), first.Model),
		OutputSchema: &b.schema,
		Sampling:     &b.sampling,
		Logprobs:     g.wantsLogprobs(),
		Purpose:      providerv1.Purpose_PURPOSE_GENERATION,
	}
	return &b.req
}

// requestBlock holds a provider request and the messages it points to,
// allocated together.
type requestBlock struct {
	req            providerv1.CompleteRequest
	schema         providerv1.OutputSchema
	sampling       providerv1.SamplingOptions
	system, prompt providerv1.Message
	messages       [2]*providerv1.Message
}

// copyOf returns a copy of *p, or nil.
func copyOf[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// answerForms names the JSON value a target's answer is, for the
// instructions.
var answerForms = [...]string{
	schema.FormObject: "JSON object",
	schema.FormArray:  "JSON array",
	schema.FormScalar: "JSON value",
	schema.FormAny:    "JSON value",
}

// forwardMetadata passes the caller's x-guardgen-* metadata on to the
// provider, and nothing else (no authorization headers).
func forwardMetadata(ctx context.Context) context.Context {
	var out metadata.MD
	if l, ok := ctx.Value(callLogKey{}).(*callLog); ok {
		out = l.forward // found by edge
	} else {
		in, _ := metadata.FromIncomingContext(ctx)
		out = forwarded(in)
	}
	if out == nil {
		return ctx
	}
	return metadata.NewOutgoingContext(ctx, out)
}

// forwarded is the part of a call's metadata in that forwardMetadata
// passes on, nil when there is none.
func forwarded(in metadata.MD) metadata.MD {
	var out metadata.MD
	for k, vs := range in {
		if strings.HasPrefix(k, providers.MetadataPrefix) && k != providers.CallMetadataKey {
			if out == nil {
				out = metadata.MD{}
			}
			out[k] = vs
		}
	}
	return out
}
