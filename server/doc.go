// Package server is guardgen's gRPC edge and orchestrator: the
// GenerationService and TargetService handlers, the server interceptor
// chain, the attempt loop that routes each failure by its domain, the
// mapping of classified failures to google.rpc.Status, and the server's
// lifecycle (health, reflection, graceful drain).
//
// Inside the package failures are values (*classifier.Failure); they become
// statuses with details once, in status.go.
package server
