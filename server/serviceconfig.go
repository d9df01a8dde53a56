package server

import _ "embed"

// ServiceConfig is guardgen's published gRPC client service config (the
// JSON of gRFC A6 retry policies), for grpc.WithDefaultServiceConfig in Go
// and the equivalent channel option elsewhere; server/service_config.json
// holds the same text for clients in other languages. It retries
// UNAVAILABLE and RESOURCE_EXHAUSTED up to 3 attempts with backoff from
// 0.2 s to 2 s, and the clients honour the grpc-retry-pushback-ms trailer
// guardgen sets (see PushbackTrailer): the RetryInfo delay of a shed or
// rate-limited call, or -1, "do not retry", for failures guardgen has
// already retried upstream or that cannot recover.
//
//go:embed service_config.json
var ServiceConfig string
