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
	// ChangeMatchKey: a key written unlike its field's names (spaces
	// around it, another case, accents, '-', '_', spaces or camelCase)
	// was read as the one field it loosely names.
	ChangeMatchKey = "match_key"
	// ChangeCoerceChoice: a string whose field allows only a list of
	// values ("in"), written in another case or with spaces around it,
	// was read as the one allowed value.
	ChangeCoerceChoice = "coerce_choice"
	// ChangePickChoice: a longer answer where an enum or a string with an
	// "in" rule is expected, naming exactly one allowed value as whole
	// words, was read as that value.
	ChangePickChoice = "pick_choice"
	// ChangeParseJSONString: a string holding JSON where an object or an
	// array is expected was read as that JSON.
	ChangeParseJSONString = "parse_json_string"
	// ChangeUnwrapList: a list of one where a single value is expected
	// was read as its element.
	ChangeUnwrapList = "unwrap_list"
	// ChangeFillList: an array where a message is expected filled the
	// message's only repeated field.
	ChangeFillList = "fill_list"
	// ChangePickElement: of an array of objects where one object is
	// expected, the only element that fits was taken.
	ChangePickElement = "pick_element"
	// ChangeUnwrapValue: an object holding only "value" where a wrapper
	// type's scalar is expected ({"value": 3} for an Int32Value) was read
	// as that value.
	ChangeUnwrapValue = "unwrap_value"
)

// Change is one thing a non-strict [Target.Decode] did to make the output
// fit the target type: an unknown field dropped, a key matched, or a value
// coerced or reshaped. Each is unambiguous; anything that is not fails the
// decode instead.
type Change struct {
	// Kind is one of the Change* constants.
	Kind string
	// Path is the JSON path of the value, e.g. "services[0].region".
	Path string
	// Detail says what was done, e.g. `"high" → SEVERITY_HIGH`. It quotes
	// at most a few dozen characters of output, and none for fields
	// marked debug_redact.
	Detail string
}

// String returns "path: detail", or the detail alone at the root.
func (c Change) String() string {
	if c.Path == "" {
		return c.Detail
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
