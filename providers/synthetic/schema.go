package synthetic

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/guardgen/guardgen/internal/orderedjson"
)

// kind is the JSON type a node generates.
type kind uint8

const (
	kindAny kind = iota // no type: emits null unless enum, const or alternatives say more
	kindObject
	kindArray
	kindString
	kindInteger
	kindNumber
	kindBoolean
	kindNull
)

// bound is an optional numeric bound.
type bound struct {
	v   float64
	set bool
}

// node is one compiled schema. Nodes form a graph: a $ref points at the node
// of its target, so recursive messages become cycles, cut by depth at
// generation time.
type node struct {
	kind     kind
	nullable bool // type lists "null"

	ref    string // unresolved $ref, "" when none
	target *node  // resolved $ref

	enum  [][]byte // compact JSON of each enum value
	konst []byte   // compact JSON of const, nil when none

	minimum, maximum, exclusiveMinimum, exclusiveMaximum bound

	minLength, maxLength int // maxLength < 0: unbounded
	pattern              *pattern
	int64String          bool // "^-?[0-9]+$": protojson's 64-bit integers
	format               string
	base64               bool // contentEncoding base64: protobuf bytes

	props      []property
	required   map[string]bool
	oneOf      [][][]string // object-level groups; each branch lists the properties it requires
	additional *node        // map values; nil when additionalProperties is false or absent
	keys       *node        // propertyNames
	minProps   int
	maxProps   int // < 0: unbounded

	items    *node
	minItems int
	maxItems int // < 0: unbounded
	unique   bool

	alternatives []*node // anyOf, or oneOf of full schemas: one is chosen
}

// property is one entry of "properties", in schema order.
type property struct {
	name     string
	key      []byte // `"name":`, encoded once
	schema   *node
	required bool
	oneOf    bool // named by an object-level oneOf branch
}

// compiled is a parsed output schema, cached by its text.
type compiled struct {
	root *node
	// violation is the node the schema fault breaks and the value it emits
	// there; violation is nil when no rule the fault knows applies.
	violation      *node
	violationValue []byte
}

// maxCount caps minLength, minItems, minProperties and their maxima: a
// schema asking for more gets an instance that falls short rather than one
// that exhausts memory.
const maxCount = 1 << 16

// compile parses a JSON Schema document in guardgen's dialect.
func compile(text string) (*compiled, error) {
	doc, err := orderedjson.Parse([]byte(text))
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	rootObj, ok := doc.(*orderedjson.Object)
	if !ok {
		return nil, errors.New("schema is not a JSON object")
	}
	c := &compiler{defs: map[string]*node{}}
	if defs, ok := rootObj.Value("$defs").(*orderedjson.Object); ok {
		// Allocate every definition first so references between them resolve
		// whatever their order.
		for _, name := range defs.Keys() {
			c.defs[name] = &node{}
		}
		for _, name := range defs.Keys() {
			def, ok := defs.Value(name).(*orderedjson.Object)
			if !ok {
				return nil, fmt.Errorf("$defs/%s is not an object", name)
			}
			if err := c.fill(c.defs[name], def); err != nil {
				return nil, fmt.Errorf("$defs/%s: %w", name, err)
			}
		}
	}
	root := &node{}
	c.root = root
	if err := c.fill(root, rootObj); err != nil {
		return nil, err
	}
	for _, n := range c.refs {
		t, err := c.resolve(n.ref)
		if err != nil {
			return nil, err
		}
		n.target = t
	}
	s := &compiled{root: root}
	s.violation, s.violationValue = findViolation(root)
	return s, nil
}

type compiler struct {
	root *node
	defs map[string]*node
	refs []*node
}

func (c *compiler) resolve(ref string) (*node, error) {
	if ref == "#" {
		return c.root, nil
	}
	if name, ok := strings.CutPrefix(ref, "#/$defs/"); ok {
		name = strings.NewReplacer("~1", "/", "~0", "~").Replace(name)
		if n, ok := c.defs[name]; ok {
			return n, nil
		}
	}
	return nil, fmt.Errorf("unsupported $ref %q", ref)
}

func (c *compiler) sub(v any, where string) (*node, error) {
	obj, ok := v.(*orderedjson.Object)
	if !ok {
		if b, isBool := v.(bool); isBool && b {
			return &node{maxLength: -1, maxProps: -1, maxItems: -1}, nil // true: anything
		}
		return nil, fmt.Errorf("%s is not a schema object", where)
	}
	n := &node{}
	if err := c.fill(n, obj); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return n, nil
}

