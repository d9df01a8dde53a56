// Package strictcheck is a test oracle: it checks a JSON Schema against
// the strict subset of OpenAI's Structured Outputs as OpenAI documents it,
// written from those rules and independently of openai.Strict, so that
// tests can check Strict's output (and the schemas guardgen sends) against
// them. Production code does not import it.
package strictcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/guardgen/guardgen/providers/openai"
)

// strictKeywords are the keywords OpenAI documents for strict Structured
// Outputs: types, objects, arrays, enum, anyOf, definitions and recursion,
// descriptions, and the string, number and array constraints listed in its
// "Supported properties".
var strictKeywords = map[string]bool{
	"type": true, "description": true, "enum": true, "const": true, "anyOf": true,
	"$ref": true, "$defs": true,
	"properties": true, "required": true, "additionalProperties": true,
	"items": true, "minItems": true, "maxItems": true,
	"pattern": true, "format": true,
	"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true, "multipleOf": true,
}

// Check reports every way schema breaks the strict subset of OpenAI's
// Structured Outputs, as documented, joined in one error (nil when it
// conforms). It is written from the documented rules, independently of
// Strict, so that tests can check Strict's output against them:
//
//   - the root is an object schema (type "object"), not anyOf or $ref;
//   - every schema is a JSON object with a type, unless it is a $ref or an
//     anyOf; a type list is one type and "null"; only documented keywords
//     appear; $defs only at the root;
//   - every object has additionalProperties: false and lists every one of
//     its properties in required;
//   - arrays have items; formats are the documented ones; a $ref is "#" or
//     "#/$defs/<name>" of an existing definition and stands alone; anyOf
//     branches are themselves valid;
//   - the limits: openai.MaxStrictProperties, MaxStrictDepth,
//     MaxStrictEnumValues, MaxStrictStringLength and the large-enum rule.
//
// Each error is an *openai.SchemaError wrapping openai.ErrNotStrict,
// openai.ErrTooLarge or openai.ErrInvalidSchema.
func Check(schema []byte) error {
	dec := json.NewDecoder(bytes.NewReader(schema))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return schemaError(openai.ErrInvalidSchema, "", "not JSON: %v", err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		return schemaError(openai.ErrNotStrict, "", "the root is a JSON %s, not an object schema", jsonKind(v))
	}
	ck := checker{}
	if d, ok := root["$defs"]; ok {
		if ck.defs, ok = d.(map[string]any); !ok {
			ck.fail(openai.ErrInvalidSchema, "/$defs", "$defs is not an object")
		}
	}
	if t, _ := root["type"].(string); t != "object" {
		ck.fail(openai.ErrNotStrict, "", "the root must have type \"object\"")
	}
	for _, k := range []string{"anyOf", "$ref"} {
		if _, ok := root[k]; ok {
			ck.fail(openai.ErrNotStrict, "", "the root must not be %s", k)
		}
	}
	ck.walk(root, "", 0)
	for _, name := range sortedKeys(ck.defs) {
		ck.strings += utf8.RuneCountInString(name)
		ck.walk(ck.defs[name], "/$defs/"+pointerEscape(name), 0)
	}
	if ck.properties > openai.MaxStrictProperties {
		ck.fail(openai.ErrTooLarge, "", "%d object properties, more than %d", ck.properties, openai.MaxStrictProperties)
	}
	if ck.enumValues > openai.MaxStrictEnumValues {
		ck.fail(openai.ErrTooLarge, "", "%d enum values, more than %d", ck.enumValues, openai.MaxStrictEnumValues)
	}
	if ck.strings > openai.MaxStrictStringLength {
		ck.fail(openai.ErrTooLarge, "", "names, enum and const values total %d characters, more than %d", ck.strings, openai.MaxStrictStringLength)
	}
	return errors.Join(ck.errs...)
}

type checker struct {
	defs       map[string]any
	properties int
	enumValues int
	strings    int
	errs       []error
}

func (ck *checker) fail(sentinel error, path, format string, args ...any) {
	ck.errs = append(ck.errs, schemaError(sentinel, path, format, args...))
}

// walk checks the schema at path; level is the nesting level of the
// enclosing object (0 outside any).
func (ck *checker) walk(v any, path string, level int) {
	s, ok := v.(map[string]any)
	if !ok {
		ck.fail(openai.ErrNotStrict, path, "a schema must be a JSON object, not a %s", jsonKind(v))
		return
	}
	for _, k := range sortedKeys(s) {
		if !strictKeywords[k] {
			ck.fail(openai.ErrNotStrict, path, "keyword %q is not supported", k)
		}
	}
	if _, ok := s["$defs"]; ok && path != "" {
		ck.fail(openai.ErrNotStrict, path, "$defs is only allowed at the root")
	}

	if ref, ok := s["$ref"]; ok {
		ck.ref(ref, path)
		if len(s) > 1 {
			ck.fail(openai.ErrNotStrict, path, "$ref must stand alone")
		}
		return
	}
	if branches, ok := s["anyOf"]; ok {
		list, ok := branches.([]any)
		if !ok || len(list) == 0 {
			ck.fail(openai.ErrNotStrict, path+"/anyOf", "anyOf must be a non-empty array")
			return
		}
		for i, b := range list {
			ck.walk(b, fmt.Sprintf("%s/anyOf/%d", path, i), level)
		}
		return
	}

	types := ck.types(s, path)
	if e, ok := s["enum"]; ok {
		ck.enum(e, path+"/enum")
	}
	if c, ok := s["const"].(string); ok {
		ck.strings += utf8.RuneCountInString(c)
	}
	if f, ok := s["format"]; ok {
		if name, _ := f.(string); !strictFormats[name] {
			ck.fail(openai.ErrNotStrict, path+"/format", "format %v is not supported", f)
		}
	}

	if slices.Contains(types, "object") {
		level++
		if level > openai.MaxStrictDepth {
			ck.fail(openai.ErrTooLarge, path, "objects nested %d levels deep, more than %d", level, openai.MaxStrictDepth)
		}
		ck.object(s, path, level)
	} else {
		for _, k := range []string{"properties", "required", "additionalProperties"} {
			if _, ok := s[k]; ok {
				ck.fail(openai.ErrNotStrict, path, "%q on a schema whose type is not object", k)
			}
		}
	}
	if slices.Contains(types, "array") {
		if items, ok := s["items"]; ok {
			ck.walk(items, path+"/items", level)
		} else {
			ck.fail(openai.ErrNotStrict, path, "an array must have items")
		}
	} else if _, ok := s["items"]; ok {
		ck.fail(openai.ErrNotStrict, path, "items on a schema whose type is not array")
	}
}

