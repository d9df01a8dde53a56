package openai

import (
	"encoding/json"
	"errors"
	"strconv"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/internal/orderedjson"
)

// target is one output schema prepared for the provider's mode: what a
// request for it adds to the body, encoded once. guardgen sends the same
// few target schemas over and over, so every request after the first
// copies bytes instead of validating, converting and encoding the schema.
type target struct {
	mode providerv1.ConstraintMode
	// plain is the body fragment that asks for the output with the schema
	// as given and strict off (",\"response_format\":{...}" or the
	// function and tool_choice); empty in prompt mode.
	plain []byte
	// strict is the fragment with the schema in the strict subset, nil when
	// strict mode was not asked for or the schema has no strict form.
	strict []byte
	// entries is the original schema root when the strict form sends maps
	// as entry lists.
	entries *orderedjson.Object
	// instructions are added to the system message ("" for none).
	instructions string
	// rejected: the upstream refused the strict form; later requests go
	// non-strict at once instead of paying for a rejected request each time.
	rejected atomic.Bool
}

// use returns the fragment to send, the constraint to report (a new value:
// the answer's map entries are recorded in it) and the entries root.
// allowStrict false sends the plain form (after the upstream rejected the
// strict one).
func (t *target) use(allowStrict bool) ([]byte, *providerv1.Constraint, *orderedjson.Object) {
	c := &providerv1.Constraint{Mode: t.mode}
	if t.strict == nil {
		return t.plain, c, nil
	}
	c.StrictRejected = t.rejected.Load()
	if allowStrict && !c.StrictRejected {
		c.Strict = true
		return t.strict, c, t.entries
	}
	return t.plain, c, nil
}

// reject remembers that the upstream refused the strict form.
func (t *target) reject() { t.rejected.Store(true) }

// targetKey is everything of an OutputSchema that a target depends on;
// the mode is the provider's own.
type targetKey struct {
	name, schema string
	strict       bool
}

// targetCacheSize bounds the prepared targets: requests can carry their
// own descriptor sets, hence schemas.
const targetCacheSize = 256

// targets prepares and remembers the targets of one provider (least
// recently used first out, golang-lru).
type targets struct {
	mode  OutputMode
	cache *lru.Cache[targetKey, *target]
	// preparing makes concurrent requests for a target the cache lacks
	// share one preparation.
	preparing singleflight.Group
}

func newTargets(mode OutputMode) *targets {
	cache, err := lru.New[targetKey, *target](targetCacheSize)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &targets{mode: mode, cache: cache}
}

// get returns the prepared target for schema; its errors are
// INVALID_ARGUMENT statuses, and a schema that fails is not remembered.
func (ts *targets) get(schema *providerv1.OutputSchema) (*target, error) {
	key := targetKey{name: schema.GetName(), schema: schema.GetJsonSchema(), strict: schema.GetStrict()}
	if t, ok := ts.cache.Get(key); ok {
		return t, nil
	}
	v, err, _ := ts.preparing.Do(key.name+"\x00"+strconv.FormatBool(key.strict)+"\x00"+key.schema, func() (any, error) {
		if t, ok := ts.cache.Get(key); ok {
			return t, nil // prepared by a flight that ended after the look-up above
		}
		t, err := ts.prepare(key)
		if err != nil {
			return nil, err
		}
		ts.cache.Add(key, t)
		return t, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*target), nil
}

// prepare encodes the parts of a request that depend on the target alone.
// In json_schema and tools modes a schema that fits the strict subset has
// a strict form (maps as entry lists); one that does not (a free-form
// value, a limit exceeded; see Strict) goes unchanged with strict: false,
// as does any schema the request did not ask to be strict. The other modes
// put the schema into the system instructions.
func (ts *targets) prepare(key targetKey) (*target, error) {
	if !json.Valid([]byte(key.schema)) {
		return nil, status.Error(codes.InvalidArgument, "openai: the output schema is not valid JSON")
	}
	t := &target{}
	switch ts.mode {
	case ModeJSONObject, ModePrompt:
		t.mode = providerv1.ConstraintMode_CONSTRAINT_MODE_PROMPT
		if ts.mode == ModeJSONObject {
			t.mode = providerv1.ConstraintMode_CONSTRAINT_MODE_JSON_OBJECT
			t.plain = []byte(`,"response_format":{"type":"json_object"}`)
		}
		// JSON mode also requires the word "JSON" in the messages, which
		// this text carries.
		t.instructions = "Respond with a single JSON object, and nothing else (no prose, no code fences), " +
			"that conforms to this JSON Schema"
		if key.name != "" {
			t.instructions += " (" + key.name + ")"
		}
		t.instructions += ":\n" + key.schema
		return t, nil
	}

	name := schemaName(key.name)
	var strictSchema []byte
	if key.strict {
		converted, maps, err := strict([]byte(key.schema))
		switch {
		case errors.Is(err, ErrInvalidSchema):
			return nil, status.Error(codes.InvalidArgument, "openai: the output schema is not a JSON Schema object")
		case err == nil:
			strictSchema = converted
			if maps {
				if v, err := orderedjson.Parse([]byte(key.schema)); err == nil {
					t.entries, _ = v.(*orderedjson.Object)
				}
			}
		}
	}
	encode := ts.jsonSchemaFormat
	t.mode = providerv1.ConstraintMode_CONSTRAINT_MODE_JSON_SCHEMA
	if ts.mode == ModeTools {
		encode = ts.toolFormat
		t.mode = providerv1.ConstraintMode_CONSTRAINT_MODE_TOOL
		t.instructions = "Answer by calling the function " + name + "; its arguments are your answer."
	}
	t.plain = encode(key.name, name, []byte(key.schema), false)
	if strictSchema != nil {
		t.strict = encode(key.name, name, strictSchema, true)
	}
	return t, nil
}

// jsonSchemaFormat is response_format json_schema: Structured Outputs.
func (*targets) jsonSchemaFormat(_, name string, schema []byte, strict bool) []byte {
	b := append([]byte(nil), `,"response_format":{"type":"json_schema","json_schema":{"name":`...)
	b = orderedjson.AppendString(b, name)
	b = append(b, `,"strict":`...)
	b = appendBool(b, strict)
	b = append(b, `,"schema":`...)
	b = append(b, schema...)
	return append(b, "}}"...)
}

// toolFormat is one function whose parameters are the schema, and the
// tool_choice that forces the model to call it. The schema's bytes (and
// so its property order, which Structured Outputs generate in) go as they
// are.
func (*targets) toolFormat(fullName, name string, schema []byte, strict bool) []byte {
	b := append([]byte(nil), `,"tools":[{"type":"function","function":{"name":`...)
	b = orderedjson.AppendString(b, name)
	b = append(b, `,"description":`...)
	b = orderedjson.AppendString(b, "Record the answer. Its arguments are the answer itself, an instance of "+fullName+".")
	b = append(b, `,"parameters":`...)
	b = append(b, schema...)
	b = append(b, `,"strict":`...)
	b = appendBool(b, strict)
	b = append(b, `}}],"tool_choice":{"type":"function","function":{"name":`...)
	b = orderedjson.AppendString(b, name)
	return append(b, "}}"...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}