// fill compiles obj into n, one group of keywords after another.
func (c *compiler) fill(n *node, obj *orderedjson.Object) error {
	n.maxLength, n.maxProps, n.maxItems = -1, -1, -1
	if ref, ok := obj.Value("$ref").(string); ok {
		n.ref = ref
		c.refs = append(c.refs, n)
		return nil // siblings of $ref (description, title) only annotate
	}

	explicitType := fillType(n, obj)
	fillValues(n, obj)
	if err := fillBounds(n, obj); err != nil {
		return err
	}
	if err := c.fillMembers(n, obj); err != nil {
		return err
	}
	if err := c.fillAlternatives(n, obj); err != nil {
		return err
	}
	if !explicitType {
		n.kind = inferKind(n)
	}
	return nil
}

// fillType reads type (a name or a list with "null") into n's kind and
// nullability, and reports whether obj names a type.
func fillType(n *node, obj *orderedjson.Object) bool {
	explicitType := false
	switch t := obj.Value("type").(type) {
	case string:
		n.kind, explicitType = kindOf(t), true
		n.nullable = t == "null"
	case []any:
		for _, e := range t {
			name, _ := e.(string)
			if name == "null" {
				n.nullable = true
				continue
			}
			if !explicitType {
				n.kind, explicitType = kindOf(name), true
			}
		}
		if !explicitType && n.nullable {
			n.kind, explicitType = kindNull, true
		}
	}

	return explicitType
}

// fillValues reads enum and const.
func fillValues(n *node, obj *orderedjson.Object) {
	if vals, ok := obj.Value("enum").([]any); ok {
		for _, v := range vals {
			if v == nil && len(vals) > 1 {
				continue // a nullable enum: prefer a real value
			}
			n.enum = append(n.enum, orderedjson.Append(nil, v))
		}
	}
	if v, ok := obj.Get("const"); ok {
		n.konst = orderedjson.Append(nil, v)
	}
}

// fillBounds reads the numeric, length, count and string-form keywords.
func fillBounds(n *node, obj *orderedjson.Object) error {
	var err error
	num := func(key string) bound {
		if err != nil {
			return bound{}
		}
		v, ok := obj.Get(key)
		if !ok {
			return bound{}
		}
		jn, ok := v.(json.Number)
		if !ok {
			err = fmt.Errorf("%s is not a number", key)
			return bound{}
		}
		f, perr := jn.Float64()
		if perr != nil {
			err = fmt.Errorf("%s: %w", key, perr)
		}
		return bound{v: f, set: true}
	}
	count := func(key string, def int) int {
		b := num(key)
		if !b.set {
			return def
		}
		if b.v < 0 || b.v != math.Trunc(b.v) {
			err = fmt.Errorf("%s is not a non-negative integer", key)
		}
		return int(min(b.v, maxCount))
	}

	n.minimum = num("minimum")
	n.maximum = num("maximum")
	n.exclusiveMinimum = num("exclusiveMinimum")
	n.exclusiveMaximum = num("exclusiveMaximum")
	n.minLength = count("minLength", 0)
	n.maxLength = count("maxLength", -1)
	n.minProps = count("minProperties", 0)
	n.maxProps = count("maxProperties", -1)
	n.minItems = count("minItems", 0)
	n.maxItems = count("maxItems", -1)
	if err != nil {
		return err
	}
	if p, ok := obj.Value("pattern").(string); ok {
		if p == `^-?[0-9]+$` || p == `^[0-9]+$` {
			n.int64String = true
		} else if n.pattern, err = compilePattern(p); err != nil {
			return err
		}
	}
	n.format, _ = obj.Value("format").(string)
	enc, _ := obj.Value("contentEncoding").(string)
	n.base64 = enc == "base64"
	n.unique, _ = obj.Value("uniqueItems").(bool)
	return nil
}