func (ck *checker) types(s map[string]any, path string) []string {
	var types []string
	switch t := s["type"].(type) {
	case nil:
		ck.fail(openai.ErrNotStrict, path, "a schema must have a type (or be a $ref or anyOf)")
	case string:
		types = []string{t}
	case []any:
		for _, e := range t {
			name, _ := e.(string)
			types = append(types, name)
		}
		if len(types) == 0 {
			ck.fail(openai.ErrNotStrict, path+"/type", "type is an empty list")
		}
	default:
		ck.fail(openai.ErrNotStrict, path+"/type", "type is a JSON %s", jsonKind(t))
	}
	if len(types) > 2 || len(types) == 2 && !slices.Contains(types, "null") {
		ck.fail(openai.ErrNotStrict, path+"/type", "a type list may only add \"null\" to one type; use anyOf")
	}
	for _, t := range types {
		switch t {
		case "string", "number", "integer", "boolean", "object", "array", "null":
		default:
			ck.fail(openai.ErrNotStrict, path+"/type", "unknown type %q", t)
		}
	}
	return types
}

func (ck *checker) object(s map[string]any, path string, level int) {
	if ap, ok := s["additionalProperties"]; !ok || ap != false {
		ck.fail(openai.ErrNotStrict, path, "an object must have additionalProperties: false")
	}
	props, ok := s["properties"].(map[string]any)
	if !ok {
		ck.fail(openai.ErrNotStrict, path, "an object must have properties")
	}
	var required []string
	if r, ok := s["required"].([]any); ok {
		for _, n := range r {
			name, _ := n.(string)
			required = append(required, name)
		}
	} else if len(props) > 0 {
		ck.fail(openai.ErrNotStrict, path, "an object must have required")
	}
	for _, name := range sortedKeys(props) {
		ck.properties++
		ck.strings += utf8.RuneCountInString(name)
		if !slices.Contains(required, name) {
			ck.fail(openai.ErrNotStrict, path+"/properties/"+pointerEscape(name), "property %q is not in required (all properties must be required; use a null type for optional ones)", name)
		}
		ck.walk(props[name], path+"/properties/"+pointerEscape(name), level)
	}
	for _, name := range required {
		if _, ok := props[name]; !ok {
			ck.fail(openai.ErrNotStrict, path+"/required", "required names %q, which is not a property", name)
		}
	}
}

func (ck *checker) enum(e any, path string) {
	list, ok := e.([]any)
	if !ok || len(list) == 0 {
		ck.fail(openai.ErrNotStrict, path, "enum must be a non-empty array")
		return
	}
	ck.enumValues += len(list)
	strs, length := 0, 0
	for _, v := range list {
		if s, ok := v.(string); ok {
			strs++
			length += utf8.RuneCountInString(s)
		}
	}
	ck.strings += length
	if strs > openai.StrictLargeEnum && length > openai.MaxStrictLargeEnumLength {
		ck.fail(openai.ErrTooLarge, path, "%d string values totalling %d characters, more than %d", strs, length, openai.MaxStrictLargeEnumLength)
	}
}

func (ck *checker) ref(ref any, path string) {
	s, _ := ref.(string)
	if s == "#" {
		return
	}
	name, ok := strings.CutPrefix(s, "#/$defs/")
	if !ok || strings.Contains(name, "/") {
		ck.fail(openai.ErrNotStrict, path+"/$ref", "$ref %v is not \"#\" or \"#/$defs/<name>\"", ref)
		return
	}
	if _, ok := ck.defs[pointerUnescape(name)]; !ok {
		ck.fail(openai.ErrNotStrict, path+"/$ref", "$ref %q names no definition", s)
	}
}

func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

// strictFormats are the string formats OpenAI documents for strict mode.
var strictFormats = map[string]bool{
	"date-time": true, "time": true, "date": true, "duration": true, "email": true,
	"hostname": true, "ipv4": true, "ipv6": true, "uuid": true,
}

func schemaError(sentinel error, path, format string, args ...any) error {
	return &openai.SchemaError{Path: path, Reason: fmt.Sprintf(format, args...), Err: sentinel}
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func pointerEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func pointerUnescape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}
