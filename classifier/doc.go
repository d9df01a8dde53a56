// Package classifier is guardgen's failure model: it turns what went wrong at
// each stage of the pipeline (a provider status, a finish reason, an
// extraction or validation error) into a [Failure] with a failure domain, a
// recovery action and a gRPC code.
//
// The decision matrix of the reference article lives in one table,
// [Matrix], keyed by the proto enum guardgen.v1.FailureReason. Everything
// else in guardgen asks this package what a failure means instead of
// deciding on its own: the provider retry interceptor asks [Retriable], the
// attempt loop asks [Decision.Reasks], and the server edge turns a Failure
// into a google.rpc.Status.
package classifier