// fillMembers compiles the schemas of an object's properties, extra
// properties and property names, and of an array's items.
func (c *compiler) fillMembers(n *node, obj *orderedjson.Object) error {
	var err error
	if props, ok := obj.Value("properties").(*orderedjson.Object); ok {
		for _, name := range props.Keys() {
			s, err := c.sub(props.Value(name), "properties/"+name)
			if err != nil {
				return err
			}
			key := orderedjson.AppendString(nil, name)
			n.props = append(n.props, property{name: name, key: append(key, ':'), schema: s})
		}
	}
	if req, ok := obj.Value("required").([]any); ok {
		n.required = map[string]bool{}
		for _, r := range req {
			if name, ok := r.(string); ok {
				n.required[name] = true
			}
		}
	}
	switch ap := obj.Value("additionalProperties").(type) {
	case *orderedjson.Object:
		if n.additional, err = c.sub(ap, "additionalProperties"); err != nil {
			return err
		}
	case bool:
		// true on an object without properties (google.protobuf.Struct):
		// string entries. Beside declared properties it only permits, and
		// extra keys would not decode into a message.
		if ap && len(n.props) == 0 {
			n.additional = &node{maxLength: -1, maxProps: -1, maxItems: -1, kind: kindString}
		}
	}
	if pn, ok := obj.Get("propertyNames"); ok {
		if n.keys, err = c.sub(pn, "propertyNames"); err != nil {
			return err
		}
		if n.keys.kind == kindAny {
			n.keys.kind = kindString
		}
	}
	if it, ok := obj.Get("items"); ok {
		if n.items, err = c.sub(it, "items"); err != nil {
			return err
		}
	}
	return nil
}

// fillAlternatives compiles oneOf and anyOf: an object-level oneOf of
// required-lists (a protobuf oneof, possibly several under allOf) marks
// its properties; any other is a list of alternative schemas.
func (c *compiler) fillAlternatives(n *node, obj *orderedjson.Object) error {
	groups := []any{obj.Value("oneOf")}
	if all, ok := obj.Value("allOf").([]any); ok {
		for _, a := range all {
			if ao, ok := a.(*orderedjson.Object); ok {
				groups = append(groups, ao.Value("oneOf"))
			}
		}
	}
	for _, g := range groups {
		branches, ok := g.([]any)
		if !ok {
			continue
		}
		if group, ok := requiredGroup(branches); ok {
			n.oneOf = append(n.oneOf, group)
			continue
		}
		for i, b := range branches {
			alt, err := c.sub(b, fmt.Sprintf("oneOf/%d", i))
			if err != nil {
				return err
			}
			n.alternatives = append(n.alternatives, alt)
		}
	}
	if anyOf, ok := obj.Value("anyOf").([]any); ok {
		for i, b := range anyOf {
			alt, err := c.sub(b, fmt.Sprintf("anyOf/%d", i))
			if err != nil {
				return err
			}
			n.alternatives = append(n.alternatives, alt)
		}
	}
	for _, group := range n.oneOf {
		for _, branch := range group {
			for _, name := range branch {
				for i := range n.props {
					if n.props[i].name == name {
						n.props[i].oneOf = true
					}
				}
			}
		}
	}
	for i := range n.props {
		n.props[i].required = n.required[n.props[i].name]
	}
	return nil
}

// requiredGroup reports whether every branch only lists required
// properties, and returns them.
func requiredGroup(branches []any) ([][]string, bool) {
	var group [][]string
	for _, b := range branches {
		obj, ok := b.(*orderedjson.Object)
		if !ok || obj.Len() == 0 {
			return nil, false
		}
		var names []string
		for _, k := range obj.Keys() {
			switch k {
			case "required":
				req, _ := obj.Value(k).([]any)
				for _, r := range req {
					if s, ok := r.(string); ok {
						names = append(names, s)
					}
				}
			case "description", "title":
			default:
				return nil, false
			}
		}
		group = append(group, names)
	}
	return group, len(group) > 0
}

func kindOf(t string) kind {
	switch t {
	case "object":
		return kindObject
	case "array":
		return kindArray
	case "string":
		return kindString
	case "integer":
		return kindInteger
	case "number":
		return kindNumber
	case "boolean":
		return kindBoolean
	case "null":
		return kindNull
	}
	return kindAny
}

func inferKind(n *node) kind {
	switch {
	case n.enum != nil || n.konst != nil || n.alternatives != nil:
		return kindAny
	case n.props != nil || n.additional != nil || n.oneOf != nil || n.required != nil:
		return kindObject
	case n.items != nil:
		return kindArray
	case n.pattern != nil || n.int64String || n.format != "" || n.base64 || n.minLength > 0 || n.maxLength >= 0:
		return kindString
	case n.minimum.set || n.maximum.set || n.exclusiveMinimum.set || n.exclusiveMaximum.set:
		return kindNumber
	}
	return kindAny
}

// deref follows $ref to the schema that says something.
func deref(n *node) *node {
	for range 16 {
		if n.target == nil {
			return n
		}
		n = n.target
	}
	return n
}
