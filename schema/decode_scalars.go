package schema

import (
	"encoding/base64"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/guardgen/guardgen/internal/wellknown"
)

// The checks below say whether a parsed value is what protojson reads for
// a field, without coercing anything; they are what makes the walk's
// errors name a path before protojson would fail without one. Their errors
// have no path: the walker places them where it is (walker.failed).

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
		case wellknown.Wrapper(name):
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

func enumOK(ed protoreflect.EnumDescriptor, n *node) *DecodeError {
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
		return &DecodeError{Reason: "not a value of " + string(ed.FullName()) + "; expected one of " + joinNames(names, 20)}
	case numberNode:
		if integerOK(n.text, 32, false) {
			return nil
		}
	case nullNode:
		if ed.FullName() == "google.protobuf.NullValue" {
			return nil
		}
	}
	return expected("an enum value name")
}

// expected is the error for a value of the wrong kind; the walker places
// it (walker.failed).
func expected(what string) *DecodeError {
	return &DecodeError{Reason: "expected " + what}
}

func scalarOK(kind protoreflect.Kind, n *node) *DecodeError {
	switch kind {
	case protoreflect.BoolKind:
		if n.kind != boolNode {
			return expected("true or false")
		}
	case protoreflect.StringKind:
		if n.kind != stringNode {
			return expected("a string")
		}
	case protoreflect.BytesKind:
		if n.kind != stringNode || !base64OK(n.text) {
			return expected("base64 text")
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		if !floatOK(n, kind) {
			return expected("a number")
		}
	default:
		bits, unsigned := intShape(kind)
		if !numeric(n) || !integerOK(n.text, bits, unsigned) {
			what := "an integer"
			if bits == 64 {
				what = "an integer (a decimal string)"
			}
			return expected(what + " in the " + kind.String() + " range")
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
	_, _, ok := parseInteger(s, bits, unsigned)
	return ok
}

// parseInteger returns the JSON number text as an integer of the given
// width, signed in i or unsigned in u, when it is one that fits.
func parseInteger(s string, bits int, unsigned bool) (i int64, u uint64, ok bool) {
	var err error
	if unsigned {
		if u, err = strconv.ParseUint(s, 10, bits); err == nil {
			return 0, u, true
		}
	} else if i, err = strconv.ParseInt(s, 10, bits); err == nil {
		return i, 0, true
	}
	if !strings.ContainsAny(s, ".eE") {
		return 0, 0, false // plain digits that did not fit
	}
	if e := strings.IndexAny(s, "eE"); e >= 0 {
		if exp, err := strconv.Atoi(s[e+1:]); err != nil || exp > 400 || exp < -400 {
			return 0, 0, false
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || !r.IsInt() {
		return 0, 0, false
	}
	v := r.Num()
	if unsigned {
		if v.Sign() < 0 || v.BitLen() > bits {
			return 0, 0, false
		}
		return 0, v.Uint64(), true
	}
	lo := new(big.Int).Lsh(big.NewInt(-1), uint(bits-1))
	hi := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(bits-1)), big.NewInt(1))
	if v.Cmp(lo) < 0 || v.Cmp(hi) > 0 {
		return 0, 0, false
	}
	return v.Int64(), 0, true
}

func floatOK(n *node, kind protoreflect.Kind) bool {
	_, ok := parseFloat(n, kind)
	return ok
}

// parseFloat returns n as a float or double the way protojson reads it:
// a number, a number in a string, or "NaN", "Infinity" or "-Infinity".
func parseFloat(n *node, kind protoreflect.Kind) (float64, bool) {
	bits := 64
	if kind == protoreflect.FloatKind {
		bits = 32
	}
	switch {
	case n.kind == stringNode && n.text == "NaN":
		return math.NaN(), true
	case n.kind == stringNode && n.text == "Infinity":
		return math.Inf(1), true
	case n.kind == stringNode && n.text == "-Infinity":
		return math.Inf(-1), true
	case !numeric(n):
		return 0, false
	}
	f, err := strconv.ParseFloat(n.text, bits)
	return f, err == nil && !math.IsInf(f, 0)
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
	_, ok := decodeBase64(s)
	return ok
}

// decodeBase64 decodes s the way protojson does.
func decodeBase64(s string) ([]byte, bool) {
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if len(s)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	b, err := enc.DecodeString(s)
	return b, err == nil
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

// timestampOK checks an RFC 3339 timestamp the way protojson does.
func timestampOK(s string) bool {
	_, ok := parseTimestamp(s)
	return ok
}

// The range of google.protobuf.Timestamp: 0001-01-01T00:00:00Z to
// 9999-12-31T23:59:59Z.
const minTimestamp, maxTimestamp = -62135596800, 253402300799

// parseTimestamp reads an RFC 3339 timestamp as protojson does: in the
// years 1 to 9999 (UTC), with at most nine fractional digits.
func parseTimestamp(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Unix() < minTimestamp || t.Unix() > maxTimestamp {
		return t, false
	}
	i := strings.LastIndexByte(s, '.')  // start of the fraction
	j := strings.LastIndexAny(s, "Z-+") // start of the zone
	return t, !(i >= 0 && j >= i && j-i > len(".999999999"))
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
