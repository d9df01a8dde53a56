// Package extract turns raw model text into JSON bytes, recording every
// change it makes on the way.
//
// Models wrap the object they were asked for in markdown fences and prose
// ("Sure! Here is the JSON: ..."), and they bend JSON syntax in well-known
// ways: trailing commas, comments, single-quoted strings, unquoted keys and
// values, Python's True/False/None and JavaScript's undefined, typographic
// quotes, raw newlines inside strings, quotes inside strings left
// unescaped, missing commas, numbers such as 1_000, .5 or +3, strings in
// backticks or triple quotes, Python tuples, members with no value, and
// brackets closed too early, too often or not at all. [JSON] and
// [Candidates] find each top-level object (and, on request, array) in the
// text and, only where strict JSON would fail, apply one of those repairs.
// Each stripped fence, stripped stretch of prose and repair is reported as
// a [Repair] with its byte offset in the input and the JSON path it is at,
// so a caller can audit exactly what happened before it decodes the bytes
// into its target message.
//
// A repair is made only where the text has one reading; anything else is
// [ErrMalformed]. A missing colon is never guessed, and an unquoted value
// holding ": " is refused, since it may hide a key whose comma was lost.
// An object or array that needs more than one repair per 16 bytes of text
// (and more than 256) is not JSON with slips but another format, and is
// refused too.
//
// Text cut off by the model's token limit is never completed. Brackets the
// model forgot to close are closed only when the text ends right after a
// complete string, object or array; text that ends inside a string, a
// number, a literal, a key, an unquoted value, or after ':', ',', '{' or
// '[', is [ErrTruncated], because closing it up would look complete and be
// wrong. (The caller still never parses text whose finish reason says it
// was cut off.)
//
// A text still being written is followed with [Stream]: it reads each
// piece once as it arrives and reports each value as soon as the text
// proves it complete, so a caller can show (and check) an answer as the
// model writes it, and read each complete value with [JSON].
//
// Every step is a forward scan whose lookahead is bounded by what it then
// reads anyway, so the work is linear in the input, which is bounded by
// [Options.MaxBytes]; the values the caller will decode are bounded by
// [Options.MaxValues]. An object that needs no repair is returned as a
// copy of its bytes with no other allocation than the repair list for
// stripped fences or prose.
package extract
