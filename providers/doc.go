// Package providers connects guardgen to LLM providers through one contract,
// guardgen.provider.v1.ProviderService, and one client interceptor chain.
//
// A built-in provider (providers/synthetic, providers/openai) is a
// ProviderServiceServer called in process; an external provider is any
// gRPC server of the same service. Both are reached through a
// grpc.ClientConnInterface whose unary interceptors are the same, so
// tracing, retries, the circuit breaker and per-attempt deadlines behave
// identically whoever answers.
package providers
