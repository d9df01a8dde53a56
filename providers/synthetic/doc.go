// Package synthetic is guardgen's built-in, deterministic provider: no
// network, no model, no key. It answers guardgen.provider.v1.ProviderService
// Complete (and CompleteStream, in chunks) with a JSON instance generated from the request's output schema,
// so the whole pipeline (extraction, decoding, protovalidate, the failure
// model) runs offline, in tests and in demos.
//
// # Instances
//
// The instance depends only on the schema and the first user message: its
// FNV-1a hash seeds a PCG generator. The schema dialect is the one guardgen
// derives from protobuf descriptors (JSON Schema 2020-12): properties in
// field order, required, $defs and $ref (recursion ends below depth 3,
// where only required properties and minItems elements remain), enum,
// const, numeric bounds (values prefer 1..100, so counts are positive),
// string lengths, RE2 patterns (a walk of the parsed pattern, checked by the
// compiled one), formats (date-time, date, email, uri, uuid, hostname, ipv4,
// ipv6), base64 bytes, arrays, maps (additionalProperties and
// propertyNames) and protobuf oneofs (an object-level oneOf of required
// lists: exactly one member appears). Plain strings are made of the prompt's
// words; 64-bit integers (strings matching ^-?[0-9]+$) are small positive
// numbers; date-times increase in document order, so rules such as
// resolved_at >= detected_at hold.
//
// # Faults
//
// Request metadata FaultsMetadataKey holds a fault plan, one entry per
// provider call of a request (providers.CallMetadataKey numbers them), so
// a caller can script "rate_limit,ok" or "schema,schema" and watch guardgen
// recover. Entries (see Faults):
//
//   - ok: the valid instance.
//   - rate_limit: RESOURCE_EXHAUSTED with ErrorInfo RATE_LIMITED and
//     RetryInfo (WithRetryDelay).
//   - unavailable, timeout: UNAVAILABLE, DEADLINE_EXCEEDED.
//   - hang: no answer until the call's context ends (its deadline, a
//     per-attempt timeout, the caller going away).
//   - length: the first half of the instance, finish reason LENGTH.
//   - content_filter, refusal: no content, finish reason CONTENT_FILTER or
//     REFUSAL (with refusal text).
//   - fence, prose: the instance in a ```json fence, or wrapped in chat.
//   - malformed: the instance without the ':' after its first key.
//   - schema: an instance that still decodes but breaks one field rule,
//     chosen deterministically: the first numeric bound (maximum+1), else
//     the first maxLength, minLength, pattern, format or minItems rule
//     (TicketClassification gets priority 6).
//   - unknown_field: the instance plus a root property the schema lacks.
//   - business_rule: the instance with its date-times decreasing in
//     document order, so every field rule holds but an ordering rule
//     across fields breaks (IncidentReport's resolved_at >= detected_at,
//     rule incident.resolved_after_detected). A schema without date-times
//     gets the valid instance.
//   - low_confidence:FIELD: the valid instance, but when the request asks
//     for logprobs every token of the values at the dotted key path FIELD
//     (e.g. priority, services.name; plain low_confidence: every value) has
//     probability LowConfidence.
//   - verify_reject: for a verification call (CompleteRequest.purpose), a
//     verdict that the values are not supported, with RejectedReason; for
//     any other call, INVALID_ARGUMENT.
//   - stream_reset: for CompleteStream, half of the chunks of the valid
//     instance, then UNAVAILABLE (a connection reset mid-answer); for
//     Complete, UNAVAILABLE.
//   - slow_start[:DURATION]: the valid instance, its first chunk (for
//     Complete, the answer) DURATION late (DefaultSlowStart without one).
//
// # Streaming
//
// CompleteStream answers what Complete would, cut into chunks of
// ChunkTokens tokens (the tokens its logprobs are given for), the last
// chunk carrying the finish reason, refusal and usage.
//
// # Log-probabilities and verification
//
// A request that asks for logprobs gets them for every answer: the content
// cut into short tokens, each with a probability between 0.998 and 0.9998
// drawn from the prompt's seed. A verification call (purpose
// PURPOSE_VERIFICATION) is answered, for ok, with a verdict that every
// value is supported (SupportedReason); the other answer faults apply to
// that verdict as they do to an instance.
package synthetic
