package soak

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/guardgen/guardgen/providers/openai/openaitest"
)

// Mix is how often the upstream misbehaves: each share is the probability,
// 0..1, that one answer is that fault; the rest are valid. Every answer but
// hangs and resets is delayed by a uniform random latency.
type Mix struct {
	// MaxLatency bounds the delay of every answer (uniform in 0..MaxLatency).
	MaxLatency time.Duration
	// Hang: the upstream never answers; the caller's deadline ends it.
	Hang float64
	// Reset: the TCP connection is reset without an answer.
	Reset float64
	// ServerError: HTTP 500 with an OpenAI server_error body.
	ServerError float64
	// RateLimited: HTTP 429 with Retry-After: RetryAfter.
	RateLimited float64
	RetryAfter  string
	// Malformed: HTTP 200 whose assistant content is cut-off JSON (a model
	// mistake, finish reason "stop").
	Malformed float64
	// MalformedBody: HTTP 200 whose body is not JSON at all.
	MalformedBody float64
	// TruncatedBody: the response body stops halfway and the connection
	// closes.
	TruncatedBody float64
	// Length: valid HTTP, but the output was cut at the token limit
	// (finish reason "length").
	Length float64
	// Fenced: valid JSON inside a markdown fence (repaired by extraction).
	Fenced float64
}

// DefaultMix is issue 6's chaos: latency 0–3 s, hangs, connection resets,
// 5 % HTTP 500, 2 % 429 with Retry-After, 1 % malformed JSON, truncations.
var DefaultMix = Mix{
	MaxLatency:    3 * time.Second,
	Hang:          0.01,
	Reset:         0.01,
	ServerError:   0.05,
	RateLimited:   0.02,
	RetryAfter:    "1",
	Malformed:     0.01,
	MalformedBody: 0.005,
	TruncatedBody: 0.01,
	Length:        0.01,
	Fenced:        0.02,
}

// Chaos returns n upstream answers drawn from mix; valid is the content of
// a valid answer (a JSON instance of the target type).
func Chaos(rng *rand.Rand, n int, valid string, mix Mix) []openaitest.Step {
	steps := make([]openaitest.Step, n)
	for i := range steps {
		var s openaitest.Step
		p := rng.Float64()
		switch {
		case take(&p, mix.Hang):
			steps[i] = openaitest.Step{Hang: true}
			continue
		case take(&p, mix.Reset):
			steps[i] = openaitest.Step{ResetConnection: true}
			continue
		case take(&p, mix.ServerError):
			s = openaitest.ServerError(http.StatusInternalServerError)
		case take(&p, mix.RateLimited):
			s = openaitest.RateLimited(mix.RetryAfter)
		case take(&p, mix.Malformed):
			s = openaitest.Malformed()
		case take(&p, mix.MalformedBody):
			s = openaitest.Step{Body: `{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":`,
				Headers: map[string]string{"Content-Type": "application/json"}}
		case take(&p, mix.TruncatedBody):
			s = openaitest.Step{Content: valid, TruncateBody: true}
		case take(&p, mix.Length):
			s = openaitest.Length(valid[:len(valid)/2])
		case take(&p, mix.Fenced):
			s = openaitest.Fenced(valid)
		default:
			s = openaitest.Reply(valid)
		}
		s.Delay = time.Duration(rng.Int64N(int64(mix.MaxLatency) + 1))
		steps[i] = s
	}
	return steps
}

// take reports whether *p falls within share, and otherwise moves *p past
// it, so consecutive takes split [0, 1) into disjoint intervals.
func take(p *float64, share float64) bool {
	if *p < share {
		return true
	}
	*p -= share
	return false
}

// scriptStep is one step in cmd/openai-testserver's JSON script format.
type scriptStep struct {
	Status          int                  `json:"status,omitempty"`
	Headers         map[string]string    `json:"headers,omitempty"`
	Error           *openaitest.APIError `json:"error,omitempty"`
	Body            string               `json:"body,omitempty"`
	Delay           string               `json:"delay,omitempty"`
	Hang            bool                 `json:"hang,omitempty"`
	ResetConnection bool                 `json:"reset_connection,omitempty"`
	TruncateBody    bool                 `json:"truncate_body,omitempty"`
	Content         string               `json:"content,omitempty"`
	FinishReason    string               `json:"finish_reason,omitempty"`
	Refusal         string               `json:"refusal,omitempty"`
}

// WriteScript writes steps as a script for cmd/openai-testserver
// (--script), so the upstream can run in a process of its own. Fields the
// script format lacks (Usage, Model, NoChoices, NoContent) are dropped.
func WriteScript(w io.Writer, steps []openaitest.Step) error {
	out := make([]scriptStep, len(steps))
	for i, s := range steps {
		out[i] = scriptStep{
			Status: s.Status, Headers: s.Headers, Error: s.Error, Body: s.Body,
			Hang: s.Hang, ResetConnection: s.ResetConnection, TruncateBody: s.TruncateBody,
			Content: s.Content, FinishReason: s.FinishReason, Refusal: s.Refusal,
		}
		if s.Delay > 0 {
			out[i].Delay = s.Delay.String()
		}
	}
	return json.NewEncoder(w).Encode(out)
}
