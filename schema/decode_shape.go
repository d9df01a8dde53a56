package schema

import (
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/guardgen/guardgen/internal/wellknown"
)

// shape makes n, a value for message type md, the shape md's JSON form
// has before the value itself is checked, when it has one clear reading:
//
//   - a string holding JSON where an object or array belongs is read as
//     that JSON (`"{\"a\": 1}"`), once: JSON read from a string is not
//     read from a string again;
//   - an array where an object belongs fills md's only repeated field when
//     md has one and the array's items may be its items (a bare array);
//     else a list of one is unwrapped; else, of an array of objects, the
//     one element that fits md is taken (see pick).
//
// For well-known types: JSON in a string for Struct and ListValue, and for
// the scalar ones a list of one unwrapped, and an object holding only a
// "value" (the wrapper message written out) read as that value. The caller passes what shape
// entered to leave once it has walked n.
func (w *walker) shape(md protoreflect.MessageDescriptor, n *node) (e entered, err *DecodeError) {
	switch md.FullName() {
	case "google.protobuf.Value":
		return e, nil
	case "google.protobuf.ListValue":
		e.embedded, err = w.jsonInString(n, arrayNode)
		return e, err
	case "google.protobuf.Struct":
		if e.embedded, err = w.jsonInString(n, objectNode); err != nil || e.embedded {
			return e, err
		}
		return e, w.unwrap(n)
	}
	if wellknown.Wrapper(md.FullName()) && n.kind == objectNode && len(n.keys) == 1 && looseKey(n.keys[0]) == "value" {
		c := Change{Kind: ChangeUnwrapValue, Path: w.at(), Detail: "an object holding only value read as the value"}
		if err := w.coerce(n, *n.vals[0], c, "an object holding only value where the value is expected"); err != nil {
			return e, err
		}
	}
	if wellknown.JSONForm(md.FullName()) {
		return e, w.unwrap(n)
	}
	if e.embedded, err = w.jsonInString(n, objectNode); err != nil || e.embedded {
		return e, err
	}
	if e.embedded, err = w.jsonInString(n, arrayNode); err != nil || n.kind != arrayNode {
		return e, err
	}
	if lf := w.align.lists[md.FullName()]; lf != nil && fills(lf, md, n) {
		w.enterField(lf.JSONName())
		c := Change{Kind: ChangeFillList, Path: w.at(), Detail: "a bare array read as " + lf.JSONName()}
		w.exit()
		list := *n
		to := node{kind: objectNode, keys: []string{lf.JSONName()}, vals: []*node{&list}}
		return e, w.coerce(n, to, c, "a bare array for the list field "+lf.JSONName())
	}
	if len(n.items) == 1 {
		return e, w.unwrap(n)
	}
	e.picked, err = w.pick(md, n)
	return e, err
}

// entered is the state a shape change starts for the walk of the value
// it shaped: see walker.embedded and walker.picked.
type entered struct{ embedded, picked bool }

// leave ends what shape entered.
func (w *walker) leave(e entered) {
	if e.embedded {
		w.embedded = false
	}
	if e.picked {
		w.picked = false
	}
}

// fills reports whether array n may be the value of list field lf of md:
// each item may be one of lf's, and an item that is an object is not as
// likely a whole md (when lf's items are md, as in a tree).
func fills(lf protoreflect.FieldDescriptor, md protoreflect.MessageDescriptor, n *node) bool {
	if lm := lf.Message(); lm != nil && lm.FullName() == md.FullName() {
		return false
	}
	for _, item := range n.items {
		if !mayBe(lf, item) {
			return false
		}
	}
	return true
}

// maxEmbeddedValues bounds the values read from strings holding JSON in
// one output, as extract.DefaultMaxValues bounds those of the output
// itself: decoding and validating cost about the same per value.
const maxEmbeddedValues = 1 << 14

// jsonInString reads n, a string that holds a JSON value of kind want
// (after spaces), as that value. A string that does not parse, or holds
// another kind, or would bring the values read from strings past
// maxEmbeddedValues, is left as it is for the caller to judge.
func (w *walker) jsonInString(n *node, want nodeKind) (bool, *DecodeError) {
	if w.embedded || n.kind != stringNode {
		return false, nil
	}
	text := strings.TrimSpace(n.text)
	open := byte('{')
	if want == arrayNode {
		open = '['
	}
	if len(text) < 2 || text[0] != open {
		return false, nil
	}
	budget := maxEmbeddedValues - w.embeddedValues
	if budget <= 0 {
		return false, nil
	}
	inner, read, err := parseTreeWithin([]byte(text), budget)
	w.embeddedValues += read
	if err != nil || inner.kind != want {
		return false, nil
	}
	c := Change{Kind: ChangeParseJSONString, Path: w.at(), Detail: "a string holding JSON read as an " + nodeNames[want]}
	if err := w.coerce(n, *inner, c, "a string holding JSON where an "+nodeNames[want]+" is expected"); err != nil {
		return false, err
	}
	w.embedded = true
	return true, nil
}

// unwrap reads a list of one, where one value belongs, as its element.
// Other arrays are left for the caller to refuse.
func (w *walker) unwrap(n *node) *DecodeError {
	if n.kind != arrayNode || len(n.items) != 1 {
		return nil
	}
	item := n.items[0]
	c := Change{Kind: ChangeUnwrapList, Path: w.at(), Detail: "a list of one " + nodeNames[item.kind] + " read as its element"}
	return w.coerce(n, *item, c, "a list of one where a single value is expected")
}

// pick takes, of an array of objects where one md belongs, the one
// element that fits md: it decodes as md with no key dropped and at least
// one key. None or several fitting is an error. Each element is tried on
// a copy, so a node is tried at most once: elements are not picked inside
// a picked element.
func (w *walker) pick(md protoreflect.MessageDescriptor, n *node) (bool, *DecodeError) {
	if w.picked || len(n.items) == 0 {
		return false, nil // the caller refuses the array
	}
	fit := -1
	for i, item := range n.items {
		if item.kind != objectNode || len(item.keys) == 0 {
			continue
		}
		probe := walker{types: w.types, align: w.align, path: slices.Clip(w.path), embedded: w.embedded, picked: true}
		if probe.fields(md, item.clone(), false) != nil || probe.dropped() {
			continue
		}
		if fit >= 0 {
			return false, &DecodeError{Path: w.at(), Reason: "expected an object; an array holds several that fit"}
		}
		fit = i
	}
	if fit < 0 {
		return false, nil
	}
	c := Change{Kind: ChangePickElement, Path: w.at(),
		Detail: "element " + strconv.Itoa(fit) + " of an array of " + strconv.Itoa(len(n.items)) + ", the only one that fits"}
	if err := w.coerce(n, *n.items[fit], c, "one object of an array where an object is expected"); err != nil {
		return false, err
	}
	w.picked = true
	return true, nil
}

// dropped reports whether the walk dropped an unknown field.
func (w *walker) dropped() bool {
	for _, c := range w.changes {
		if c.Kind == ChangeDropUnknownField {
			return true
		}
	}
	return false
}
