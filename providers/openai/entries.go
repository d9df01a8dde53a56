package openai

import (
	"strconv"
	"strings"

	"github.com/guardgen/guardgen/internal/orderedjson"
)

// maxEntriesDepth bounds how deep FromEntries follows the answer; guardgen
// bounds output size, and strict mode bounds nesting far below this.
const maxEntriesDepth = 128

// FromEntries undoes Strict's map conversion on a model's answer: every
// value that schema (the schema before Strict) declares a map, and that the
// answer holds as a list of {"key", "value"} entries, becomes a JSON
// object again. It returns the new answer and the JSON Pointers of the
// converted maps. An answer that is not JSON, or has no entries where a map
// is declared, comes back unchanged (nil pointers), for the extractor and
// validator to judge; when a key repeats, its last entry wins, as in a JSON
// object decoded by protojson's rules for duplicates it would not accept.
func FromEntries(answer, schema []byte) ([]byte, []string) {
	s, err := orderedjson.Parse(schema)
	if err != nil {
		return answer, nil
	}
	root, ok := s.(*orderedjson.Object)
	if !ok {
		return answer, nil
	}
	return fromEntries(answer, root)
}

func fromEntries(answer []byte, root *orderedjson.Object) ([]byte, []string) {
	v, err := orderedjson.Parse(answer)
	if err != nil {
		return answer, nil
	}
	u := unentries{root: root}
	if d, ok := root.Get("$defs"); ok {
		u.defs, _ = d.(*orderedjson.Object)
	}
	v = u.value(v, root, "", 0)
	if len(u.paths) == 0 {
		return answer, nil
	}
	return orderedjson.Append(nil, v), u.paths
}

// unentries walks an answer alongside its original schema.
type unentries struct {
	root, defs *orderedjson.Object
	paths      []string
}

func (u *unentries) value(v, schema any, ptr string, depth int) any {
	s, ok := schema.(*orderedjson.Object)
	if !ok || depth > maxEntriesDepth || v == nil {
		return v
	}
	if ref, ok := s.Get("$ref"); ok {
		return u.value(v, u.resolve(ref), ptr, depth+1)
	}
	if isMap(s) {
		valueSchema, _ := s.Get("additionalProperties")
		switch val := v.(type) {
		case []any:
			if obj, ok := u.entries(val, valueSchema, ptr, depth); ok {
				u.paths = append(u.paths, pointerOrRoot(ptr))
				return obj
			}
		case *orderedjson.Object:
			for _, k := range val.Keys() {
				val.Set(k, u.value(val.Value(k), valueSchema, ptr+"/"+pointerEscape(k), depth+1))
			}
		}
		return v
	}
	switch val := v.(type) {
	case *orderedjson.Object:
		if props, ok := s.Get("properties"); ok {
			if p, ok := props.(*orderedjson.Object); ok {
				for _, k := range val.Keys() {
					if ps, ok := p.Get(k); ok {
						val.Set(k, u.value(val.Value(k), ps, ptr+"/"+pointerEscape(k), depth+1))
					}
				}
			}
		}
	case []any:
		if items, ok := s.Get("items"); ok {
			for i := range val {
				val[i] = u.value(val[i], items, ptr+"/"+strconv.Itoa(i), depth+1)
			}
		}
	}
	// A branch whose shape does not fit the value leaves it as it is.
	for _, key := range []string{"anyOf", "oneOf"} {
		if branches, ok := s.Get(key); ok {
			list, _ := branches.([]any)
			for _, b := range list {
				v = u.value(v, b, ptr, depth+1)
			}
		}
	}
	return v
}

// entries turns a list of {"key", "value"} objects into an object, or
// reports that list is not one.
func (u *unentries) entries(list []any, valueSchema any, ptr string, depth int) (*orderedjson.Object, bool) {
	obj := orderedjson.New(len(list))
	for _, e := range list {
		eo, ok := e.(*orderedjson.Object)
		if !ok {
			return nil, false
		}
		k, ok := eo.Get("key")
		key, isString := k.(string)
		if !ok || !isString {
			return nil, false
		}
		val, ok := eo.Get("value")
		if !ok {
			return nil, false
		}
		obj.Set(key, u.value(val, valueSchema, ptr+"/"+pointerEscape(key), depth+1))
	}
	return obj, true
}

// resolve follows "#" or "#/$defs/<name>"; anything else resolves to nil,
// which leaves the value alone.
func (u *unentries) resolve(ref any) any {
	s, _ := ref.(string)
	if s == "#" {
		return u.root
	}
	name, ok := strings.CutPrefix(s, "#/$defs/")
	if !ok || u.defs == nil {
		return nil
	}
	d, _ := u.defs.Get(pointerUnescape(name))
	return d
}

func pointerOrRoot(ptr string) string {
	if ptr == "" {
		return "/"
	}
	return ptr
}
