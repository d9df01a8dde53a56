package openai

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/guardgen/guardgen/internal/orderedjson"
)

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
