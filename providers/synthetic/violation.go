package synthetic

import (
	"math"
	"strconv"
	"strings"

	"github.com/guardgen/guardgen/internal/orderedjson"
)

// findViolation picks the value the schema fault breaks: well-typed, so it
// still decodes into the target message, but against one field rule. The
// choice is deterministic. Fields are visited breadth first in document
// order (root level, then nested), only along paths every instance
// contains (no oneOf members, no map values, objects down to fullDepth,
// arrays that always have an element), and the first field of the first
// tier that has one wins:
//
//  1. integer or number with a bound: maximum+1, exclusiveMaximum,
//     minimum-1 (when minimum ≥ 1, so unsigned fields still decode) or
//     exclusiveMinimum; bounds of ±2³¹ and beyond are skipped, as they may be
//     the type's own range;
//  2. string with maxLength: one character longer;
//  3. string with minLength ≥ 1: "";
//  4. string with a pattern (other than the 64-bit integer one): a short
//     string it does not match;
//  5. string with format email, hostname, uri, uuid, ipv4 or ipv6: a value
//     with spaces;
//  6. array with minItems ≥ 1: [].
//
// Enums and consts are skipped: a proto enum and a string "in" rule look the
// same, and an unknown enum name would not decode. Without a match it
// returns nil and the schema fault answers with the valid instance.
func findViolation(root *node) (*node, []byte) {
	fields := alwaysPresent(root)
	for _, tier := range violationTiers {
		for _, n := range fields {
			if len(n.enum) > 0 || n.konst != nil {
				continue
			}
			if v, ok := tier(n); ok {
				return n, v
			}
		}
	}
	return nil, nil
}

// typeRange is where numeric bounds stop being field rules and may be the
// range of the field's type: breaking them would not decode.
const typeRange = math.MaxInt32

var violationTiers = []func(n *node) ([]byte, bool){
	func(n *node) ([]byte, bool) {
		if n.kind != kindInteger && n.kind != kindNumber {
			return nil, false
		}
		small := func(b bound) bool { return b.set && math.Abs(b.v) < typeRange }
		var v float64
		switch {
		case small(n.maximum):
			v = n.maximum.v + 1
		case small(n.exclusiveMaximum):
			v = math.Ceil(n.exclusiveMaximum.v)
		case small(n.minimum) && (n.minimum.v >= 1 || n.kind == kindNumber):
			v = n.minimum.v - 1
		case small(n.exclusiveMinimum) && (n.exclusiveMinimum.v >= 0 || n.kind == kindNumber):
			v = math.Floor(n.exclusiveMinimum.v)
		default:
			return nil, false
		}
		if n.kind == kindInteger {
			return strconv.AppendFloat(nil, math.Round(v), 'f', 0, 64), true
		}
		return strconv.AppendFloat(nil, v, 'f', -1, 64), true
	},
	func(n *node) ([]byte, bool) {
		if !plainString(n) || n.maxLength < 0 || n.maxLength >= 1<<16 {
			return nil, false
		}
		return orderedjson.AppendString(nil, strings.Repeat("x", n.maxLength+1)), true
	},
	func(n *node) ([]byte, bool) {
		if !plainString(n) || n.minLength < 1 {
			return nil, false
		}
		return []byte(`""`), true
	},
	func(n *node) ([]byte, bool) {
		if n.kind != kindString || n.pattern == nil {
			return nil, false
		}
		for _, s := range []string{"", "!", "x", "0", "~ ~"} {
			if !n.pattern.re.MatchString(s) {
				return orderedjson.AppendString(nil, s), true
			}
		}
		return nil, false
	},
	func(n *node) ([]byte, bool) {
		switch n.format {
		case "email", "hostname", "uri", "uuid", "ipv4", "ipv6":
			return []byte(`"not a valid value"`), n.kind == kindString
		}
		return nil, false
	},
	func(n *node) ([]byte, bool) {
		return []byte("[]"), n.kind == kindArray && n.minItems >= 1
	},
}

// plainString reports whether n is a string whose length rules can be
// broken without breaking its decoding (not a timestamp, bytes or int64).
func plainString(n *node) bool {
	return n.kind == kindString && n.format == "" && !n.base64 && !n.int64String
}

// alwaysPresent lists, breadth first in document order, the schemas of the
// fields every generated instance contains.
func alwaysPresent(root *node) []*node {
	type visit struct {
		n     *node
		depth int
	}
	var fields []*node
	queue := []visit{{deref(root), 0}}
	seen := map[*node]bool{}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		if seen[v.n] || v.n.kind != kindObject || v.depth > fullDepth {
			continue
		}
		seen[v.n] = true
		for _, p := range v.n.props {
			if p.oneOf {
				continue
			}
			s := deref(p.schema)
			fields = append(fields, s)
			switch {
			case s.kind == kindObject:
				queue = append(queue, visit{s, v.depth + 1})
			case s.kind == kindArray && s.items != nil && s.maxItems != 0 && v.depth+1 <= fullDepth:
				item := deref(s.items)
				fields = append(fields, item)
				queue = append(queue, visit{item, v.depth + 2})
			}
		}
	}
	return fields
}
