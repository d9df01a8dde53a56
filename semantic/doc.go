// Package semantic is guardgen's check of what an answer means, after
// protovalidate has checked its shape: the article's third pitfall ("schema
// validation checks structure, not truth").
//
// A target type marks fields with guardgen's own options
// (guardgen/v1/options.proto), or the configuration marks them per type:
// critical, min_confidence and a verify question. [Checks] holds a type's
// marks. Two checks read them:
//
//   - Confidence. When the provider returns token log-probabilities,
//     [Checks.Measure] maps the tokens onto the JSON value of each scalar
//     field and multiplies their probabilities. A value's text is a number,
//     true, false or null as written, or a string's characters between its
//     quotes (escapes as written; the closing quote for an empty string).
//     Keys, quotes, colons, commas, brackets and whitespace belong to no
//     value. A token that shares at least one byte with a value's text
//     counts, whole, for that value; a token made only of structure counts
//     for none. When the accepted JSON is the model's text verbatim (give or
//     take fences and prose around it) every value is measured; when a
//     repair changed it, each value is looked for in the model's text, in
//     document order, as written, in value position after its own key, and
//     a value that cannot be found that way (a Python literal, a re-escaped
//     string) has no confidence, with the reason. Without log-probabilities
//     nothing is measured and nothing is invented.
//   - Verification. [Checks.Items] lists the values of fields with a verify
//     question, and [VerifierMessages] asks a second model about all of them
//     at once for a guardgen.v1.Verdict.
//
// Measure works on any prefix of a model's text as well as on the whole: it
// measures only values that are complete (followed by the byte that ends
// them), so a streaming path can call it as fields complete.
package semantic
