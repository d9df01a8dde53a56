package schema

import (
	"encoding/base64"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// decodeSlow runs when plain protojson failed. It parses data into a tree
// and walks it against the descriptor: unknown fields become drops, values
// in a form protojson refuses but with one clear meaning are coerced in the
// tree (both reported as changes, or the error when strict), and the first
// value that is neither becomes a *DecodeError with its path. With no such
// value it decodes again, skipping unknown fields, from the tree written
// back out when a coercion rewrote it.
func (t *Target) decodeSlow(data []byte, opts DecodeOptions) (proto.Message, []Change, error) {
	root, err := parseTree(data)
	if err != nil {
		return nil, nil, err
	}
	w := walker{strict: opts.Strict, types: t.types}
	if err := w.message("", t.Desc, root, false); err != nil {
		return nil, nil, err
	}
	if w.coerced {
		data = root.appendJSON(make([]byte, 0, len(data)))
	}
	final := t.discard
	if opts.Strict {
		final = t.unmarshal
	}
	m := t.Type.New().Interface()
	if err := final.Unmarshal(data, m); err != nil {
		return nil, nil, &DecodeError{Reason: "does not match " + string(t.Desc.FullName())}
	}
	return m, w.changes, nil
}

// walker checks a parsed tree against a descriptor the way protojson reads
// it, collecting unknown fields and coercing values in place.
type walker struct {
	strict  bool
	types   typeResolver
	changes []Change
	// coerced is set when a value in the tree was rewritten.
	coerced bool
}

// message checks n as a value of md. redact is set when the field holding
// it is marked debug_redact, so that change details quote nothing.
func (w *walker) message(path string, md protoreflect.MessageDescriptor, n *node, redact bool) *DecodeError {
	if isWellKnown(md.FullName()) && md.FullName() != "google.protobuf.Empty" {
		return w.wellKnown(path, md, n, redact)
	}
	return w.fields(path, md, n, false)
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
	w.coerced = true
	return nil
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
			w.changes = append(w.changes, Change{Kind: ChangeDropUnknownField, Path: p})
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
			err = w.mapValue(p, fd, val, isRedacted(fd))
		default:
			if od := fd.ContainingOneof(); od != nil {
				for _, s := range seenOneofs {
					if s == od {
						return &DecodeError{Path: p, Reason: "only one of " + oneofNames(od) + " may be set"}
					}
				}
				seenOneofs = append(seenOneofs, od)
			}
			err = w.single(p, fd, val, isRedacted(fd))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// list checks a repeated field; a single value where the list belongs is
// wrapped in one (null never gets here: it means unset).
func (w *walker) list(path string, fd protoreflect.FieldDescriptor, n *node) *DecodeError {
	redact := isRedacted(fd)
	if n.kind != arrayNode {
		if !mayBe(fd, n) {
			return expected(path, "an array")
		}
		item := *n
		c := Change{Kind: ChangeWrapRepeated, Path: path, Detail: "a single " + nodeNames[item.kind] + " read as a list of one"}
		if err := w.coerce(n, node{kind: arrayNode, items: []*node{&item}}, c, "a single value where a list is expected"); err != nil {
			return err
		}
	}
	for i, item := range n.items {
		p := path + "[" + strconv.Itoa(i) + "]"
		if item.kind == nullNode && !acceptsNull(fd) {
			return &DecodeError{Path: p, Reason: "null is not allowed in a list"}
		}
		if err := w.single(p, fd, item, redact); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) mapValue(path string, fd protoreflect.FieldDescriptor, n *node, redact bool) *DecodeError {
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
		if err := w.single(p, value, val, redact); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) single(path string, fd protoreflect.FieldDescriptor, n *node, redact bool) *DecodeError {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return w.message(path, fd.Message(), n, redact)
	case protoreflect.EnumKind:
		return w.enum(path, fd.Enum(), n, redact)
	default:
		return w.scalar(path, fd.Kind(), n, redact)
	}
}

func (w *walker) wellKnown(path string, md protoreflect.MessageDescriptor, n *node, redact bool) *DecodeError {
	switch name := md.FullName(); {
	case wrappers[name]:
		return w.scalar(path, md.Fields().ByName("value").Kind(), n, redact)
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
			return w.message(joinPath(path, "value"), md, n.vals[i], false)
		}
	}
	return expected(joinPath(path, "value"), "a value")
}

// enum checks n as a value of ed, coercing a name that matches exactly one
// value once case, the type prefix and spaces or hyphens are set aside.
func (w *walker) enum(path string, ed protoreflect.EnumDescriptor, n *node, redact bool) *DecodeError {
	err := enumOK(path, ed, n)
	if err == nil || n.kind != stringNode {
		return err
	}
	matches := matchEnum(ed, n.text)
	switch len(matches) {
	case 0:
		return err
	case 1:
	default:
		return &DecodeError{Path: path, Reason: "ambiguous name for " + string(ed.FullName()) + ": it could be " + joinNames(matches, 5)}
	}
	c := Change{Kind: ChangeCoerceEnum, Path: path, Detail: quoteOutput(n.text) + " → " + matches[0]}
	if redact {
		c.Detail = "→ " + matches[0]
	}
	return w.coerce(n, node{kind: stringNode, text: matches[0]}, c,
		"an enum name in another case or without its prefix, for "+matches[0])
}

// matchEnum returns the names of the values of ed that s names loosely:
// equal ignoring case, with spaces and hyphens read as underscores, and
// with or without the type prefix (SEVERITY_ for enum Severity, or the
// prefix every value shares). Aliases of one number count once.
func matchEnum(ed protoreflect.EnumDescriptor, s string) []string {
	s = strings.Join(strings.Fields(strings.ReplaceAll(s, "-", " ")), "_")
	if s == "" {
		return nil
	}
	values := ed.Values()
	common := commonPrefix(values)
	var names []string
	var numbers []protoreflect.EnumNumber
	for i := range values.Len() {
		v := values.Get(i)
		name := string(v.Name())
		if !strings.EqualFold(name, s) && !strings.EqualFold(trimTypePrefix(name, string(ed.Name())), s) &&
			!(len(name) > len(common) && strings.EqualFold(name[len(common):], s)) {
			continue
		}
		if slices.Contains(numbers, v.Number()) {
			continue
		}
		numbers = append(numbers, v.Number())
		names = append(names, name)
	}
	return names
}

// trimTypePrefix cuts the enum's type name from the front of a value name
// the way protoc compares them, ignoring case and underscores: SEVERITY_HIGH
// of Severity and FAILURE_DOMAIN_INPUT of FailureDomain lose their
// prefixes. It returns "" when the prefix is absent or is the whole name.
func trimTypePrefix(value, enum string) string {
	i := 0
	for j := 0; j < len(enum); j++ {
		if enum[j] == '_' {
			continue
		}
		for i < len(value) && value[i] == '_' {
			i++
		}
		if i == len(value) || lower(value[i]) != lower(enum[j]) {
			return ""
		}
		i++
	}
	for i < len(value) && value[i] == '_' {
		i++
	}
	if i == 0 || i == len(value) {
		return ""
	}
	return value[i:]
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// commonPrefix returns the longest prefix ending in '_' that every value
// name of an enum with two or more values shares, or "".
func commonPrefix(values protoreflect.EnumValueDescriptors) string {
	if values.Len() < 2 {
		return ""
	}
	prefix := string(values.Get(0).Name())
	for i := 1; i < values.Len() && prefix != ""; i++ {
		name := string(values.Get(i).Name())
		n := 0
		for n < len(prefix) && n < len(name) && prefix[n] == name[n] {
			n++
		}
		prefix = prefix[:n]
	}
	return prefix[:strings.LastIndexByte(prefix, '_')+1]
}

// scalar checks n as a value of kind, coercing a boolean in a string and a
// number in a string with surrounding spaces or a plus sign. Numbers in
// plain strings need no coercion: protojson reads them, and 64-bit
// integers are written that way.
func (w *walker) scalar(path string, kind protoreflect.Kind, n *node, redact bool) *DecodeError {
	err := scalarOK(path, kind, n)
	if err == nil || n.kind != stringNode {
		return err
	}
	quoted := quoteOutput(n.text)
	if kind == protoreflect.BoolKind {
		b := strings.EqualFold(n.text, "true")
		if !b && !strings.EqualFold(n.text, "false") {
			return err
		}
		c := Change{Kind: ChangeCoerceBool, Path: path, Detail: quoted + " → " + strconv.FormatBool(b)}
		if redact {
			c.Detail = "a string → a boolean"
		}
		return w.coerce(n, node{kind: boolNode, bool: b}, c, "a boolean in a string")
	}
	if kind == protoreflect.StringKind || kind == protoreflect.BytesKind {
		return err
	}
	text := strings.Trim(n.text, " \t\r\n")
	if len(text) > 1 && text[0] == '+' && text[1] != '-' {
		text = text[1:]
	}
	to := node{kind: numberNode, text: text}
	if text == n.text || !isJSONNumber(text) || scalarOK(path, kind, &to) != nil {
		return err
	}
	c := Change{Kind: ChangeCoerceNumber, Path: path, Detail: quoted + " → " + text}
	if redact {
		c.Detail = "a string → a number"
	}
	return w.coerce(n, to, c, "a number in a string with spaces or a plus sign")
}

// nodeNames names JSON kinds for change details.
var nodeNames = [...]string{
	nullNode:   "null",
	boolNode:   "boolean",
	numberNode: "number",
	stringNode: "string",
	arrayNode:  "array",
	objectNode: "object",
}

// mayBe reports whether n has a JSON kind that a value of fd's type can
// take, before any coercion: a single value given for a repeated field is
// wrapped only when it may be an element.
func mayBe(fd protoreflect.FieldDescriptor, n *node) bool {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		switch name := fd.Message().FullName(); {
		case name == "google.protobuf.Value":
			return true
		case name == "google.protobuf.ListValue":
			return false
		case wrappers[name]:
			return n.kind != objectNode
		case name == "google.protobuf.Timestamp", name == "google.protobuf.Duration", name == "google.protobuf.FieldMask":
			return n.kind == stringNode
		default:
			return n.kind == objectNode
		}
	case protoreflect.StringKind, protoreflect.BytesKind:
		return n.kind == stringNode
	default:
		return n.kind == stringNode || n.kind == numberNode || n.kind == boolNode
	}
}

// isRedacted reports whether fd is marked debug_redact.
func isRedacted(fd protoreflect.FieldDescriptor) bool {
	opts, ok := fd.Options().(*descriptorpb.FieldOptions)
	return ok && opts.GetDebugRedact()
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
