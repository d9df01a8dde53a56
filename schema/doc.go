// Package schema resolves target types and prepares everything guardgen
// needs to ask a model for one: the message descriptor, a JSON Schema in
// the dialect providers understand, a protojson decoder that tolerates (and
// reports) unknown fields, and a protovalidate validator built and warmed
// before the first request uses it.
//
// A [Resolver] knows three kinds of target: message types compiled into the
// binary, types from descriptor set files loaded at start, and types defined
// by a request's own google.protobuf.FileDescriptorSet. The first two are
// resolved by a map lookup; request-defined targets are built once per
// distinct set (keyed by a hash of its deterministic encoding) and kept in a
// bounded LRU cache, so repeated requests reuse the [Target] and its warm
// validator.
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
// [Target.Decode] runs plain protojson first. Only when that fails does it
// parse the JSON into a tree and walk it against the descriptor, which finds
// unknown fields (dropped and reported as [Drop] values, or an error in
// strict mode) and pinpoints type errors by JSON path. The walk is the place
// for future descriptor-guided coercions (enum names in any case or without
// their prefix, booleans or numbers in forms protojson refuses, a single value for a repeated
// field).
package schema
