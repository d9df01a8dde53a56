package openai

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	openaisdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// params maps a CompleteRequest onto Chat Completions parameters. Its
// errors are INVALID_ARGUMENT statuses: the request cannot be sent.
func (p *Provider) params(req *providerv1.CompleteRequest) (openaisdk.ChatCompletionNewParams, error) {
	var params openaisdk.ChatCompletionNewParams
	if len(req.GetMessages()) == 0 {
		return params, status.Error(codes.InvalidArgument, "openai: the request has no messages")
	}
	for i, m := range req.GetMessages() {
		if m.GetRole() == providerv1.Role_ROLE_UNSPECIFIED {
			return params, status.Errorf(codes.InvalidArgument, "openai: message %d has no role", i)
		}
	}
	params.Model = req.GetModel()
	if params.Model == "" {
		params.Model = p.model
	}

	messages := req.GetMessages()
	if out := req.GetOutputSchema(); out.GetJsonSchema() != "" {
		if !json.Valid([]byte(out.GetJsonSchema())) {
			return params, status.Error(codes.InvalidArgument, "openai: the output schema is not valid JSON")
		}
		switch p.mode {
		case ModeJSONSchema:
			rf, err := p.jsonSchemaFormat(out)
			if err != nil {
				return params, err
			}
			params.ResponseFormat.OfJSONSchema = rf
		case ModeJSONObject:
			params.ResponseFormat.OfJSONObject = &shared.ResponseFormatJSONObjectParam{}
			messages = withInstructions(messages, out)
		case ModePrompt:
			messages = withInstructions(messages, out)
		}
	}

	params.Messages = make([]openaisdk.ChatCompletionMessageParamUnion, 0, len(messages))
	for i, m := range messages {
		switch m.GetRole() {
		case providerv1.Role_ROLE_SYSTEM:
			params.Messages = append(params.Messages, openaisdk.SystemMessage(m.GetContent()))
		case providerv1.Role_ROLE_USER:
			params.Messages = append(params.Messages, openaisdk.UserMessage(m.GetContent()))
		case providerv1.Role_ROLE_ASSISTANT:
			params.Messages = append(params.Messages, openaisdk.AssistantMessage(m.GetContent()))
		default:
			return params, status.Errorf(codes.InvalidArgument, "openai: message %d has unknown role %d", i, m.GetRole())
		}
	}

	s := req.GetSampling()
	if s != nil && s.Temperature != nil {
		params.Temperature = openaisdk.Float(s.GetTemperature())
	}
	if s != nil && s.Seed != nil {
		params.Seed = openaisdk.Int(s.GetSeed())
	}
	// max_completion_tokens, not the deprecated max_tokens that reasoning
	// models reject.
	if n := s.GetMaxOutputTokens(); n > 0 {
		params.MaxCompletionTokens = openaisdk.Int(int64(n))
	} else if p.maxTokens > 0 {
		params.MaxCompletionTokens = openaisdk.Int(int64(p.maxTokens))
	}
	withLogprobs(&params, req)
	return params, nil
}

// jsonSchemaFormat is response_format json_schema. A schema that fits the
// strict subset goes strict; one that does not (a map, a free-form value,
// a limit exceeded; see Strict) goes unchanged with strict: false, as does
// any schema the request did not ask to be strict.
func (p *Provider) jsonSchemaFormat(out *providerv1.OutputSchema) (*shared.ResponseFormatJSONSchemaParam, error) {
	schema, strict := []byte(out.GetJsonSchema()), false
	if out.GetStrict() {
		converted, err := p.schemas.strict(out.GetJsonSchema())
		switch {
		case err == nil:
			schema, strict = converted, true
		case errors.Is(err, ErrInvalidSchema):
			return nil, status.Error(codes.InvalidArgument, "openai: the output schema is not a JSON Schema object")
		}
	}
	return &shared.ResponseFormatJSONSchemaParam{
		JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{
			Name:   schemaName(out.GetName()),
			Strict: openaisdk.Bool(strict),
			Schema: json.RawMessage(schema),
		},
	}, nil
}

// withInstructions puts the schema into the system instructions, for the
// modes that cannot send it as response_format. It extends a leading
// system message, or adds one. JSON mode also requires the word "JSON" in
// the messages, which this text carries.
func withInstructions(messages []*providerv1.Message, out *providerv1.OutputSchema) []*providerv1.Message {
	text := "Respond with a single JSON object, and nothing else (no prose, no code fences), " +
		"that conforms to this JSON Schema"
	if name := out.GetName(); name != "" {
		text += fmt.Sprintf(" (%s)", name)
	}
	text += ":\n" + out.GetJsonSchema()
	withText := make([]*providerv1.Message, 0, len(messages)+1)
	if first := messages[0]; first.GetRole() == providerv1.Role_ROLE_SYSTEM {
		merged := &providerv1.Message{Role: providerv1.Role_ROLE_SYSTEM, Content: first.GetContent() + "\n\n" + text}
		return append(append(withText, merged), messages[1:]...)
	}
	withText = append(withText, &providerv1.Message{Role: providerv1.Role_ROLE_SYSTEM, Content: text})
	return append(withText, messages...)
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

// schemaCache remembers Strict's answer per schema text: guardgen sends the
// same few target schemas over and over. It is bounded because requests can
// carry their own descriptor sets, hence schemas.
type schemaCache struct {
	mu      sync.Mutex
	entries map[string]strictResult
}

type strictResult struct {
	schema []byte
	err    error
}

const schemaCacheSize = 256

func (c *schemaCache) strict(schema string) ([]byte, error) {
	c.mu.Lock()
	r, ok := c.entries[schema]
	c.mu.Unlock()
	if ok {
		return r.schema, r.err
	}
	r.schema, r.err = Strict([]byte(schema))
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= schemaCacheSize {
		c.entries = make(map[string]strictResult, 16) // crude but bounded: start over
	}
	c.entries[schema] = r
	c.mu.Unlock()
	return r.schema, r.err
}
