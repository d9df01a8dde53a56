// Package providers connects guardgen to LLM providers through one contract,
// guardgen.provider.v1.ProviderService, and one client interceptor chain.
//
// A built-in provider (providers/synthetic, providers/openai) is a
// ProviderServiceServer called in process; an external provider is any
// gRPC server of the same service. Both are reached through a
// grpc.ClientConnInterface whose unary interceptors are the same, so
// tracing, retries, the circuit breaker and per-attempt deadlines behave
// identically whoever answers.
//
// The chain ([NewChain], [Chain.Interceptors]) holds what outlives one call
// per provider:
//
//   - a circuit breaker (sony/gobreaker v2, two-step) that counts only
//     infrastructure failures as failures, and successes as successes; a
//     caller's cancellation or deadline, a 4xx or a semantic failure is
//     excluded. Half-open, it admits one probe; a good probe closes it;
//   - a retry budget in the manner of gRFC A6 ([BudgetPolicy]), so that a
//     sustained outage costs about one upstream attempt per request.
//
// CompleteStream calls get the same from [Chain.StreamInterceptors] (see
// [Chain.InProcess] and [Chain.DialOptions]): one attempt, one record and
// one failure per stream; a stream is retried while it has delivered no
// chunk, and after that only when its caller allows a restart
// ([WithRestarts]). [OpenStream] asks a provider without CompleteStream
// with Complete, and [Completion] collects a stream's chunks.
//
// Per call it retries transient infrastructure faults with go-grpc-middleware's
// retry interceptor: [Policy.MaxAttempts] calls at most (what retry.WithMax
// counts on the pinned version), jittered exponential backoff, at least the
// upstream's RetryInfo hint, never a wait that would pass the caller's
// deadline (the call fails at once and hands the hint on instead).
package providers
