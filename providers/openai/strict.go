package openai

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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

// Keyword classes.
var (
	// annotations carry no constraint; strict mode does not take them.
	annotations = map[string]bool{
		"$schema": true, "$id": true, "$comment": true, "$anchor": true, "title": true, "default": true,
		"examples": true, "deprecated": true, "readOnly": true, "writeOnly": true, "contentMediaType": true,
	}
	// passThrough are constraints strict mode supports as they are.
	passThrough = []string{
		"minItems", "maxItems", "pattern", "minimum", "exclusiveMinimum",
		"maximum", "exclusiveMaximum", "multipleOf",
	}
	// handled are the keywords node treats one by one.
	handled = map[string]bool{
		"$ref": true, "$defs": true, "type": true, "description": true, "enum": true, "const": true,
		"anyOf": true, "oneOf": true, "properties": true, "required": true, "additionalProperties": true,
		"propertyNames": true, "minProperties": true, "maxProperties": true, "items": true,
		"format": true, "minLength": true, "maxLength": true, "contentEncoding": true, "uniqueItems": true,
		"allOf": true,
	}
)

// node converts one schema object. level is the object nesting level of the
// enclosing object (0 outside any); nullable makes the result accept null.
func (c *converter) node(o *orderedjson.Object, path string, level int, nullable, root bool) (any, error) {
	for _, k := range o.Keys() {
		if !annotations[k] && !handled[k] && !slices.Contains(passThrough, k) {
			return nil, schemaErr(ErrNotStrict, path, "keyword %q is not supported", k)
		}
	}
	if o.Has("$defs") && !root {
		return nil, schemaErr(ErrNotStrict, path, "$defs is only supported at the root")
	}
	desc, err := optString(o, "description", path)
	if err != nil {
		return nil, err
	}
	var notes []string

	if ref, ok := o.Get("$ref"); ok {
		for _, k := range o.Keys() {
			if k != "$ref" && k != "description" && !annotations[k] {
				return nil, schemaErr(ErrNotStrict, path, "$ref with sibling keyword %q", k)
			}
		}
		if ref != "#" {
			if _, err := c.resolve(ref, path+"/$ref"); err != nil {
				return nil, err
			}
		}
		out := orderedjson.New(1)
		out.Set("$ref", ref)
		return wrap(out, desc, nullable), nil
	}

	types, err := c.types(o, path)
	if err != nil {
		return nil, err
	}
	isObject := slices.Contains(types, "object")
	isArray := slices.Contains(types, "array")
	if isObject && isMap(o) {
		if nonNull := slices.DeleteFunc(slices.Clone(types), isNull); len(nonNull) > 1 {
			return nil, schemaErr(ErrNotStrict, path, "a map that may also be another type")
		}
		return c.mapEntries(o, path, level, nullable || slices.Contains(types, "null"), desc)
	}
	if o.Has("allOf") && !(isObject && isOneOfList(o)) {
		return nil, schemaErr(ErrNotStrict, path, "allOf is supported only as a list of required-list oneOfs on an object")
	}

	out := orderedjson.New(o.Len() + 3)

	// enum and const: count them, and infer the type strict mode wants.
	var enum []any
	if e, ok := o.Get("enum"); ok {
		if enum, ok = e.([]any); !ok || len(enum) == 0 {
			return nil, schemaErr(ErrInvalidSchema, path+"/enum", "enum is not a non-empty array")
		}
		if err := c.countEnum(enum, path+"/enum"); err != nil {
			return nil, err
		}
		enum = slices.Clone(enum)
	}
	constVal, hasConst := o.Get("const")
	if s, ok := constVal.(string); ok {
		c.addString(s)
	}
	if len(types) == 0 {
		switch {
		case enum != nil:
			types = valueTypes(enum)
		case hasConst:
			types = valueTypes([]any{constVal})
		}
	}

	// anyOf, or oneOf of schemas (not of required-lists), become anyOf.
	branches, hasBranches := o.Get("anyOf")
	oneOf, hasOneOf := o.Get("oneOf")
	requiredOneOf := hasOneOf && isRequiredLists(oneOf)
	if hasOneOf && !requiredOneOf {
		if hasBranches {
			return nil, schemaErr(ErrNotStrict, path, "both anyOf and oneOf")
		}
		branches, hasBranches = oneOf, true
	}
	if hasBranches && (len(types) > 0 || enum != nil || hasConst) {
		distributed, err := distribute(o, branches, hasOneOf && !requiredOneOf, path)
		if err != nil {
			return nil, err
		}
		return c.node(distributed, path, level, nullable, false)
	}
	if nonNull := slices.DeleteFunc(slices.Clone(types), isNull); len(nonNull) > 1 {
		if enum != nil || hasConst {
			return nil, schemaErr(ErrNotStrict, path, "enum or const of several types")
		}
		return c.split(o, path, level, nullable || len(nonNull) < len(types), nonNull, desc)
	}
	if requiredOneOf && !isObject {
		return nil, schemaErr(ErrNotStrict, path+"/oneOf", "a oneOf of required lists outside an object")
	}

	if hasBranches {
		list, ok := branches.([]any)
		if !ok || len(list) == 0 {
			return nil, schemaErr(ErrInvalidSchema, path+"/anyOf", "anyOf is not a non-empty array")
		}
		conv := make([]any, 0, len(list)+1)
		for i, b := range list {
			cb, err := c.schema(b, fmt.Sprintf("%s/anyOf/%d", path, i), level, false)
			if err != nil {
				return nil, err
			}
			conv = append(conv, cb)
		}
		if nullable && !slices.ContainsFunc(conv, isNullSchema) {
			conv = append(conv, nullSchema())
		}
		if desc != "" {
			out.Set("description", desc)
		}
		out.Set("anyOf", conv)
		return out, nil
	}

	if len(types) == 0 {
		return nil, schemaErr(ErrNotStrict, path, "free-form value (no type, enum, const, anyOf or $ref)")
	}

	// Objects.
	var props *orderedjson.Object
	if isObject {
		level++
		if level > MaxStrictDepth {
			return nil, schemaErr(ErrTooLarge, path, "objects nested %d levels deep, more than %d", level, MaxStrictDepth)
		}
		props, notes, err = c.object(o, path, level, requiredOneOf, notes)
		if err != nil {
			return nil, err
		}
	} else {
		for _, k := range []string{"properties", "additionalProperties", "required", "propertyNames"} {
			if o.Has(k) {
				return nil, schemaErr(ErrNotStrict, path, "%q on a schema that is not an object", k)
			}
		}
	}

	// Arrays.
	var items any
	if isArray {
		it, ok := o.Get("items")
		if !ok {
			return nil, schemaErr(ErrNotStrict, path, "array without items (free-form items)")
		}
		if items, err = c.schema(it, path+"/items", level, false); err != nil {
			return nil, err
		}
		if u, _ := o.Get("uniqueItems"); u == true {
			notes = append(notes, "Items must be unique.")
		}
	} else if o.Has("items") {
		return nil, schemaErr(ErrNotStrict, path, "items on a schema that is not an array")
	}

	// Strings.
	format, err := optString(o, "format", path)
	if err != nil {
		return nil, err
	}
	if format != "" && !strictFormats[format] {
		notes = append(notes, fmt.Sprintf("Format: %s.", format))
		format = ""
	}
	if n := lengthNote(o); n != "" {
		notes = append(notes, n)
	}
	if enc, _ := o.Get("contentEncoding"); enc != nil {
		notes = append(notes, fmt.Sprintf("Encoding: %v.", enc))
	}

	// Nullable: plain scalars get "null" in their type, as OpenAI's guide
	// shows; objects, arrays, enums and consts are wrapped in anyOf with
	// {"type": "null"}, which leaves their own keywords untouched.
	wrapNull := false
	if nullable && !slices.Contains(types, "null") {
		if isObject || isArray || enum != nil || hasConst {
			wrapNull = true
		} else {
			types = append(types, "null")
		}
	}

	// Emit in a fixed order: type, description, values, shape, constraints.
	if len(types) == 1 {
		out.Set("type", types[0])
	} else {
		out.Set("type", types)
	}
	if d := joinNotes(desc, notes); d != "" && !wrapNull {
		out.Set("description", d)
	}
	if enum != nil {
		out.Set("enum", enum)
	}
	if hasConst {
		out.Set("const", constVal)
	}
	if props != nil {
		out.Set("properties", props)
		out.Set("required", slices.Clone(props.Keys()))
		out.Set("additionalProperties", false)
	}
	if items != nil {
		out.Set("items", items)
	}
	for _, k := range passThrough {
		if v, ok := o.Get(k); ok {
			out.Set(k, v)
		}
	}
	if format != "" {
		out.Set("format", format)
	}
	if wrapNull {
		return wrap(out, joinNotes(desc, notes), true), nil
	}
	return out, nil
}

// keywordKind says which type a keyword constrains; the others apply to
// any type.
var keywordKind = map[string]string{
	"pattern": "string", "format": "string", "minLength": "string", "maxLength": "string", "contentEncoding": "string",
	"minimum": "number", "maximum": "number", "exclusiveMinimum": "number", "exclusiveMaximum": "number", "multipleOf": "number",
	"items": "array", "minItems": "array", "maxItems": "array", "uniqueItems": "array",
	"properties": "object", "required": "object", "additionalProperties": "object", "propertyNames": "object",
	"minProperties": "object", "maxProperties": "object", "oneOf": "object",
}

// split turns a multi-type schema such as {"type": ["integer", "string"]}
// (protojson's int64) into anyOf with one branch per type, each with the
// keywords that constrain it: OpenAI's guide only shows type lists of one
// type and null.
func (c *converter) split(o *orderedjson.Object, path string, level int, nullable bool, types []string, desc string) (any, error) {
	branches := make([]any, 0, len(types)+1)
	for _, t := range types {
		one := orderedjson.New(o.Len())
		for _, k := range o.Keys() {
			kind, typed := keywordKind[k]
			if k == "type" || k == "description" || typed && kind != t && (kind != "number" || t != "integer") {
				continue
			}
			one.Set(k, o.Value(k))
		}
		one.Set("type", t)
		b, err := c.node(one, path, level, false, false)
		if err != nil {
			return nil, err
		}
		branches = append(branches, b)
	}
	if nullable {
		branches = append(branches, nullSchema())
	}
	out := orderedjson.New(2)
	if desc != "" {
		out.Set("description", desc)
	}
	out.Set("anyOf", branches)
	return out, nil
}

func isNull(t string) bool { return t == "null" }

// object converts properties, optional ones to nullable: the caller lists
// every property in required.
func (c *converter) object(o *orderedjson.Object, path string, level int, requiredOneOf bool, notes []string) (*orderedjson.Object, []string, error) {
	var in *orderedjson.Object
	if p, ok := o.Get("properties"); ok {
		if in, ok = p.(*orderedjson.Object); !ok {
			return nil, nil, schemaErr(ErrInvalidSchema, path+"/properties", "properties is not an object")
		}
	}
	switch ap, _ := o.Get("additionalProperties"); ap {
	case false:
	case nil, true:
		if in == nil {
			return nil, nil, schemaErr(ErrNotStrict, path, "free-form object (no properties, additional properties allowed)")
		}
		// Extra keys were allowed only by omission; guardgen decodes
		// proto messages, which have no extra keys.
	default:
		return nil, nil, schemaErr(ErrNotStrict, path+"/additionalProperties",
			"a map (additionalProperties with a schema) cannot be strict: every strict object has additionalProperties false")
	}
	if n, ok := o.Get("minProperties"); ok {
		notes = append(notes, fmt.Sprintf("At least %v properties.", n))
	}
	if n, ok := o.Get("maxProperties"); ok {
		notes = append(notes, fmt.Sprintf("At most %v properties.", n))
	}

	was := map[string]bool{}
	if r, ok := o.Get("required"); ok {
		list, ok := r.([]any)
		if !ok {
			return nil, nil, schemaErr(ErrInvalidSchema, path+"/required", "required is not an array")
		}
		for _, n := range list {
			name, ok := n.(string)
			if !ok || in == nil || !in.Has(name) {
				return nil, nil, schemaErr(ErrInvalidSchema, path+"/required", "required names %v, which is not a property", n)
			}
			was[name] = true
		}
	}

	props := orderedjson.New(0)
	if in != nil {
		props = orderedjson.New(in.Len())
		for _, name := range in.Keys() {
			c.properties++
			c.addString(name)
			p, err := c.schema(in.Value(name), path+"/properties/"+pointerEscape(name), level, !was[name])
			if err != nil {
				return nil, nil, err
			}
			props.Set(name, p)
		}
	}
	if requiredOneOf {
		oneOf, _ := o.Get("oneOf")
		notes = append(notes, exactlyOneNote(oneOf))
	}
	if all, ok := o.Get("allOf"); ok {
		for _, item := range all.([]any) { // isOneOfList checked the shape
			oneOf, _ := item.(*orderedjson.Object).Get("oneOf")
			notes = append(notes, exactlyOneNote(oneOf))
		}
	}
	return props, notes, nil
}

func exactlyOneNote(oneOf any) string {
	return fmt.Sprintf("Exactly one of %s must be non-null; set the others to null.", strings.Join(oneOfNames(oneOf), ", "))
}

// isOneOfList reports whether o's allOf lists only oneOfs of required
// lists: how guardgen writes a message with several proto oneofs.
func isOneOfList(o *orderedjson.Object) bool {
	all, ok := o.Get("allOf")
	list, isList := all.([]any)
	if !ok || !isList || len(list) == 0 {
		return false
	}
	for _, item := range list {
		io, ok := item.(*orderedjson.Object)
		if !ok || io.Len() != 1 {
			return false
		}
		oneOf, ok := io.Get("oneOf")
		if !ok || !isRequiredLists(oneOf) {
			return false
		}
	}
	return true
}

// isMap reports whether o is a map: an object whose additionalProperties
// is a schema rather than a boolean.
func isMap(o *orderedjson.Object) bool {
	ap, _ := o.Get("additionalProperties")
	_, ok := ap.(*orderedjson.Object)
	return ok
}

// mapEntries converts a map into an array of {"key", "value"} entries, which
// strict mode can constrain; FromEntries reverses it on the answer.
func (c *converter) mapEntries(o *orderedjson.Object, path string, level int, nullable bool, desc string) (any, error) {
	if o.Has("properties") {
		return nil, schemaErr(ErrNotStrict, path, "a map with fixed properties besides")
	}
	c.maps++
	value, _ := o.Get("additionalProperties")
	key := orderedjson.New(4)
	key.Set("type", "string")
	if pn, ok := o.Get("propertyNames"); ok {
		names, ok := pn.(*orderedjson.Object)
		if !ok {
			return nil, schemaErr(ErrInvalidSchema, path+"/propertyNames", "propertyNames is not a schema object")
		}
		// Keys are strings in JSON whatever the proto key type; keep the
		// keywords that constrain a string.
		for _, k := range []string{"description", "pattern", "minLength", "maxLength", "format", "enum"} {
			if v, ok := names.Get(k); ok {
				key.Set(k, v)
			}
		}
	}
	entryProps := orderedjson.New(2)
	entryProps.Set("key", key)
	entryProps.Set("value", value)
	entry := orderedjson.New(4)
	entry.Set("type", "object")
	entry.Set("properties", entryProps)
	entry.Set("required", []any{"key", "value"})
	entry.Set("additionalProperties", false)
	list := orderedjson.New(5)
	list.Set("type", "array")
	list.Set("description", joinNotes(desc, []string{"A map, as a list of key/value entries with unique keys."}))
	list.Set("items", entry)
	if n, ok := o.Get("minProperties"); ok {
		list.Set("minItems", n)
	}
	if n, ok := o.Get("maxProperties"); ok {
		list.Set("maxItems", n)
	}
	return c.node(list, path, level, nullable, false)
}

// distribute rewrites {k: v, ..., "anyOf": [b1, b2]} as {"anyOf": [{k: v,
// ..., b1...}, {k: v, ..., b2...}]}: the same instances, in the form strict
// mode takes (anyOf alone). A keyword both the branch and its siblings set
// differently cannot be merged that way.
func distribute(o *orderedjson.Object, branches any, fromOneOf bool, path string) (*orderedjson.Object, error) {
	list, ok := branches.([]any)
	if !ok || len(list) == 0 {
		return nil, schemaErr(ErrInvalidSchema, path+"/anyOf", "anyOf is not a non-empty array")
	}
	branchKey := "anyOf"
	if fromOneOf {
		branchKey = "oneOf"
	}
	out := orderedjson.New(2)
	merged := make([]any, 0, len(list))
	for i, b := range list {
		bo, ok := b.(*orderedjson.Object)
		if !ok {
			return nil, schemaErr(ErrNotStrict, fmt.Sprintf("%s/%s/%d", path, branchKey, i), "a branch next to other keywords is not a schema object")
		}
		m := orderedjson.New(o.Len() + bo.Len())
		for _, k := range o.Keys() {
			if k != branchKey && k != "description" {
				m.Set(k, o.Value(k))
			}
		}
		for _, k := range bo.Keys() {
			if prev, ok := m.Get(k); ok && !sameJSON(prev, bo.Value(k)) {
				return nil, schemaErr(ErrNotStrict, fmt.Sprintf("%s/%s/%d", path, branchKey, i), "keyword %q set both in the branch and next to it", k)
			}
			m.Set(k, bo.Value(k))
		}
		merged = append(merged, m)
	}
	if d, ok := o.Get("description"); ok {
		out.Set("description", d)
	}
	out.Set("anyOf", merged)
	return out, nil
}

// types returns the schema's type keyword as a list.
func (c *converter) types(o *orderedjson.Object, path string) ([]string, error) {
	t, ok := o.Get("type")
	if !ok {
		if o.Has("properties") || o.Has("additionalProperties") {
			return []string{"object"}, nil
		}
		if o.Has("items") {
			return []string{"array"}, nil
		}
		return nil, nil
	}
	var list []string
	switch t := t.(type) {
	case string:
		list = []string{t}
	case []any:
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, schemaErr(ErrInvalidSchema, path+"/type", "type lists a %s", jsonKind(e))
			}
			if !slices.Contains(list, s) {
				list = append(list, s)
			}
		}
	default:
		return nil, schemaErr(ErrInvalidSchema, path+"/type", "type is a JSON %s", jsonKind(t))
	}
	if len(list) == 0 {
		return nil, schemaErr(ErrInvalidSchema, path+"/type", "type is empty")
	}
	for _, s := range list {
		switch s {
		case "string", "number", "integer", "boolean", "object", "array", "null":
		default:
			return nil, schemaErr(ErrInvalidSchema, path+"/type", "unknown type %q", s)
		}
	}
	return list, nil
}

// countEnum adds enum's values to the totals and checks the large-enum rule.
func (c *converter) countEnum(enum []any, path string) error {
	c.enumValues += len(enum)
	strs, length := 0, 0
	for _, v := range enum {
		if s, ok := v.(string); ok {
			strs++
			length += utf8.RuneCountInString(s)
		}
	}
	c.strings += length
	if strs > StrictLargeEnum && length > MaxStrictLargeEnumLength {
		return schemaErr(ErrTooLarge, path, "%d string values totalling %d characters, more than %d", strs, length, MaxStrictLargeEnumLength)
	}
	return nil
}

