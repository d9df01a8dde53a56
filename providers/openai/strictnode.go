package openai

import (
	"fmt"
	"slices"

	"github.com/guardgen/guardgen/internal/orderedjson"
)

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
// It reads as the order in which strict mode's rules apply: supported
// keywords, $ref, maps, branches next to other keywords, type lists,
// anyOf, and last a schema of one type.
func (c *converter) node(o *orderedjson.Object, path string, level int, nullable, root bool) (any, error) {
	if err := checkKeywords(o, path, root); err != nil {
		return nil, err
	}
	desc, err := optString(o, "description", path)
	if err != nil {
		return nil, err
	}
	if ref, ok := o.Get("$ref"); ok {
		return c.ref(o, ref, path, desc, nullable)
	}
	types, err := c.types(o, path)
	if err != nil {
		return nil, err
	}
	isObject := slices.Contains(types, "object")
	if isObject && isMap(o) {
		if nonNull := slices.DeleteFunc(slices.Clone(types), isNull); len(nonNull) > 1 {
			return nil, schemaErr(ErrNotStrict, path, "a map that may also be another type")
		}
		return c.mapEntries(o, path, level, nullable || slices.Contains(types, "null"), desc)
	}
	if o.Has("allOf") && !(isObject && isOneOfList(o)) {
		return nil, schemaErr(ErrNotStrict, path, "allOf is supported only as a list of required-list oneOfs on an object")
	}
	vals, err := c.values(o, path)
	if err != nil {
		return nil, err
	}
	if len(types) == 0 {
		types = vals.types()
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
	nonNull := slices.DeleteFunc(slices.Clone(types), isNull)
	switch {
	case hasBranches && (len(types) > 0 || vals.set()):
		distributed, err := distribute(o, branches, hasOneOf && !requiredOneOf, path)
		if err != nil {
			return nil, err
		}
		return c.node(distributed, path, level, nullable, false)
	case len(nonNull) > 1 && vals.set():
		return nil, schemaErr(ErrNotStrict, path, "enum or const of several types")
	case len(nonNull) > 1:
		return c.split(o, path, level, nullable || len(nonNull) < len(types), nonNull, desc)
	case requiredOneOf && !isObject:
		return nil, schemaErr(ErrNotStrict, path+"/oneOf", "a oneOf of required lists outside an object")
	case hasBranches:
		return c.anyOf(branches, path, level, nullable, desc)
	case len(types) == 0:
		return nil, schemaErr(ErrNotStrict, path, "free-form value (no type, enum, const, anyOf or $ref)")
	}
	return c.typed(o, typedSchema{types: types, vals: vals, requiredOneOf: requiredOneOf, desc: desc}, path, level, nullable)
}

// checkKeywords refuses keywords strict mode cannot take or restate.
func checkKeywords(o *orderedjson.Object, path string, root bool) error {
	for _, k := range o.Keys() {
		if !annotations[k] && !handled[k] && !slices.Contains(passThrough, k) {
			return schemaErr(ErrNotStrict, path, "keyword %q is not supported", k)
		}
	}
	if o.Has("$defs") && !root {
		return schemaErr(ErrNotStrict, path, "$defs is only supported at the root")
	}
	return nil
}

// ref converts a $ref, which stands alone in strict mode: a description
// next to it moves into a wrapping anyOf.
func (c *converter) ref(o *orderedjson.Object, ref any, path, desc string, nullable bool) (any, error) {
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
	return wrap(orderedjson.New(1).Set("$ref", ref), desc, nullable), nil
}

// values are a schema's enum and const.
type values struct {
	enum     []any
	konst    any
	hasConst bool
}

// set reports whether the schema has an enum or a const.
func (v values) set() bool { return v.enum != nil || v.hasConst }

// types infers the type strict mode wants from the values.
func (v values) types() []string {
	switch {
	case v.enum != nil:
		return valueTypes(v.enum)
	case v.hasConst:
		return valueTypes([]any{v.konst})
	}
	return nil
}

// values reads o's enum and const and counts them against the limits.
func (c *converter) values(o *orderedjson.Object, path string) (values, error) {
	var v values
	if e, ok := o.Get("enum"); ok {
		if v.enum, ok = e.([]any); !ok || len(v.enum) == 0 {
			return v, schemaErr(ErrInvalidSchema, path+"/enum", "enum is not a non-empty array")
		}
		if err := c.countEnum(v.enum, path+"/enum"); err != nil {
			return v, err
		}
		v.enum = slices.Clone(v.enum)
	}
	v.konst, v.hasConst = o.Get("const")
	if s, ok := v.konst.(string); ok {
		c.addString(s)
	}
	return v, nil
}

// anyOf converts each branch, adding a null branch when nullable.
func (c *converter) anyOf(branches any, path string, level int, nullable bool, desc string) (any, error) {
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
	out := orderedjson.New(2)
	if desc != "" {
		out.Set("description", desc)
	}
	return out.Set("anyOf", conv), nil
}

// typedSchema is what node learned of a schema of one type (and maybe
// null).
type typedSchema struct {
	types         []string
	vals          values
	requiredOneOf bool
	desc          string
}

// typed converts a schema of one type: its object properties or array
// items, its string constraints restated as notes where strict mode does
// not take them, and nullability.
func (c *converter) typed(o *orderedjson.Object, t typedSchema, path string, level int, nullable bool) (any, error) {
	isObject, isArray := slices.Contains(t.types, "object"), slices.Contains(t.types, "array")
	var notes []string
	var props *orderedjson.Object
	var err error
	if isObject {
		level++
		if level > MaxStrictDepth {
			return nil, schemaErr(ErrTooLarge, path, "objects nested %d levels deep, more than %d", level, MaxStrictDepth)
		}
		if props, notes, err = c.object(o, path, level, t.requiredOneOf, notes); err != nil {
			return nil, err
		}
	} else {
		for _, k := range []string{"properties", "additionalProperties", "required", "propertyNames"} {
			if o.Has(k) {
				return nil, schemaErr(ErrNotStrict, path, "%q on a schema that is not an object", k)
			}
		}
	}
	items, notes, err := c.items(o, path, level, isArray, notes)
	if err != nil {
		return nil, err
	}
	format, notes, err := stringNotes(o, path, notes)
	if err != nil {
		return nil, err
	}

	// Nullable: plain scalars get "null" in their type, as OpenAI's guide
	// shows; objects, arrays, enums and consts are wrapped in anyOf with
	// {"type": "null"}, which leaves their own keywords untouched.
	types, wrapNull := t.types, false
	if nullable && !slices.Contains(types, "null") {
		if isObject || isArray || t.vals.set() {
			wrapNull = true
		} else {
			types = append(types, "null")
		}
	}

	// Emit in a fixed order: type, description, values, shape, constraints.
	out := orderedjson.New(o.Len() + 3)
	if len(types) == 1 {
		out.Set("type", types[0])
	} else {
		out.Set("type", types)
	}
	desc := joinNotes(t.desc, notes)
	if desc != "" && !wrapNull {
		out.Set("description", desc)
	}
	if t.vals.enum != nil {
		out.Set("enum", t.vals.enum)
	}
	if t.vals.hasConst {
		out.Set("const", t.vals.konst)
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
		return wrap(out, desc, true), nil
	}
	return out, nil
}

// items converts an array's items; uniqueItems, which strict mode does not
// take, becomes a note.
func (c *converter) items(o *orderedjson.Object, path string, level int, isArray bool, notes []string) (any, []string, error) {
	if !isArray {
		if o.Has("items") {
			return nil, nil, schemaErr(ErrNotStrict, path, "items on a schema that is not an array")
		}
		return nil, notes, nil
	}
	it, ok := o.Get("items")
	if !ok {
		return nil, nil, schemaErr(ErrNotStrict, path, "array without items (free-form items)")
	}
	items, err := c.schema(it, path+"/items", level, false)
	if err != nil {
		return nil, nil, err
	}
	if u, _ := o.Get("uniqueItems"); u == true {
		notes = append(notes, "Items must be unique.")
	}
	return items, notes, nil
}

// stringNotes returns the format strict mode supports ("" for another,
// which becomes a note) and notes restating lengths and encodings.
func stringNotes(o *orderedjson.Object, path string, notes []string) (string, []string, error) {
	format, err := optString(o, "format", path)
	if err != nil {
		return "", nil, err
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
	return format, notes, nil
}
