package schema

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// maxJSONDepth matches protojson's default recursion limit.
const maxJSONDepth = 10000

// decodeSlow runs when plain protojson failed. It parses data into a tree
// and walks it against the descriptor: unknown fields become drops (or the
// error, when strict), and the first value protojson would refuse becomes a
// *DecodeError with its path. With no such value it decodes again, skipping
// unknown fields.
//
// Coercions (an enum name in another case or without its prefix, "true" for
// a bool, a single value for a list) belong in the walk: it would rewrite
// the node, mark the tree changed, and the tree would be encoded again
// before this final decode, each coercion reported like a drop.
func (t *Target) decodeSlow(data []byte, opts DecodeOptions) (proto.Message, []Drop, error) {
	root, err := parseTree(data)
	if err != nil {
		return nil, nil, err
	}
	w := walker{strict: opts.Strict, types: t.types}
	if err := w.message("", t.Desc, root); err != nil {
		return nil, nil, err
	}
	final := t.discard
	if opts.Strict {
		final = t.unmarshal
	}
	m := t.Type.New().Interface()
	if err := final.Unmarshal(data, m); err != nil {
		return nil, nil, &DecodeError{Reason: "does not match " + string(t.Desc.FullName())}
	}
	return m, w.drops, nil
}

type nodeKind uint8

const (
	nullNode nodeKind = iota
	boolNode
	numberNode
	stringNode
	arrayNode
	objectNode
)

// node is a parsed JSON value that keeps object members in document order.
type node struct {
	kind  nodeKind
	text  string // string value, or number as written
	bool  bool
	items []*node  // array
	keys  []string // object
	vals  []*node  // object, parallel to keys
}

// parseTree parses one JSON value, and nothing after it.
func parseTree(data []byte) (*node, *DecodeError) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := parseValue(dec, 0)
	if err != nil {
		return nil, jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &DecodeError{Reason: "unexpected data after the JSON value"}
	}
	return n, nil
}

var errTooDeep = errors.New("nested too deeply")

func parseValue(dec *json.Decoder, depth int) (*node, error) {
	if depth > maxJSONDepth {
		return nil, errTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		n := &node{kind: arrayNode}
		if v == '{' {
			n.kind = objectNode
		}
		for dec.More() {
			if n.kind == objectNode {
				key, err := dec.Token()
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, key.(string))
			}
			child, err := parseValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			if n.kind == objectNode {
				n.vals = append(n.vals, child)
			} else {
				n.items = append(n.items, child)
			}
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return n, nil
	case string:
		return &node{kind: stringNode, text: v}, nil
	case json.Number:
		return &node{kind: numberNode, text: string(v)}, nil
	case bool:
		return &node{kind: boolNode, bool: v}, nil
	default:
		return &node{kind: nullNode}, nil
	}
}

// jsonError describes a parse error by position only.
func jsonError(err error) *DecodeError {
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return &DecodeError{Reason: "malformed JSON at byte " + strconv.FormatInt(syntax.Offset, 10)}
	case errors.Is(err, io.EOF):
		return &DecodeError{Reason: "no JSON value"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &DecodeError{Reason: "the JSON ends early"}
	case errors.Is(err, errTooDeep):
		return &DecodeError{Reason: "the JSON is nested too deeply"}
	default:
		return &DecodeError{Reason: "malformed JSON"}
	}
}

// walker checks a parsed tree against a descriptor the way protojson reads
// it, collecting unknown fields.
type walker struct {
	strict bool
	types  typeResolver
	drops  []Drop
}

func (w *walker) message(path string, md protoreflect.MessageDescriptor, n *node) *DecodeError {
	if isWellKnown(md.FullName()) && md.FullName() != "google.protobuf.Empty" {
		return w.wellKnown(path, md, n)
	}
	return w.fields(path, md, n, false)
}

