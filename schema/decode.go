package schema

import (
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/guardgen/guardgen/internal/wellknown"
)

// decodeSlow runs when plain protojson failed. It parses data into a tree
// and walks it against the descriptor: unknown fields become drops, values
// in a form protojson refuses but with one clear meaning are coerced in the
// tree (both reported as changes, or the error when strict), and the first
// value that is neither becomes a *DecodeError with its path. With no such
// value it builds the message from the tree (see builder), as protojson
// would read the tree's JSON with unknown fields skipped.
func (t *Target) decodeSlow(data []byte, opts DecodeOptions) (proto.Message, []Change, error) {
	root, err := parseTree(data)
	if err != nil {
		return nil, nil, err
	}
	w := walker{strict: opts.Strict, types: t.types, align: t.align}
	if err := w.root(t.Desc, root); err != nil {
		return nil, nil, err
	}
	m, berr := t.build(root)
	if berr != nil {
		return nil, nil, &DecodeError{Reason: "does not match " + string(t.Desc.FullName())}
	}
	return m, w.changes, nil
}

// walker checks a parsed tree against a descriptor the way protojson reads
// it, collecting unknown fields and coercing values in place.
type walker struct {
	strict  bool
	types   typeResolver
	align   *alignment
	changes []Change
	path    []jsonStep // where the walk is (see jsonpath.go)
	// embedded is set inside JSON read from a string, which is not read
	// from a string again; picked inside an element picked from an array,
	// where no element is picked again. Both keep the walk linear.
	embedded, picked bool
	// embeddedValues counts the values read from strings holding JSON.
	embeddedValues int
}

// root checks n as the whole output for md: its shape first (see shape),
// then its value.
func (w *walker) root(md protoreflect.MessageDescriptor, n *node) *DecodeError {
	if _, err := w.shape(md, n); err != nil {
		return err
	}
	return w.message(md, n, false)
}

// message checks n as a value of md. redact is set when the field holding
// it is marked debug_redact, so that change details quote nothing.
func (w *walker) message(md protoreflect.MessageDescriptor, n *node, redact bool) *DecodeError {
	if wellknown.JSONForm(md.FullName()) && md.FullName() != "google.protobuf.Empty" {
		return w.wellKnown(md, n, redact)
	}
	return w.fields(md, n, false)
}

// coerce replaces n with to and records c; in strict mode it returns the
// error instead, naming what would have been coerced (what, never the
// output itself).
func (w *walker) coerce(n *node, to node, c Change, what string) *DecodeError {
	if w.strict {
		return &DecodeError{Path: c.Path, Reason: "not coerced in strict mode: " + what}
	}
	*n = to
	w.changes = append(w.changes, c)
	return nil
}

// fields checks the members of an object; skipType skips the "@type" of an
// expanded Any. An object with members none of which is a field is
// refused: dropping them all would answer with an empty message.
func (w *walker) fields(md protoreflect.MessageDescriptor, n *node, skipType bool) *DecodeError {
	if n.kind != objectNode {
		return w.expected("an object")
	}
	var seen []protoreflect.FieldNumber
	var seenOneofs []protoreflect.OneofDescriptor
	known := 0
	for i, key := range n.keys {
		if skipType && key == "@type" {
			known++
			continue
		}
		val := n.vals[i]
		fd, err := w.field(md, n, i)
		if err != nil {
			return err
		}
		if fd == nil {
			continue
		}
		known++
		w.enterField(fd.JSONName())
		if containsNumber(seen, fd.Number()) {
			return &DecodeError{Path: w.at(), Reason: "duplicate field"}
		}
		seen = append(seen, fd.Number())
		if val.kind == nullNode && !acceptsNull(fd) {
			w.exit()
			continue // null means unset
		}
		switch {
		case fd.IsList():
			err = w.list(fd, val)
		case fd.IsMap():
			err = w.mapValue(fd, val, isRedacted(fd))
		default:
			if od := fd.ContainingOneof(); od != nil {
				for _, s := range seenOneofs {
					if s == od {
						return &DecodeError{Path: w.at(), Reason: "only one of " + oneofNames(od) + " may be set"}
					}
				}
				seenOneofs = append(seenOneofs, od)
			}
			err = w.single(fd, val, isRedacted(fd))
		}
		if err != nil {
			return err
		}
		w.exit()
	}
	if known == 0 && len(n.keys) > 0 {
		return &DecodeError{Path: w.at(), Reason: "none of its " + strconv.Itoa(len(n.keys)) +
			" keys is a field of " + string(md.FullName())}
	}
	return nil
}

// field finds the field that the key of member i of object n names, and
// renames a loosely written key to the field's JSON name. A key that
// names no field is dropped and reported (an error when strict); fd is
// then nil.
func (w *walker) field(md protoreflect.MessageDescriptor, n *node, i int) (protoreflect.FieldDescriptor, *DecodeError) {
	key := n.keys[i]
	if strings.HasPrefix(key, "[") { // "[full.name]" is an extension
		return nil, w.drop(key)
	}
	fd, loose, ok := w.align.field(md, key)
	switch {
	case !ok:
		return nil, w.atMember(key, &DecodeError{Reason: "the key could name several fields"})
	case fd == nil:
		return nil, w.drop(key)
	case !loose:
		return fd, nil
	case w.strict:
		return nil, w.atMember(key, &DecodeError{Reason: "not coerced in strict mode: a key written unlike field " + fd.JSONName()})
	}
	n.keys[i] = fd.JSONName()
	w.enterField(fd.JSONName())
	w.changes = append(w.changes, Change{Kind: ChangeMatchKey, Path: w.at(), Detail: quoteOutput(key) + " → " + fd.JSONName()})
	w.exit()
	return fd, nil
}

