package openai

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/guardgen/guardgen/internal/orderedjson"
)

// Limits of OpenAI's Structured Outputs strict mode, as its guide documents
// them ("Supported schemas").
const (
	// MaxStrictProperties bounds object properties across the whole schema.
	MaxStrictProperties = 5000
	// MaxStrictDepth bounds object nesting; the root object is level 1 and
	// each $defs entry counts from 1 (recursive $refs are not followed).
	MaxStrictDepth = 10
	// MaxStrictEnumValues bounds enum values across all enums.
	MaxStrictEnumValues = 1000
	// MaxStrictStringLength bounds the total length of property names,
	// $defs names, and string enum and const values.
	MaxStrictStringLength = 120_000
	// MaxStrictLargeEnumLength bounds the total string length of one enum
	// with more than StrictLargeEnum string values.
	MaxStrictLargeEnumLength = 15_000
	// StrictLargeEnum is the enum size above which MaxStrictLargeEnumLength
	// applies.
	StrictLargeEnum = 250
)

// Sentinel errors of Strict (and of the strictcheck test oracle), matched with errors.Is.
var (
	// ErrInvalidSchema: the input is not JSON or not a JSON Schema document.
	ErrInvalidSchema = errors.New("openai: invalid JSON Schema")
	// ErrNotStrict: the schema needs something OpenAI's strict subset cannot
	// express (a map, a free-form value, an unsupported keyword).
	ErrNotStrict = errors.New("openai: schema outside the strict subset")
	// ErrTooLarge: the schema exceeds a strict-mode limit.
	ErrTooLarge = errors.New("openai: schema exceeds a strict-mode limit")
)

// SchemaError is a problem at one place in a schema.
type SchemaError struct {
	// Path is a JSON Pointer into the schema ("" is the root).
	Path string
	// Reason says what is wrong, for logs.
	Reason string
	// Err is ErrInvalidSchema, ErrNotStrict or ErrTooLarge.
	Err error
}

// Error implements error.
func (e *SchemaError) Error() string {
	path := e.Path
	if path == "" {
		path = "/"
	}
	return fmt.Sprintf("%v at %s: %s", e.Err, path, e.Reason)
}

// Unwrap returns the sentinel.
func (e *SchemaError) Unwrap() error { return e.Err }

func schemaErr(sentinel error, path, format string, args ...any) error {
	return &SchemaError{Path: path, Reason: fmt.Sprintf(format, args...), Err: sentinel}
}

// strictFormats are the string formats strict mode supports.
var strictFormats = map[string]bool{
	"date-time": true, "time": true, "date": true, "duration": true, "email": true,
	"hostname": true, "ipv4": true, "ipv6": true, "uuid": true,
}

// Strict converts guardgen's derived JSON Schema (draft 2020-12) into the
// subset that OpenAI's Structured Outputs accept with strict: true, keeping
// what the model must produce decodable by protojson:
//
//   - the root must be an object schema (a root $ref is inlined); anyOf at
//     the root is rejected;
//
//   - every object gets additionalProperties: false and lists all its
//     properties in required; a property that was optional becomes
//     nullable (type [T, "null"] for plain scalars, anyOf with
//     {"type": "null"} for objects, arrays, enums, consts, $refs and
//     anyOfs), since protojson reads null as "unset";
//
//   - a type list of several types (protojson's int64 as integer or
//     string) becomes anyOf, one branch per type with its own keywords;
//
//   - a oneOf of required-lists (a proto oneof) is dropped and said in the
//     description ("exactly one of ... is non-null"); a oneOf of schemas
//     becomes anyOf;
//
//   - keywords strict mode does not support are dropped: annotations
//     ($schema, $id, title, default, examples, ...) silently, constraints
//     (minLength, maxLength, uniqueItems, contentEncoding, formats other
//     than date-time, time, date, duration, email, hostname, ipv4, ipv6 and
//     uuid) by restating them in the description, so the model still sees
//     them and guardgen's validator still enforces them;
//
//   - type is inferred from enum and const values where missing, because
//     strict mode wants a type on every schema.
//
//   - a map (an object whose additionalProperties is a schema) becomes an
//     array of {"key", "value"} entries, since strict mode requires
//     additionalProperties: false on every object and a map could only
//     ever be generated empty; propertyNames constrain the key,
//     minProperties and maxProperties become minItems and maxItems. The
//     provider turns the entries back into a JSON object before the
//     content leaves it ([FromEntries]);
//
//   - anyOf (or a oneOf of schemas) next to other keywords becomes anyOf
//     with those keywords copied into each branch, and an allOf of
//     required-list oneOfs (several proto oneofs) is said in the
//     description like a single one.
//
// Strict returns ErrNotStrict (in a *SchemaError) for what the subset
// cannot express. The notable case is a free-form value ({} or true, e.g.
// google.protobuf.Value or Struct): the provider sends such schemas
// unchanged with strict: false; the model is guided instead of constrained
// and guardgen's validator catches what it gets wrong. ErrTooLarge reports
// an exceeded limit, and ErrInvalidSchema input that is not a schema.
func Strict(schema []byte) ([]byte, error) {
	out, _, err := strict(schema)
	return out, err
}

