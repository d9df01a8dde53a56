// Package ratelimit keeps per-caller rate limits that a fleet of guardgen
// replicas shares: GCRA (the generic cell rate algorithm, a token bucket
// kept as one timestamp per caller) evaluated atomically inside a
// redis-server by a Lua script, on the server's clock, so that replicas
// with skewed clocks still agree.
//
// github.com/go-redis/redis_rate implements the same algorithm, but no
// version of it that works with go-redis v9 is among the modules this
// project may use; the script here is the few lines it needs.
package ratelimit
