package openai

import (
	"strconv"
	"strings"
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
	s, err := parseJSON(schema)
	if err != nil {
		return answer, nil
	}
	root, ok := s.(*object)
	if !ok {
		return answer, nil
	}
	return fromEntries(answer, root)
}

func fromEntries(answer []byte, root *object) ([]byte, []string) {
	v, err := parseJSON(answer)
	if err != nil {
		return answer, nil
	}
	u := unentries{root: root}
	if d, ok := root.get("$defs"); ok {
		u.defs, _ = d.(*object)
	}
	v = u.value(v, root, "", 0)
	if len(u.paths) == 0 {
		return answer, nil
	}
	out, err := marshalJSON(v)
	if err != nil {
		return answer, nil
	}
	return out, u.paths
}

// unentries walks an answer alongside its original schema.
type unentries struct {
	root, defs *object
	paths      []string
}

func (u *unentries) value(v, schema any, ptr string, depth int) any {
	s, ok := schema.(*object)
	if !ok || depth > maxEntriesDepth || v == nil {
		return v
	}
	if ref, ok := s.get("$ref"); ok {
		return u.value(v, u.resolve(ref), ptr, depth+1)
	}
	if isMap(s) {
		valueSchema, _ := s.get("additionalProperties")
		switch val := v.(type) {
		case []any:
			if obj, ok := u.entries(val, valueSchema, ptr, depth); ok {
				u.paths = append(u.paths, pointerOrRoot(ptr))
				return obj
			}
		case *object:
			for _, k := range val.keys {
				val.vals[k] = u.value(val.vals[k], valueSchema, ptr+"/"+pointerEscape(k), depth+1)
			}
		}
		return v
	}
	switch val := v.(type) {
	case *object:
		if props, ok := s.get("properties"); ok {
			if p, ok := props.(*object); ok {
				for _, k := range val.keys {
					if ps, ok := p.get(k); ok {
						val.vals[k] = u.value(val.vals[k], ps, ptr+"/"+pointerEscape(k), depth+1)
					}
				}
			}
		}
	case []any:
		if items, ok := s.get("items"); ok {
			for i := range val {
				val[i] = u.value(val[i], items, ptr+"/"+strconv.Itoa(i), depth+1)
			}
		}
	}
	// A branch whose shape does not fit the value leaves it as it is.
	for _, key := range []string{"anyOf", "oneOf"} {
		if branches, ok := s.get(key); ok {
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
func (u *unentries) entries(list []any, valueSchema any, ptr string, depth int) (*object, bool) {
	obj := newObject(len(list))
	for _, e := range list {
		eo, ok := e.(*object)
		if !ok {
			return nil, false
		}
		k, ok := eo.get("key")
		key, isString := k.(string)
		if !ok || !isString {
			return nil, false
		}
		val, ok := eo.get("value")
		if !ok {
			return nil, false
		}
		obj.set(key, u.value(val, valueSchema, ptr+"/"+pointerEscape(key), depth+1))
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
	d, _ := u.defs.get(pointerUnescape(name))
	return d
}

func pointerOrRoot(ptr string) string {
	if ptr == "" {
		return "/"
	}
	return ptr
}
