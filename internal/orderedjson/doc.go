// Package orderedjson reads and writes JSON values whose objects keep their
// members in order. guardgen writes JSON Schemas in field-number order
// (models tend to follow the order of the schema), rewrites them for
// OpenAI's strict mode without reordering them, and generates instances in
// the order the schema declares: encoding/json's map[string]any would lose
// the order each time.
//
// A value is nil, bool, string, json.Number, int, []string, []any or
// *Object. Strings are written as encoding/json writes them with HTML
// escaping off: <, > and & stay readable in patterns and descriptions,
// invalid UTF-8 becomes U+FFFD, and U+2028 and U+2029 are escaped.
package orderedjson
