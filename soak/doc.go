// Package soak proves guardgen under sustained chaos, from the outside.
//
// [Run] drives a steady, bounded request rate at a Generate endpoint for a
// fixed time, gives every call a deadline, and records exactly one terminal
// status per call. [Report.Check] then enforces the invariants an operator
// relies on: no call is lost or answered twice, no status is UNKNOWN, and
// every non-OK status guardgen sends carries a guardgen.v1.FailureDetail.
// [Chaos] scripts an OpenAI-compatible upstream that misbehaves the way
// real ones do: latency, hangs, connection resets, 5xx, 429 with
// Retry-After, malformed JSON and truncated output.
//
// The tests in this package run the chaos soak (TestSoak: guardgen in
// process, so goroutines and heap can be compared with their baseline after
// the load) and the graceful-shutdown proof (TestShutdownUnderLoad: the
// real guardgen binary, SIGTERM with hundreds of calls in flight):
//
//	go test ./soak/ -run Soak                       # 30 s, as CI runs it
//	go test ./soak/ -run Soak -soak.duration=3m     # the long soak
//	SOAK_DURATION=10m go test ./soak/ -run Soak -timeout 20m
//	go test ./soak/ -run Shutdown
package soak
