package providers

// Metadata keys guardgen sends to providers. The server forwards every
// incoming x-guardgen-* key, so a caller can steer a provider that
// understands one (the synthetic provider's fault plan, for one).
const (
	// MetadataPrefix marks metadata forwarded from the caller to providers.
	MetadataPrefix = "x-guardgen-"
	// CallMetadataKey holds the 1-based number of this provider call within
	// one Generate request, counting transport retries and re-asks alike.
	CallMetadataKey = "x-guardgen-call"
)
