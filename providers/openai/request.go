package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	lru "github.com/hashicorp/golang-lru/v2"
	openaisdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/shared"
	"golang.org/x/sync/singleflight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/internal/orderedjson"
)

// outgoing is one chat completion request as built, with what reading
// its answer needs.
type outgoing struct {
	params openaisdk.ChatCompletionNewParams
	// constraint says how the output was asked for; reported with the answer.
	constraint *providerv1.Constraint
	// entries is the original schema root when maps were sent as entry
	// lists; the answer's entries are turned back into objects with it.
	entries *orderedjson.Object
	// schemaText identifies the schema for the rejection memory.
	schemaText string
}

// request maps a CompleteRequest onto Chat Completions parameters, in one
// place: messages, the output constraint of the provider's mode, sampling
// and the token limit in the configured field. allowStrict false sends the
// schema without strict mode (after the upstream rejected it). Its errors
// are INVALID_ARGUMENT statuses: the request cannot be sent. It is longer
// than most functions because it is the one place a reader checks what
// reaches the upstream, in request order; each step is a few lines.
func (p *Provider) request(req *providerv1.CompleteRequest, allowStrict bool) (outgoing, error) {
	var out outgoing
	params := &out.params
	if len(req.GetMessages()) == 0 {
		return out, status.Error(codes.InvalidArgument, "openai: the request has no messages")
	}
	for i, m := range req.GetMessages() {
		if m.GetRole() == providerv1.Role_ROLE_UNSPECIFIED {
			return out, status.Errorf(codes.InvalidArgument, "openai: message %d has no role", i)
		}
	}
	params.Model = req.GetModel()
	if params.Model == "" {
		params.Model = p.model
	}

	messages := req.GetMessages()
	if schema := req.GetOutputSchema(); schema.GetJsonSchema() != "" {
		if !json.Valid([]byte(schema.GetJsonSchema())) {
			return out, status.Error(codes.InvalidArgument, "openai: the output schema is not valid JSON")
		}
		out.schemaText = schema.GetJsonSchema()
		switch p.mode {
		case ModeJSONSchema:
			sent, err := p.sentSchema(schema, allowStrict)
			if err != nil {
				return out, err
			}
			params.ResponseFormat.OfJSONSchema = &shared.ResponseFormatJSONSchemaParam{
				JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{
					Name:   sent.name,
					Strict: openaisdk.Bool(sent.strict),
					Schema: json.RawMessage(sent.schema),
				},
			}
			out.constraint, out.entries = sent.constraint(providerv1.ConstraintMode_CONSTRAINT_MODE_JSON_SCHEMA), sent.entries
		case ModeTools:
			sent, err := p.sentSchema(schema, allowStrict)
			if err != nil {
				return out, err
			}
			var args bytes.Buffer
			if err := json.Compact(&args, sent.schema); err != nil {
				return out, status.Error(codes.InvalidArgument, "openai: the output schema is not JSON")
			}
			fn := orderedjson.Append(nil, orderedjson.New(4).
				Set("description", "Record the answer. Its arguments are the answer itself, an instance of "+schema.GetName()+".").
				Set("name", sent.name).
				Set("parameters", json.RawMessage(args.Bytes())).
				Set("strict", sent.strict))
			// Override keeps the schema's bytes (and so its property
			// order, which Structured Outputs generate in) as they are.
			params.Tools = []openaisdk.ChatCompletionToolUnionParam{{OfFunction: &openaisdk.ChatCompletionFunctionToolParam{
				Function: param.Override[shared.FunctionDefinitionParam](json.RawMessage(fn)),
			}}}
			params.ToolChoice = openaisdk.ToolChoiceOptionFunctionToolChoice(openaisdk.ChatCompletionNamedToolChoiceFunctionParam{Name: sent.name})
			messages = withText(messages, "Answer by calling the function "+sent.name+"; its arguments are your answer.")
			out.constraint, out.entries = sent.constraint(providerv1.ConstraintMode_CONSTRAINT_MODE_TOOL), sent.entries
		case ModeJSONObject:
			params.ResponseFormat.OfJSONObject = &shared.ResponseFormatJSONObjectParam{}
			messages = withInstructions(messages, schema)
			out.constraint = &providerv1.Constraint{Mode: providerv1.ConstraintMode_CONSTRAINT_MODE_JSON_OBJECT}
		case ModePrompt:
			messages = withInstructions(messages, schema)
			out.constraint = &providerv1.Constraint{Mode: providerv1.ConstraintMode_CONSTRAINT_MODE_PROMPT}
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
			return out, status.Errorf(codes.InvalidArgument, "openai: message %d has unknown role %d", i, m.GetRole())
		}
	}

	s := req.GetSampling()
	if s != nil && s.Temperature != nil {
		params.Temperature = openaisdk.Float(s.GetTemperature())
	}
	if s != nil && s.TopP != nil {
		params.TopP = openaisdk.Float(s.GetTopP())
	}
	if s != nil && s.Seed != nil {
		params.Seed = openaisdk.Int(s.GetSeed())
	}
	limit := int64(s.GetMaxOutputTokens())
	if limit == 0 {
		limit = int64(p.maxTokens)
	}
	if limit > 0 {
		if p.tokenLimit != TokenLimitMaxTokens {
			params.MaxCompletionTokens = openaisdk.Int(limit)
		}
		if p.tokenLimit != TokenLimitMaxCompletionTokens {
			params.MaxTokens = openaisdk.Int(limit)
		}
	}
	withLogprobs(params, req)
	return out, nil
}

