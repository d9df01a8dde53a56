package schema

import (
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// enum checks n as a value of ed, coercing a name that matches exactly one
// value once case, the type prefix and spaces or hyphens are set aside,
// and else a longer answer that names exactly one value the field's rules
// admit (see choices).
func (w *walker) enum(fd protoreflect.FieldDescriptor, n *node, redact bool) *DecodeError {
	ed := valueOf(fd).Enum()
	err := w.failed(enumOK(ed, n))
	if err == nil || n.kind != stringNode {
		return err
	}
	kind, what := ChangeCoerceEnum, "an enum name in another case or without its prefix, for "
	matches := matchEnum(ed, n.text)
	switch len(matches) {
	case 0:
		name, ok := w.align.choices[fd].within(n.text)
		if !ok {
			return err
		}
		matches = []string{name}
		kind, what = ChangePickChoice, "a longer answer naming one value, "
	case 1:
	default:
		return &DecodeError{Path: w.at(), Reason: "ambiguous name for " + string(ed.FullName()) + ": it could be " + joinNames(matches, 5)}
	}
	return w.coerce(n, node{kind: stringNode, text: matches[0]}, w.change(kind, n.text, matches[0], redact), what+matches[0])
}

// change describes a coercion of the value from to to, quoting from only
// when the field is not redacted.
func (w *walker) change(kind, from, to string, redact bool) Change {
	if redact {
		return Change{Kind: kind, Path: w.at(), Detail: "→ " + to}
	}
	return Change{Kind: kind, Path: w.at(), Detail: quoteOutput(from) + " → " + to}
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

// scalar checks n as a value of kind, coercing what has one reading: a
// boolean written as a word or a digit, a number in a string with
// surrounding spaces, a plus sign or (for integers) thousands separators.
// Numbers in plain strings need no coercion: protojson reads them, and
// 64-bit integers are written that way.
func (w *walker) scalar(kind protoreflect.Kind, n *node, redact bool) *DecodeError {
	err := w.failed(scalarOK(kind, n))
	switch {
	case err == nil:
		return nil
	case kind == protoreflect.BoolKind:
		return w.boolean(n, err, redact)
	case n.kind != stringNode || kind == protoreflect.StringKind || kind == protoreflect.BytesKind:
		return err
	}
	text := strings.Trim(n.text, " \t\r\n")
	if len(text) > 1 && text[0] == '+' && text[1] != '-' {
		text = text[1:]
	}
	what := "a number in a string with spaces or a plus sign"
	if grouped, ok := ungroup(text); ok && kind != protoreflect.FloatKind && kind != protoreflect.DoubleKind {
		text, what = grouped, "a number with thousands separators"
	}
	to := node{kind: numberNode, text: text}
	if text == n.text || !isJSONNumber(text) || scalarOK(kind, &to) != nil {
		return err
	}
	c := w.change(ChangeCoerceNumber, n.text, text, false)
	if redact {
		c.Detail = "a string → a number"
	}
	return w.coerce(n, to, c, what)
}

// boolean coerces true, false, yes, no, 1 and 0, in strings in any case
// with spaces around them, and the numbers 1 and 0, to a boolean.
func (w *walker) boolean(n *node, err *DecodeError, redact bool) *DecodeError {
	var b bool
	switch {
	case n.kind == numberNode && (n.text == "1" || n.text == "0"):
		b = n.text == "1"
	case n.kind == stringNode:
		switch strings.ToLower(strings.TrimSpace(n.text)) {
		case "true", "yes", "1":
			b = true
		case "false", "no", "0":
		default:
			return err
		}
	default:
		return err
	}
	c := Change{Kind: ChangeCoerceBool, Path: w.at(), Detail: "a " + nodeNames[n.kind] + " → " + strconv.FormatBool(b)}
	if !redact {
		from := n.text
		if n.kind == stringNode {
			from = quoteOutput(n.text)
		}
		c.Detail = from + " → " + strconv.FormatBool(b)
	}
	what := "a boolean in a string"
	if n.kind == numberNode {
		what = "a boolean written as a number"
	}
	return w.coerce(n, node{kind: boolNode, bool: b}, c, what)
}

// ungroup removes the thousands separators of an integer written with
// them, "1,234,567" or "-1,234"; ok is false for anything else ("1,5",
// "12,34").
func ungroup(s string) (string, bool) {
	digits := strings.TrimPrefix(s, "-")
	groups := strings.Split(digits, ",")
	if len(groups) < 2 || len(groups[0]) == 0 || len(groups[0]) > 3 {
		return "", false
	}
	for i, g := range groups {
		if i > 0 && len(g) != 3 || strings.Trim(g, "0123456789") != "" {
			return "", false
		}
	}
	return s[:len(s)-len(digits)] + strings.Join(groups, ""), true
}
