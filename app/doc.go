// Package app is guardgen's composition root: the one place where a
// validated configuration becomes a running service — providers and their
// client interceptor chains, routes, the cache, templates, limits, security
// and telemetry, handed to package server.
//
// Everything that starts guardgen goes through New: the guardgen command,
// the soak and load harnesses and the end-to-end tests, so there is no
// second wiring to drift from this one. Package apptest starts it on a
// loopback port for tests.
package app