// fields checks the members of an object; skipType skips the "@type" of an
// expanded Any.
func (w *walker) fields(path string, md protoreflect.MessageDescriptor, n *node, skipType bool) *DecodeError {
	if n.kind != objectNode {
		return expected(path, "an object")
	}
	fields := md.Fields()
	var seen []protoreflect.FieldNumber
	var seenOneofs []protoreflect.OneofDescriptor
	for i, key := range n.keys {
		if skipType && key == "@type" {
			continue
		}
		val := n.vals[i]
		var fd protoreflect.FieldDescriptor
		if !strings.HasPrefix(key, "[") { // "[full.name]" is an extension
			if fd = fields.ByJSONName(key); fd == nil {
				fd = fields.ByTextName(key)
			}
		}
		if fd == nil {
			p := memberPath(path, key)
			if w.strict {
				return &DecodeError{Path: p, Reason: "unknown field"}
			}
			w.drops = append(w.drops, Drop{Path: p})
			continue
		}
		p := joinPath(path, fd.JSONName())
		if containsNumber(seen, fd.Number()) {
			return &DecodeError{Path: p, Reason: "duplicate field"}
		}
		seen = append(seen, fd.Number())
		if val.kind == nullNode && !acceptsNull(fd) {
			continue // null means unset
		}
		var err *DecodeError
		switch {
		case fd.IsList():
			err = w.list(p, fd, val)
		case fd.IsMap():
			err = w.mapValue(p, fd, val)
		default:
			if od := fd.ContainingOneof(); od != nil {
				for _, s := range seenOneofs {
					if s == od {
						return &DecodeError{Path: p, Reason: "only one of " + oneofNames(od) + " may be set"}
					}
				}
				seenOneofs = append(seenOneofs, od)
			}
			err = w.single(p, fd, val)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) list(path string, fd protoreflect.FieldDescriptor, n *node) *DecodeError {
	if n.kind != arrayNode {
		return expected(path, "an array")
	}
	for i, item := range n.items {
		p := path + "[" + strconv.Itoa(i) + "]"
		if item.kind == nullNode && !acceptsNull(fd) {
			return &DecodeError{Path: p, Reason: "null is not allowed in a list"}
		}
		if err := w.single(p, fd, item); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) mapValue(path string, fd protoreflect.FieldDescriptor, n *node) *DecodeError {
	if n.kind != objectNode {
		return expected(path, "an object")
	}
	keyKind := fd.MapKey().Kind()
	value := fd.MapValue()
	seen := make(map[string]bool, len(n.keys))
	for i, key := range n.keys {
		p := path + "[" + quoteKey(key) + "]"
		if seen[key] {
			return &DecodeError{Path: p, Reason: "duplicate map key"}
		}
		seen[key] = true
		if !mapKeyOK(keyKind, key) {
			return &DecodeError{Path: p, Reason: "map key is not a " + keyKind.String()}
		}
		val := n.vals[i]
		if val.kind == nullNode && !acceptsNull(value) {
			return &DecodeError{Path: p, Reason: "null is not allowed as a map value"}
		}
		if err := w.single(p, value, val); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) single(path string, fd protoreflect.FieldDescriptor, n *node) *DecodeError {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return w.message(path, fd.Message(), n)
	case protoreflect.EnumKind:
		return enumOK(path, fd.Enum(), n)
	default:
		return scalarOK(path, fd.Kind(), n)
	}
}

func (w *walker) wellKnown(path string, md protoreflect.MessageDescriptor, n *node) *DecodeError {
	switch name := md.FullName(); {
	case wrappers[name]:
		return scalarOK(path, md.Fields().ByName("value").Kind(), n)
	case name == "google.protobuf.Timestamp":
		if n.kind != stringNode || !timestampOK(n.text) {
			return expected(path, "an RFC 3339 timestamp such as 2024-01-02T15:04:05Z")
		}
	case name == "google.protobuf.Duration":
		if n.kind != stringNode || !durationOK(n.text) {
			return expected(path, `a duration in seconds such as "1.5s"`)
		}
	case name == "google.protobuf.FieldMask":
		if n.kind != stringNode {
			return expected(path, "a string of comma-separated field paths")
		}
	case name == "google.protobuf.Struct":
		if n.kind != objectNode {
			return expected(path, "an object")
		}
	case name == "google.protobuf.ListValue":
		if n.kind != arrayNode {
			return expected(path, "an array")
		}
	case name == "google.protobuf.Any":
		return w.anyValue(path, n)
	}
	return nil // google.protobuf.Value takes any JSON
}

func (w *walker) anyValue(path string, n *node) *DecodeError {
	if n.kind != objectNode {
		return expected(path, "an object")
	}
	typePath := path + `["@type"]`
	var url *node
	for i, key := range n.keys {
		if key == "@type" {
			url = n.vals[i]
		}
	}
	if url == nil || url.kind != stringNode {
		return expected(typePath, "a type URL string")
	}
	mt, err := w.types.FindMessageByURL(url.text)
	if err != nil {
		return &DecodeError{Path: typePath, Reason: "unknown type URL"}
	}
	md := mt.Descriptor()
	if !isWellKnown(md.FullName()) || md.FullName() == "google.protobuf.Empty" {
		return w.fields(path, md, n, true)
	}
	for i, key := range n.keys {
		if key == "value" {
			return w.message(joinPath(path, "value"), md, n.vals[i])
		}
	}
	return expected(joinPath(path, "value"), "a value")
}

func expected(path, what string) *DecodeError {
	return &DecodeError{Path: path, Reason: "expected " + what}
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

// memberPath extends path with an object key: .key for identifiers,
// ["key"] otherwise.
func memberPath(path, key string) string {
	if isIdentifier(key) {
		return joinPath(path, key)
	}
	return path + "[" + quoteKey(key) + "]"
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

func enumOK(path string, ed protoreflect.EnumDescriptor, n *node) *DecodeError {
	switch n.kind {
	case stringNode:
		if ed.Values().ByName(protoreflect.Name(n.text)) != nil {
			return nil
		}
		// Without this check a non-strict decode (DiscardUnknown) would
		// silently turn an unknown name into the zero value.
		values := ed.Values()
		names := make([]string, values.Len())
		for i := range names {
			names[i] = string(values.Get(i).Name())
		}
		return &DecodeError{Path: path, Reason: "not a value of " + string(ed.FullName()) + "; expected one of " + joinNames(names, 20)}
	case numberNode:
		if integerOK(n.text, 32, false) {
			return nil
		}
	case nullNode:
		if ed.FullName() == "google.protobuf.NullValue" {
			return nil
		}
	}
	return expected(path, "an enum value name")
}

func scalarOK(path string, kind protoreflect.Kind, n *node) *DecodeError {
	switch kind {
	case protoreflect.BoolKind:
		if n.kind != boolNode {
			return expected(path, "true or false")
		}
	case protoreflect.StringKind:
		if n.kind != stringNode {
			return expected(path, "a string")
		}
	case protoreflect.BytesKind:
		if n.kind != stringNode || !base64OK(n.text) {
			return expected(path, "base64 text")
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		if !floatOK(n, kind) {
			return expected(path, "a number")
		}
	default:
		bits, unsigned := intShape(kind)
		if !numeric(n) || !integerOK(n.text, bits, unsigned) {
			what := "an integer"
			if bits == 64 {
				what = "an integer (a decimal string)"
			}
			return expected(path, what+" in the "+kind.String()+" range")
		}
	}
	return nil
}

// numeric reports whether n is a number, or a string holding one as
// protojson allows for integers and floats.
func numeric(n *node) bool {
	return n.kind == numberNode || (n.kind == stringNode && isJSONNumber(n.text))
}

func intShape(kind protoreflect.Kind) (bits int, unsigned bool) {
	switch kind {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return 32, false
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return 32, true
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return 64, true
	default:
		return 64, false
	}
}

// integerOK reports whether the JSON number text is an integer that fits;
// like protojson it accepts forms such as 1e2 and 5.0.
func integerOK(s string, bits int, unsigned bool) bool {
	if unsigned {
		if _, err := strconv.ParseUint(s, 10, bits); err == nil {
			return true
		}
	} else if _, err := strconv.ParseInt(s, 10, bits); err == nil {
		return true
	}
	i := strings.IndexAny(s, ".eE")
	if i < 0 {
		return false // plain digits that did not fit
	}
	if e := strings.IndexAny(s, "eE"); e >= 0 {
		if exp, err := strconv.Atoi(s[e+1:]); err != nil || exp > 400 || exp < -400 {
			return false
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || !r.IsInt() {
		return false
	}
	v := r.Num()
	if unsigned {
		return v.Sign() >= 0 && v.BitLen() <= bits
	}
	lo := new(big.Int).Lsh(big.NewInt(-1), uint(bits-1))
	hi := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(bits-1)), big.NewInt(1))
	return v.Cmp(lo) >= 0 && v.Cmp(hi) <= 0
}

func floatOK(n *node, kind protoreflect.Kind) bool {
	bits := 64
	if kind == protoreflect.FloatKind {
		bits = 32
	}
	switch {
	case n.kind == stringNode && (n.text == "NaN" || n.text == "Infinity" || n.text == "-Infinity"):
		return true
	case !numeric(n):
		return false
	}
	f, err := strconv.ParseFloat(n.text, bits)
	return err == nil && !math.IsInf(f, 0)
}

// isJSONNumber reports whether s is a number in JSON syntax.
func isJSONNumber(s string) bool {
	i := 0
	digits := func() int {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - start
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// base64OK accepts what protojson accepts: standard or URL alphabet,
// padded or not.
func base64OK(s string) bool {
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if len(s)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	_, err := enc.DecodeString(s)
	return err == nil
}

func mapKeyOK(kind protoreflect.Kind, key string) bool {
	switch kind {
	case protoreflect.StringKind:
		return true
	case protoreflect.BoolKind:
		return key == "true" || key == "false"
	}
	bits, unsigned := intShape(kind)
	if unsigned {
		_, err := strconv.ParseUint(key, 10, bits)
		return err == nil
	}
	_, err := strconv.ParseInt(key, 10, bits)
	return err == nil
}

// timestampOK checks an RFC 3339 timestamp in the years protobuf allows.
func timestampOK(s string) bool {
	t, err := time.Parse(time.RFC3339Nano, s)
	return err == nil && t.Year() >= 1 && t.Year() <= 9999
}

// durationOK checks protojson's duration form: seconds with up to nine
// fractional digits and an "s", within ±10000 years.
func durationOK(s string) bool {
	body, ok := strings.CutSuffix(s, "s")
	if !ok {
		return false
	}
	body = strings.TrimPrefix(body, "-")
	whole, frac, hasFrac := strings.Cut(body, ".")
	if whole == "" || strings.Trim(whole, "0123456789") != "" {
		return false
	}
	if hasFrac && (frac == "" || len(frac) > 9 || strings.Trim(frac, "0123456789") != "") {
		return false
	}
	secs, err := strconv.ParseInt(whole, 10, 64)
	return err == nil && secs <= 315576000000
}
