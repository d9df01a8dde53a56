// Package openai is guardgen's built-in OpenAI provider: a
// guardgen.provider.v1.ProviderService implemented on the official Go SDK
// (github.com/openai/openai-go/v3), talking to the Chat Completions API of
// OpenAI or of any compatible server (OPENAI_BASE_URL).
//
// One Complete is exactly one upstream HTTP request: the SDK's own retries
// are off, because guardgen's provider client interceptors own retries,
// backoff and the circuit breaker. Upstream failures come back as gRPC
// statuses with google.rpc details, as the provider contract in
// proto/guardgen/provider/v1 defines them; upstream error bodies never reach
// a status message, since they can echo the prompt. Response bodies are
// read through a size limit (Options.MaxResponseBytes), so an upstream
// cannot make one call hold more memory than that.
//
// Output is constrained in one of three modes ([OutputMode]): Structured
// Outputs with a strict JSON Schema (the default; [Strict] converts
// guardgen's derived schema into OpenAI's strict subset, and the test
// oracle in package strictcheck checks that subset independently), JSON
// mode, or plain prompting.
//
// openai-go is the client: it resolves the base URL, sets the
// authentication and its own headers, and reads error statuses into
// *openai.Error. It builds the request once, when the provider is made,
// and every call sends it with the provider's body: over connections the
// provider keeps itself for a cleartext upstream (conns.go: HTTP/1.1, no
// goroutine per connection, net/http's response parser), over net/http's
// transport for HTTPS (HTTP/2) or through a proxy. The body is encoded by
// the provider, with each target's parts encoded once, and only the fields
// of the answer guardgen reads are decoded. Request (URL, headers, body)
// and answer are checked against the SDK's own (sdk_test.go).
//
// Package openaitest is a scripted OpenAI-compatible server for tests.
package openai
