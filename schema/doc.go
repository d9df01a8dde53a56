// Package schema resolves target types and prepares everything guardgen
// needs to ask a model for one: the message descriptor, a JSON Schema in
// the dialect providers understand, a protojson decoder that tolerates (and
// reports) unknown fields, and a protovalidate validator built (and, for
// the server's own types, warmed) before the first request uses it.
//
// A [Resolver] knows three kinds of target: message types compiled into the
// binary, types from descriptor set files loaded at start, and types defined
// by a request's own google.protobuf.FileDescriptorSet. The first two are
// resolved by a map lookup; request-defined targets are built once per
// distinct set (keyed by a hash of its deterministic encoding) and kept in an
// LRU cache bounded by count and by estimated bytes, so repeated requests
// reuse the [Target] and its validator.
//
// # Files
//
// The package holds three concepts, each in files of its own prefix, and
// the [Target] they produce:
//
//   - resolve*.go: target resolution — the [Resolver], descriptor files and
//     request sets (resolve_files.go), the cache of request-defined targets
//     (resolve_cache.go), and the bounds on untrusted rules
//     (resolve_rules.go, resolve_regex.go);
//   - jsonschema*.go: JSON Schema derivation — messages, fields and
//     well-known types (jsonschema.go), scalar rules as keywords
//     (jsonschema_scalars.go) and as description notes (jsonschema_notes.go);
//   - decode*.go: lenient decoding — the walk (decode.go), the JSON tree it
//     walks (decode_tree.go), alignment of keys, shapes, scalars, enums and
//     "in" strings (decode_align.go, decode_shape.go, decode_scalars.go,
//     decode_coerce.go, decode_choices.go, decode_instrings.go), building
//     the message (decode_build.go) and the reported changes
//     (decode_change.go, decode_path.go);
//   - target*.go: the [Target] itself, the rules it describes
//     (target_rules.go) and the guard that bounds its CEL rules at
//     validation time (target_celguard.go).
//
// # Request-defined types
//
// A request's descriptor set is untrusted: before anything is built from
// it, its size and shape are bounded, every CEL rule it carries (message
// and field rules, predefined rules it declares) must compile and its
// static cost estimate — with every string, list and map as large as the
// largest value the server validates — must stay within a budget, and every
// regular expression (pattern rules, constant matches() arguments) must
// compile to a bounded program. The validator is then compiled but never
// run until it checks an answer. Operators can refuse CEL rules, or
// request-defined types altogether.
//
// # JSON Schema
//
// [Target.JSONSchema] is JSON Schema draft 2020-12 that follows protojson:
// properties use JSON field names, 64-bit integers are decimal strings,
// enums are value names, bytes are base64 and well-known types use their
// JSON forms (Timestamp is an RFC 3339 string, Duration a string such as
// "1.5s", wrappers their wrapped scalar). Every message type other than the
// root lives in "$defs" keyed by its full name, so recursive types work.
// protovalidate rules become schema keywords where JSON Schema has one
// (lengths, patterns, ranges, enum restrictions, item and pair counts,
// formats) and text in "description" where it does not (byte lengths,
// not_in, timestamp bounds, CEL rules). Message-level CEL rules are listed
// in the object's description so that the model sees the business rule.
//
// A field is listed in "required" when the model cannot omit it and still
// pass validation: it carries (buf.validate.field).required; or it has
// implicit presence (a proto3 scalar outside any oneof and not optional)
// and its rules reject the zero value — an empty string with min_len > 0,
// a pattern or a format, a number range or "in" list without 0, an enum
// rule excluding 0; or it is a repeated or map field with min_items or
// min_pairs above zero. A oneof with (buf.validate.oneof).required becomes
// a "oneOf" of single-member "required" lists; other oneofs are noted in
// the description ("at most one of ...").
//
// # Decoding
//
// [Target.Decode] runs plain protojson first, so a well-formed answer costs
// no more than protojson itself. Only when that fails does it parse the JSON
// into a tree and walk it against the descriptor. The walk finds unknown
// fields, aligns to the schema what has exactly one reading, and pinpoints
// everything else by JSON path:
//
//   - keys: the JSON name, then the proto name, then the one field a key
//     names once spaces around it, case, accents, '-', '_', spaces and
//     camelCase are set aside (" Priority ", "due-date", "descripcion" for
//     descripción); a key naming two fields is refused;
//   - an enum name in another case, without its type prefix, or with
//     spaces or hyphens for underscores ("high", "High", "severity high" →
//     SEVERITY_HIGH); a name matching two values is refused; a longer
//     answer naming exactly one allowed value as whole words ("High:
//     customers cannot pay");
//   - true, false, yes, no, 1 and 0, in strings in any case, and the
//     numbers 1 and 0, for bool fields;
//   - a number in a string with surrounding spaces or a plus sign, or, for
//     integers, thousands separators, when it is exact and in range for the
//     field (" 3", "+3" → 3; "1,234" → 1234; never "3.5" or "1,5" for an
//     integer). A number in a plain string ("3") needs no coercion:
//     protojson accepts it for every numeric type;
//   - a string holding JSON where an object or array is expected
//     (`"[\"urgent\"]"`), read once: JSON read from a string is not read
//     from a string again;
//   - a single value where a repeated field expects a list, when it may be
//     an element; a list of one where a single value is expected;
//   - an array where a message is expected: it fills the message's only
//     repeated field when it has one and the items fit, else the one
//     object of the array that fits the message is taken (several fitting
//     is refused).
//
// After decoding, on either path, a string whose field has an "in" rule
// and whose value is not allowed is read as the one allowed value it names:
// in another case or with spaces around it, or as whole words in a longer
// answer ("Billing — charged twice" → billing). One that names none or
// several is left for validation to report.
//
// Each is reported as a [Change] with its path; in strict mode each is a
// *[DecodeError] instead, and "in" strings are left for validation. An
// object whose members are all unknown is refused in both modes: dropping
// them would answer with an empty message. Coercions never reach inside
// google.protobuf.Struct or Value, and timestamps, durations and strings
// are never guessed at.
//
// # Well-known targets
//
// google.protobuf.Struct, Value and ListValue and the wrapper types are
// targets of every [Resolver], and request descriptor sets may import them,
// so a caller can ask for a top-level array or scalar: their JSON Schema
// and decoding follow protojson's JSON forms.
package schema
