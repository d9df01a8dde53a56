// Package openaitest runs a local, scripted OpenAI-compatible HTTP server for
// tests and demos.
//
// The server answers POST /v1/chat/completions the way the OpenAI API
// documents it, and GET /v1/models minimally. Each chat completion request
// takes the next scripted [Step] from a queue ([Server.Enqueue]); when the
// queue is empty the default step applies ([Server.SetDefault]). A step can
// answer with content, a finish reason, a refusal and usage, or with an
// OpenAI error body and status, after a delay, or misbehave at the
// transport level: hang until the client goes away, reset the TCP
// connection, or send a truncated body. A request with "stream": true gets
// server-sent events instead: the step's [Chunk]s one by one, each after
// its own delay, optionally cut off before the end ([Step.BreakStream]).
//
// Every chat completion request is recorded ([Server.Requests]) with its
// arrival time, decoded JSON body, headers and whether the client went away
// before the answer was sent (for a stream: when, and after how many
// chunks, each with the time it was released), so tests can assert what a
// client sent and how often, over real HTTP instead of a mock.
package openaitest
