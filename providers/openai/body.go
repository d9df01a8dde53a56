package openai

import (
	"net/http"

	"github.com/openai/openai-go/v3/option"
)

// inMemoryBody hands net/http the request body as the in-memory reader it
// is. The SDK wraps every attempt's body in a close-once reader, which
// net/http cannot see through: it then sends the headers in one write and
// copies the body in another, through a 32 KiB buffer of its own, on every
// call. A fresh copy from GetBody (the SDK sets it to a reader over the
// same bytes) goes out with the headers in one write.
// TestRequestIsOneWrite counts the writes.
func inMemoryBody(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		if body, err := req.GetBody(); err == nil {
			req.Body = body
		}
	}
	return next(req)
}
