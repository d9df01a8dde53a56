package schema

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kinds of [Change], as they appear in a guardgen.v1.Repair.
const (
	// ChangeDropUnknownField: a member the target type does not define
	// was left out.
	ChangeDropUnknownField = "drop_unknown_field"
	// ChangeCoerceEnum: an enum value name in another case, without its
	// type prefix, or with spaces or hyphens for underscores, was read as
	// the one value it names.
	ChangeCoerceEnum = "coerce_enum"
	// ChangeCoerceNumber: a number in a string that protojson refuses
	// (surrounding spaces, a leading plus sign) was read as that number.
	ChangeCoerceNumber = "coerce_number"
	// ChangeCoerceBool: "true" or "false" in a string, in any case, was
	// read as the boolean.
	ChangeCoerceBool = "coerce_bool"
	// ChangeWrapRepeated: a single value where a list is expected was
	// read as a list of one.
	ChangeWrapRepeated = "wrap_repeated"
)

// Change is one thing a non-strict [Target.Decode] did to make the output
// fit the target type: an unknown field dropped or a value coerced. Each
// is unambiguous; anything that is not fails the decode instead.
type Change struct {
	// Kind is one of the Change* constants.
	Kind string
	// Path is the JSON path of the value, e.g. "services[0].region".
	Path string
	// Detail says what was done, e.g. `"high" → SEVERITY_HIGH`. It quotes
	// at most a few dozen characters of output, and none for fields
	// marked debug_redact. Empty for dropped fields.
	Detail string
}

// String returns "path: detail", or the path alone.
func (c Change) String() string {
	if c.Detail == "" {
		return c.Path
	}
	return c.Path + ": " + c.Detail
}

// maxQuoted is how many bytes of a model's value a Change detail quotes.
const maxQuoted = 40

// quoteOutput quotes a value taken from model output for a Change detail,
// cut to maxQuoted bytes.
func quoteOutput(s string) string {
	if len(s) > maxQuoted {
		cut := maxQuoted
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = strings.ToValidUTF8(s[:cut], "") + "…"
	}
	return strconv.Quote(s)
}