// strict is Strict, also reporting whether a map was turned into entries.
func strict(schema []byte) (out []byte, maps bool, err error) {
	v, err := orderedjson.Parse(schema)
	if err != nil {
		return nil, false, schemaErr(ErrInvalidSchema, "", "not JSON: %v", err)
	}
	root, ok := v.(*orderedjson.Object)
	if !ok {
		if _, isBool := v.(bool); isBool {
			return nil, false, schemaErr(ErrNotStrict, "", "a boolean schema is not an object")
		}
		return nil, false, schemaErr(ErrInvalidSchema, "", "the schema is a JSON %s, not an object", jsonKind(v))
	}
	c := converter{}
	if d, ok := root.Get("$defs"); ok {
		if c.defs, ok = d.(*orderedjson.Object); !ok {
			return nil, false, schemaErr(ErrInvalidSchema, "/$defs", "$defs is not an object")
		}
	}
	if root.Has("definitions") {
		return nil, false, schemaErr(ErrNotStrict, "/definitions", "definitions is not supported; use $defs")
	}
	if ref, ok := root.Get("$ref"); ok && ref != "#" {
		// A root that only points at a definition: inline it, since strict
		// mode wants the root itself to be an object.
		def, err := c.resolve(ref, "/$ref")
		if err != nil {
			return nil, false, err
		}
		inlined := orderedjson.New(def.Len())
		for _, k := range def.Keys() {
			inlined.Set(k, def.Value(k))
		}
		root = inlined
	}
	if oneOf, ok := root.Get("oneOf"); root.Has("anyOf") || ok && !isRequiredLists(oneOf) {
		return nil, false, schemaErr(ErrNotStrict, "", "the root must be an object, not anyOf")
	}
	if isMap(root) {
		return nil, false, schemaErr(ErrNotStrict, "", "the root must be an object schema, not a map")
	}
	converted, err := c.node(root, "", 0, false, true)
	if err != nil {
		return nil, false, err
	}
	outRoot, ok := converted.(*orderedjson.Object)
	if !ok {
		return nil, false, schemaErr(ErrNotStrict, "", "the root must be an object schema")
	}
	if t, _ := outRoot.Get("type"); t != "object" {
		return nil, false, schemaErr(ErrNotStrict, "", "the root must be an object schema")
	}
	if c.defs != nil && c.defs.Len() > 0 {
		defs := orderedjson.New(c.defs.Len())
		for _, name := range c.defs.Keys() {
			c.addString(name)
			path := "/$defs/" + pointerEscape(name)
			d, err := c.schema(c.defs.Value(name), path, 0, false)
			if err != nil {
				return nil, false, err
			}
			defs.Set(name, d)
		}
		outRoot.Set("$defs", defs)
	}
	if err := c.limits(); err != nil {
		return nil, false, err
	}
	return orderedjson.Append(nil, outRoot), c.maps > 0, nil
}

// converter carries the root's definitions and the running totals that
// strict-mode limits apply to.
type converter struct {
	defs       *orderedjson.Object
	properties int
	enumValues int
	strings    int
	// maps counts maps turned into entry arrays.
	maps int
}

func (c *converter) addString(s string) { c.strings += utf8.RuneCountInString(s) }

func (c *converter) limits() error {
	switch {
	case c.properties > MaxStrictProperties:
		return schemaErr(ErrTooLarge, "", "%d object properties, more than %d", c.properties, MaxStrictProperties)
	case c.enumValues > MaxStrictEnumValues:
		return schemaErr(ErrTooLarge, "", "%d enum values, more than %d", c.enumValues, MaxStrictEnumValues)
	case c.strings > MaxStrictStringLength:
		return schemaErr(ErrTooLarge, "", "names, enum and const values total %d characters, more than %d", c.strings, MaxStrictStringLength)
	}
	return nil
}

// resolve returns the definition ref points at.
func (c *converter) resolve(ref any, path string) (*orderedjson.Object, error) {
	s, ok := ref.(string)
	if !ok {
		return nil, schemaErr(ErrInvalidSchema, path, "$ref is not a string")
	}
	name, ok := strings.CutPrefix(s, "#/$defs/")
	if !ok || strings.Contains(name, "/") {
		return nil, schemaErr(ErrNotStrict, path, "$ref %q: only \"#\" and \"#/$defs/<name>\" are supported", s)
	}
	name = pointerUnescape(name)
	if c.defs == nil || !c.defs.Has(name) {
		return nil, schemaErr(ErrInvalidSchema, path, "$ref %q: no such definition", s)
	}
	def, ok := c.defs.Value(name).(*orderedjson.Object)
	if !ok {
		return nil, schemaErr(ErrNotStrict, path, "$ref %q: the definition is not an object schema", s)
	}
	return def, nil
}

// schema converts any schema value: only objects are schemas strict mode
// accepts.
func (c *converter) schema(v any, path string, level int, nullable bool) (any, error) {
	o, ok := v.(*orderedjson.Object)
	if !ok {
		if b, isBool := v.(bool); isBool {
			if b {
				return nil, schemaErr(ErrNotStrict, path, "free-form value (schema true)")
			}
			return nil, schemaErr(ErrNotStrict, path, "schema false allows no value")
		}
		return nil, schemaErr(ErrInvalidSchema, path, "a schema is a JSON %s, not an object", jsonKind(v))
	}
	return c.node(o, path, level, nullable, false)
}