// detailDropped is the detail of every ChangeDropUnknownField.
const detailDropped = "no field has this name: dropped"

// drop records the member with key key, which no field has, as dropped,
// or fails when strict.
func (w *walker) drop(key string) *DecodeError {
	if w.strict {
		return w.atMember(key, &DecodeError{Reason: "unknown field"})
	}
	w.enterMember(key)
	w.changes = append(w.changes, Change{Kind: ChangeDropUnknownField, Path: w.at(), Detail: detailDropped})
	w.exit()
	return nil
}

// atMember places err at the member with key key of the object the walk
// is at.
func (w *walker) atMember(key string, err *DecodeError) *DecodeError {
	w.enterMember(key)
	err.Path = w.at()
	w.exit()
	return err
}

// list checks a repeated field: JSON in a string is read first (an array,
// or one object for a list of messages), then a single value where the
// list belongs is wrapped in one (null never gets here: it means unset).
func (w *walker) list(fd protoreflect.FieldDescriptor, n *node) *DecodeError {
	redact := isRedacted(fd)
	parsed, err := w.jsonInString(n, arrayNode)
	if err == nil && !parsed && fd.Message() != nil {
		parsed, err = w.jsonInString(n, objectNode) // one element, to wrap
	}
	if err != nil {
		return err
	}
	defer w.leave(entered{embedded: parsed})
	if n.kind != arrayNode {
		if !mayBe(fd, n) {
			return w.expected("an array")
		}
		item := *n
		c := Change{Kind: ChangeWrapRepeated, Path: w.at(), Detail: "a single " + nodeNames[item.kind] + " read as a list of one"}
		if err := w.coerce(n, node{kind: arrayNode, items: []*node{&item}}, c, "a single value where a list is expected"); err != nil {
			return err
		}
	}
	for i, item := range n.items {
		w.enterItem(i)
		if item.kind == nullNode && !acceptsNull(fd) {
			return &DecodeError{Path: w.at(), Reason: "null is not allowed in a list"}
		}
		if err := w.single(fd, item, redact); err != nil {
			return err
		}
		w.exit()
	}
	return nil
}

// mapValue checks a map field, reading JSON in a string first.
func (w *walker) mapValue(fd protoreflect.FieldDescriptor, n *node, redact bool) *DecodeError {
	parsed, err := w.jsonInString(n, objectNode)
	if err != nil {
		return err
	}
	defer w.leave(entered{embedded: parsed})
	if n.kind != objectNode {
		return w.expected("an object")
	}
	keyKind := fd.MapKey().Kind()
	value := fd.MapValue()
	seen := make(map[string]bool, len(n.keys))
	for i, key := range n.keys {
		w.enterMapKey(key)
		if seen[key] {
			return &DecodeError{Path: w.at(), Reason: "duplicate map key"}
		}
		seen[key] = true
		if !mapKeyOK(keyKind, key) {
			return &DecodeError{Path: w.at(), Reason: "map key is not a " + keyKind.String()}
		}
		val := n.vals[i]
		if val.kind == nullNode && !acceptsNull(value) {
			return &DecodeError{Path: w.at(), Reason: "null is not allowed as a map value"}
		}
		if err := w.single(fd, val, redact); err != nil {
			return err
		}
		w.exit()
	}
	return nil
}

// single checks one value of fd: the field's value, or one item of a list
// or map field. A list of one where one value belongs is unwrapped first.
func (w *walker) single(fd protoreflect.FieldDescriptor, n *node, redact bool) *DecodeError {
	v := valueOf(fd)
	if md := v.Message(); md != nil {
		e, err := w.shape(md, n)
		if err != nil {
			return err
		}
		defer w.leave(e)
		return w.message(md, n, redact)
	}
	if err := w.unwrap(n); err != nil {
		return err
	}
	if v.Kind() == protoreflect.EnumKind {
		return w.enum(fd, n, redact)
	}
	return w.scalar(v.Kind(), n, redact)
}

// isRedacted reports whether fd is marked debug_redact.
func isRedacted(fd protoreflect.FieldDescriptor) bool {
	opts, ok := fd.Options().(*descriptorpb.FieldOptions)
	return ok && opts.GetDebugRedact()
}

// acceptsNull reports whether null is a value of fd rather than "unset".
func acceptsNull(fd protoreflect.FieldDescriptor) bool {
	if md := fd.Message(); md != nil {
		return md.FullName() == "google.protobuf.Value"
	}
	if ed := fd.Enum(); ed != nil {
		return ed.FullName() == "google.protobuf.NullValue"
	}
	return false
}

func containsNumber(list []protoreflect.FieldNumber, n protoreflect.FieldNumber) bool {
	for _, v := range list {
		if v == n {
			return true
		}
	}
	return false
}

func oneofNames(od protoreflect.OneofDescriptor) string {
	names := make([]string, od.Fields().Len())
	for i := range names {
		names[i] = od.Fields().Get(i).JSONName()
	}
	return strings.Join(names, ", ")
}

func isIdentifier(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, c := range s {
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// quoteKey quotes a key for a path, cut to 64 bytes: it is model output.
func quoteKey(key string) string {
	if len(key) > 64 {
		key = strings.ToValidUTF8(key[:64], "") + "…"
	}
	return strconv.Quote(key)
}
