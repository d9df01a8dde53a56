// Package fallback holds what guardgen serves when generation cannot
// produce a valid message: the cache of last valid results and the
// per-type templates from config. They are steps (a) and (c) of the
// degradation chain that FALLBACK_TO_CACHE and ALERT_AND_DEGRADE start
// (step (b), the route's fallback entry, is a provider call and lives with
// the routes).
//
// # Cache
//
// Every valid result is stored under [Key] of its [Scope]: target type,
// descriptor hash, model, and a hash of the caller, the instructions, the
// request options that change the output and the normalised prompt. A degraded answer is the
// stored [Entry], served with its [Age]. Two backends implement [Cache]:
// [Memory], a bounded LRU with a TTL for a single replica (the default),
// and [Redis], shared by all replicas so that one serves what another
// stored.
//
// A cache is an optimisation on a path that is already failing, so a cache
// error never fails a request: callers log it and treat it as a miss (on
// Get) or ignore it (on Put). Backends return errors rather than hide them
// so that the caller can count and log them; [Redis] bounds every call
// with dial, read and write timeouts and the caller's context. A remote
// backend is wrapped in [Guarded], so that it can never slow a request
// down: reads under a short timeout, writes queued off the request path
// (dropped and reported when the queue is full), and a circuit breaker
// that turns an unhealthy backend off and probes it back on.
//
// # Templates
//
// [Templates] maps a target type to a fixed JSON message from config, the
// last answer before a FailureDetail.
package fallback
