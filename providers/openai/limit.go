package openai

import (
	"errors"
	"io"
	"net/http"
)

// ReasonOutputTooLarge is the ErrorInfo reason of an upstream answer larger
// than Options.MaxResponseBytes, with code RESOURCE_EXHAUSTED.
const ReasonOutputTooLarge = "OUTPUT_TOO_LARGE"

// errResponseTooLarge ends the reading of a body past the limit.
var errResponseTooLarge = errors.New("openai: upstream response body exceeds the size limit")

// limitBody makes resp's body read through a cap of limit bytes: a body
// that declares a larger Content-Length is refused unread (an error status
// is kept, without its body), and one that streams past the cap fails the
// read. Bodies are read whole before decoding (an error's by the SDK, an
// answer's by readCompletion, in a buffer of the declared length), so
// without this an upstream could make one call hold any amount of memory.
// Closing an unread body drops the connection rather than draining it.
func limitBody(resp *http.Response, limit int64) (*http.Response, error) {
	if resp.Body == nil {
		return resp, nil
	}
	if resp.ContentLength > limit {
		_ = resp.Body.Close()
		if resp.StatusCode >= http.StatusBadRequest {
			// An error status says enough without its body.
			resp.Body, resp.ContentLength = http.NoBody, 0
			return resp, nil
		}
		return nil, errResponseTooLarge
	}
	resp.Body = &cappedBody{rc: resp.Body, left: limit}
	return resp, nil
}

// cappedBody passes at most left bytes through and fails with
// errResponseTooLarge when the body has more.
type cappedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One more byte tells a body of exactly the limit from a longer one.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, errResponseTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }
