package openai

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/guardgen/guardgen/internal/orderedjson"
)

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