// sent is the schema as it goes to the upstream.
type sent struct {
	name    string
	schema  []byte
	strict  bool
	entries *orderedjson.Object
	// rejected: the upstream refused this schema in strict mode before.
	rejected bool
}

func (s sent) constraint(mode providerv1.ConstraintMode) *providerv1.Constraint {
	return &providerv1.Constraint{Mode: mode, Strict: s.strict, StrictRejected: s.rejected}
}

// sentSchema is the schema for json_schema and tools modes. A schema that
// fits the strict subset goes strict (maps as entry lists); one that does
// not (a free-form value, a limit exceeded; see Strict) goes unchanged with
// strict: false, as does any schema the request did not ask to be strict,
// or one the upstream rejected in strict mode before, or any schema when
// allowStrict is false.
func (p *Provider) sentSchema(out *providerv1.OutputSchema, allowStrict bool) (sent, error) {
	s := sent{name: schemaName(out.GetName()), schema: []byte(out.GetJsonSchema())}
	if !out.GetStrict() {
		return s, nil
	}
	r := p.schemas.strict(out.GetJsonSchema())
	s.rejected = r.rejected
	switch {
	case errors.Is(r.err, ErrInvalidSchema):
		return s, status.Error(codes.InvalidArgument, "openai: the output schema is not a JSON Schema object")
	case r.err == nil && allowStrict && !r.rejected:
		s.schema, s.strict, s.entries = r.schema, true, r.entries
	}
	return s, nil
}

// withInstructions puts the schema into the system instructions, for the
// modes that cannot send it as response_format. JSON mode also requires
// the word "JSON" in the messages, which this text carries.
func withInstructions(messages []*providerv1.Message, out *providerv1.OutputSchema) []*providerv1.Message {
	text := "Respond with a single JSON object, and nothing else (no prose, no code fences), " +
		"that conforms to this JSON Schema"
	if name := out.GetName(); name != "" {
		text += fmt.Sprintf(" (%s)", name)
	}
	return withText(messages, text+":\n"+out.GetJsonSchema())
}

// withText adds text to the system instructions: it extends a leading
// system message, or adds one.
func withText(messages []*providerv1.Message, text string) []*providerv1.Message {
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
// carry their own descriptor sets, hence schemas (least recently used
// first out, golang-lru). It also remembers the
// schemas an upstream refused in strict mode, so that later requests go
// non-strict at once instead of paying for a rejected request each time.
type schemaCache struct {
	entries *lru.Cache[string, strictResult]
	// converting makes concurrent requests for a schema the cache lacks
	// share one conversion.
	converting singleflight.Group
}

type strictResult struct {
	schema []byte
	err    error
	// entries is the parsed original schema when maps became entry lists.
	entries *orderedjson.Object
	// rejected: the upstream refused the strict schema.
	rejected bool
}

const schemaCacheSize = 256

func newSchemaCache() schemaCache {
	entries, _ := lru.New[string, strictResult](schemaCacheSize) // errors only for a size below 1
	return schemaCache{entries: entries}
}

func (c *schemaCache) strict(schema string) strictResult {
	if r, ok := c.entries.Get(schema); ok {
		return r
	}
	v, _, _ := c.converting.Do(schema, func() (any, error) {
		var r strictResult
		var maps bool
		r.schema, maps, r.err = strict([]byte(schema))
		if r.err == nil && maps {
			if v, err := orderedjson.Parse([]byte(schema)); err == nil {
				r.entries, _ = v.(*orderedjson.Object)
			}
		}
		c.entries.Add(schema, r)
		return r, nil
	})
	return v.(strictResult)
}

// reject marks schema as refused by the upstream in strict mode.
func (c *schemaCache) reject(schema string) {
	r := c.strict(schema)
	r.rejected = true
	c.entries.Add(schema, r)
}
