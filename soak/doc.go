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
// [NewHostile] draws issue 11's attacks: oversize prompts, inline types
// with expensive CEL or huge regular expressions, invalid UTF-8, masses of
// metadata, cache probing by forced truncation, and models, token limits
// and routes a caller should not choose.
//
// The tests in this package run the chaos soak (TestSoak: guardgen in
// process, so goroutines and heap can be compared with their baseline after
// the load), the graceful-shutdown proofs (TestShutdownUnderLoad and
// TestShutdownEndsHungCalls: the real guardgen binary, SIGTERM with calls
// in flight) and, on request, the adversarial soak (TestAdversarialSoak:
// the real binary, normal traffic alone and then with 5 % hostile calls,
// Redis frozen and thawed throughout):
//
//	go test ./soak/ -run Soak                       # 30 s, as CI runs it
//	go test ./soak/ -run Soak -soak.duration=3m     # the long soak
//	SOAK_DURATION=10m go test ./soak/ -run Soak -timeout 20m
//	go test ./soak/ -run Shutdown
//	go test ./soak/ -run Adversarial -soak.adversarial=60s -timeout 10m
//	SOAK_ADVERSARIAL=20s go test ./soak/ -run Adversarial   # as CI runs it
package soak
