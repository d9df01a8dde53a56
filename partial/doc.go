// Package partial builds the partial messages of an answer a model is
// still writing: typed protobuf messages of the target type holding the
// fields that are complete so far, each checked against its own rules as
// soon as it is complete.
//
// A [Builder] follows the model's text with an [extract.Stream], which
// says when each value of the answer is complete, and reads it as a unit:
//
//   - a field of a scalar, enum or well-known type (a Timestamp, a
//     Struct), once its value is complete;
//   - an element of a list, or an entry of a map, once complete whole (an
//     element that is a message appears with all its fields at once);
//   - a nested message field by field, recursively; a message, list or map
//     is itself complete once closed.
//
// Each unit is read as the final answer will be, by the same code: its
// text, wrapped in the objects that lead to it, goes through extract.JSON
// (the same repairs) and Target.Decode (the same alignment to the schema),
// and the decoded value is merged into the partial message. A unit that
// does not read as its field's value stops the builder (see
// [Builder.Err]): its partials end there, and the whole text will be
// judged once the model is done.
//
// # Checking
//
// A unit is validated at once, alone: protovalidate on a message holding
// just the unit, keeping the violations on the unit itself (a required
// field not yet written is not a violation yet). A message-level CEL rule
// (a business rule) runs as soon as every field it reads is complete: the
// fields it selects from `this` in its parsed expression (see rules.go); a
// rule that uses `this` otherwise waits for its message to close. Once a
// message, list or map closes, the whole partial message is validated and
// the violations kept are those on complete ground: on a complete value or
// inside one, so that list rules (min_items, unique) and the remaining
// message-level rules are checked once every field they may read is
// complete — whatever fields a rule reads, they are all final once the
// message that holds it has closed.
//
// # Cost
//
// The text is scanned once, in pieces; each unit is read once, and each
// container close validates the partial message once. Closes are few (the
// messages, lists and maps not inside a list element or map entry), so
// the work stays linear in the text for the usual shapes.
package partial
