package openai

import (
	"math"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/internal/orderedjson"
)

// outgoing is one chat completion request as encoded, with what reading
// its answer needs.
type outgoing struct {
	// body is the JSON request body, handed to the SDK as it is.
	body []byte
	// constraint says how the output was asked for; reported with the answer.
	constraint *providerv1.Constraint
	// entries is the original schema root when maps were sent as entry
	// lists; the answer's entries are turned back into objects with it.
	entries *orderedjson.Object
	// target is the output schema's prepared form, nil without a schema;
	// an upstream rejection of its strict form is remembered there.
	target *target
}

// request encodes a CompleteRequest as a Chat Completions request body, in
// one place: messages, the output constraint of the provider's mode,
// sampling and the token limit in the configured field. allowStrict false
// sends the schema without strict mode (after the upstream rejected it).
// Its errors are INVALID_ARGUMENT statuses: the request cannot be sent.
//
// The body means what openai-go's ChatCompletionNewParams would send for
// the same request (TestRequestBodyMatchesSDK proves it field by field),
// but it is written directly: the per-target parts (the schema as sent,
// response_format or the function, the instructions text) are encoded once
// per target and copied in, and the rest is a handful of strings and
// numbers, where the SDK's reflection-based encoder spent more than the
// rest of the provider together.
func (p *Provider) request(req *providerv1.CompleteRequest, allowStrict bool) (outgoing, error) {
	var out outgoing
	messages := req.GetMessages()
	if len(messages) == 0 {
		return out, status.Error(codes.InvalidArgument, "openai: the request has no messages")
	}
	size := 128
	for i, m := range messages {
		switch m.GetRole() {
		case providerv1.Role_ROLE_SYSTEM, providerv1.Role_ROLE_USER, providerv1.Role_ROLE_ASSISTANT:
		case providerv1.Role_ROLE_UNSPECIFIED:
			return out, status.Errorf(codes.InvalidArgument, "openai: message %d has no role", i)
		default:
			return out, status.Errorf(codes.InvalidArgument, "openai: message %d has unknown role %d", i, m.GetRole())
		}
		size += len(m.GetContent()) + 32
	}
	s := req.GetSampling()
	if s == nil {
		s = noSampling
	}
	for _, v := range []*float64{s.Temperature, s.TopP} {
		if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
			return out, status.Error(codes.InvalidArgument, "openai: a sampling option is not a finite number")
		}
	}
	model := req.GetModel()
	if model == "" {
		model = p.model
	}

	var (
		format       []byte
		instructions string
	)
	if schema := req.GetOutputSchema(); schema.GetJsonSchema() != "" {
		t, err := p.targets.get(schema)
		if err != nil {
			return out, err
		}
		out.target = t
		format, out.constraint, out.entries = t.use(allowStrict)
		instructions = t.instructions
		size += len(format) + len(instructions)
	}

	b := make([]byte, 0, size)
	b = append(b, `{"model":`...)
	b = orderedjson.AppendString(b, model)
	b = append(b, `,"messages":[`...)
	if instructions != "" {
		// The instructions extend a leading system message, or come first
		// as one of their own.
		if first := messages[0]; first.GetRole() == providerv1.Role_ROLE_SYSTEM {
			b = append(b, `{"role":"system","content":"`...)
			b = orderedjson.AppendEscaped(b, first.GetContent())
			b = append(b, `\n\n`...)
			b = orderedjson.AppendEscaped(b, instructions)
			b = append(b, `"}`...)
			messages = messages[1:]
		} else {
			b = append(b, `{"role":"system","content":`...)
			b = orderedjson.AppendString(b, instructions)
			b = append(b, '}')
		}
		if len(messages) > 0 {
			b = append(b, ',')
		}
	}
	for i, m := range messages {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"role":"`...)
		b = append(b, roleNames[m.GetRole()]...)
		b = append(b, `","content":`...)
		b = orderedjson.AppendString(b, m.GetContent())
		b = append(b, '}')
	}
	b = append(b, ']')
	b = append(b, format...)

	if s.Temperature != nil {
		b = append(b, `,"temperature":`...)
		b = strconv.AppendFloat(b, *s.Temperature, 'g', -1, 64)
	}
	if s.TopP != nil {
		b = append(b, `,"top_p":`...)
		b = strconv.AppendFloat(b, *s.TopP, 'g', -1, 64)
	}
	if s.Seed != nil {
		b = append(b, `,"seed":`...)
		b = strconv.AppendInt(b, *s.Seed, 10)
	}
	limit := s.GetMaxOutputTokens()
	if limit == 0 {
		limit = p.maxTokens
	}
	if limit > 0 {
		if p.tokenLimit != TokenLimitMaxTokens {
			b = append(b, `,"max_completion_tokens":`...)
			b = strconv.AppendUint(b, uint64(limit), 10)
		}
		if p.tokenLimit != TokenLimitMaxCompletionTokens {
			b = append(b, `,"max_tokens":`...)
			b = strconv.AppendUint(b, uint64(limit), 10)
		}
	}
	// Token log-probabilities cost nothing extra in tokens, but guardgen
	// asks only for targets that use them (or callers that want them in
	// the report).
	if req.GetLogprobs() {
		b = append(b, `,"logprobs":true`...)
	}
	out.body = append(b, '}')
	return out, nil
}

// noSampling stands for a request without sampling options; never written.
var noSampling = &providerv1.SamplingOptions{}

// roleNames are the API's names of the message roles request accepts.
var roleNames = [...]string{
	providerv1.Role_ROLE_SYSTEM:    "system",
	providerv1.Role_ROLE_USER:      "user",
	providerv1.Role_ROLE_ASSISTANT: "assistant",
}

// schemaName makes name a valid json_schema name: [a-zA-Z0-9_-]{1,64}.
// guardgen names schemas by full message name, whose dots are not allowed.
func schemaName(name string) string {
	b := make([]byte, 0, min(len(name), 64))
	for i := 0; i < len(name) && len(b) < 64; i++ {
		switch c := name[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
			b = append(b, c)
		default:
			b = append(b, '_')
		}
	}
	if len(b) == 0 {
		return "output"
	}
	return string(b)
}