// isRequiredLists reports whether v is a oneOf whose branches only name
// required properties: the JSON Schema form of a proto oneof.
func isRequiredLists(v any) bool {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return false
	}
	for _, b := range list {
		o, ok := b.(*orderedjson.Object)
		if !ok || o.Len() != 1 || !o.Has("required") {
			return false
		}
	}
	return true
}

// oneOfNames returns the property names a oneOf of required-lists names.
func oneOfNames(v any) []string {
	list, _ := v.([]any)
	names := make([]string, 0, len(list))
	for _, b := range list {
		req, _ := b.(*orderedjson.Object).Get("required")
		r, _ := req.([]any)
		for _, n := range r {
			if s, ok := n.(string); ok {
				names = append(names, s)
			}
		}
	}
	return names
}

// lengthNote restates minLength and maxLength, which strict mode does not
// take.
func lengthNote(o *orderedjson.Object) string {
	lo, hasLo := o.Get("minLength")
	hi, hasHi := o.Get("maxLength")
	switch {
	case hasLo && hasHi:
		return fmt.Sprintf("Between %v and %v characters.", lo, hi)
	case hasLo:
		return fmt.Sprintf("At least %v %s.", lo, characters(lo))
	case hasHi:
		return fmt.Sprintf("At most %v %s.", hi, characters(hi))
	}
	return ""
}

func characters(n any) string {
	if fmt.Sprint(n) == "1" {
		return "character"
	}
	return "characters"
}

// valueTypes returns the JSON types of enum or const values.
func valueTypes(values []any) []string {
	var types []string
	add := func(t string) {
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	for _, v := range values {
		switch v := v.(type) {
		case string:
			add("string")
		case bool:
			add("boolean")
		case nil:
			add("null")
		case json.Number:
			if _, err := v.Int64(); err == nil {
				add("integer")
			} else {
				add("number")
			}
		default:
			return nil // objects and arrays: leave it to the model
		}
	}
	if slices.Contains(types, "integer") && slices.Contains(types, "number") {
		types = slices.DeleteFunc(types, func(t string) bool { return t == "integer" })
	}
	return types
}

// wrap makes node nullable with anyOf and/or attaches a description next
// to it; a $ref cannot carry siblings itself.
func wrap(node *orderedjson.Object, desc string, nullable bool) any {
	if !nullable && desc == "" {
		return node
	}
	out := orderedjson.New(2)
	if desc != "" {
		out.Set("description", desc)
	}
	branches := []any{node}
	if nullable {
		branches = append(branches, nullSchema())
	}
	out.Set("anyOf", branches)
	return out
}

func nullSchema() *orderedjson.Object {
	o := orderedjson.New(1)
	o.Set("type", "null")
	return o
}

func isNullSchema(v any) bool {
	o, ok := v.(*orderedjson.Object)
	if !ok {
		return false
	}
	t, _ := o.Get("type")
	return o.Len() == 1 && t == "null"
}

func joinNotes(desc string, notes []string) string {
	if len(notes) == 0 {
		return desc
	}
	if desc == "" {
		return strings.Join(notes, " ")
	}
	return desc + " " + strings.Join(notes, " ")
}

func optString(o *orderedjson.Object, key, path string) (string, error) {
	v, ok := o.Get(key)
	if !ok {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", schemaErr(ErrInvalidSchema, path+"/"+key, "%s is not a string", key)
	}
	return s, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case *orderedjson.Object:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number, float64:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// sameJSON reports whether a and b, as orderedjson.Parse returns values,
// are written alike.
func sameJSON(a, b any) bool {
	return string(orderedjson.Append(nil, a)) == string(orderedjson.Append(nil, b))
}

func pointerEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func pointerUnescape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}
