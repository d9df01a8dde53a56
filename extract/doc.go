// Package extract turns raw model text into JSON object bytes, recording
// every change it makes on the way.
//
// Models wrap the object they were asked for in markdown fences and prose
// ("Sure! Here is the JSON: ..."), and they bend JSON syntax in a few
// well-known ways: trailing commas, comments, single-quoted strings,
// unquoted keys, Python's True/False/None, typographic quotes, raw newlines
// inside strings. [JSON] and [Candidates] find each top-level object in the
// text and, only where strict JSON would fail, apply one of those repairs.
// Each stripped fence, stripped stretch of prose and repair is reported as a
// [Repair] with its byte offset in the input, so a caller can audit exactly
// what happened before it decodes the bytes into its target message.
//
// Anything outside that bounded set of repairs is [ErrMalformed]; a missing
// colon, for example, is never guessed. Text that ends inside an object,
// array or string was cut off (the model hit its token limit) and is
// [ErrTruncated]: it is never closed up into something parseable, because
// the result would look complete and be wrong.
//
// Every step is a forward, single-pass scan, so the work is linear in the
// input, which is bounded by [Options.MaxBytes]. An object that needs no
// repair is returned as a copy of its bytes with no other allocation than
// the repair list for stripped fences or prose.
package extract
