package openai_test

import (
	"runtime"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/guardgen/guardgen/providers/openai"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
)

const validTicket = `{"category":"billing","priority":3,"summary":"charged twice"}`

// errorInfoReason is the ErrorInfo reason in err's status.
func errorInfoReason(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// TestHugeResponseCostsLittleMemory: a 50 MiB 200 answer is read no
// further than the size limit, fails with RESOURCE_EXHAUSTED and
// OUTPUT_TOO_LARGE, and allocates well under its size (reading it whole,
// as the SDK does, allocates more than twice its size). Not parallel: the
// allocation count is the process's.
func TestHugeResponseCostsLittleMemory(t *testing.T) {
	p, srv := start(t, openai.Options{})
	srv.Enqueue(openaitest.Step{Content: validTicket, PadContent: 50 << 20})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := p.Complete(t.Context(), request(t))
	runtime.ReadMemStats(&after)
	if status.Code(err) != codes.ResourceExhausted || errorInfoReason(err) != openai.ReasonOutputTooLarge {
		t.Fatalf("Complete = %v, want RESOURCE_EXHAUSTED with ErrorInfo %s", err, openai.ReasonOutputTooLarge)
	}
	// Reading up to the limit with io.ReadAll's doubling allocates about
	// twice the limit, and the HTTP stack and the race detector add some;
	// reading the body whole would allocate at least its 50 MiB.
	const bound = 8 * (4 << 20) // the limit start uses: config.Default's 4 MiB
	got := after.TotalAlloc - before.TotalAlloc
	t.Logf("a 50 MiB answer cost %.1f MiB of allocation", float64(got)/(1<<20))
	if got > bound {
		t.Errorf("one call allocated %d MiB, want at most %d MiB", got>>20, bound>>20)
	}
}

// TestResponseSizeLimit: the limit is Options.MaxResponseBytes; an answer
// within it passes, a larger one fails whether it declares its length or
// streams, and an error status past the limit is judged by its code.
func TestResponseSizeLimit(t *testing.T) {
	t.Parallel()
	const limit = 4096
	tests := []struct {
		name   string
		step   openaitest.Step
		code   codes.Code
		reason string
	}{
		{"within the limit", openaitest.Reply(validTicket), codes.OK, ""},
		{"streamed past the limit", openaitest.Step{Content: validTicket, PadContent: limit}, codes.ResourceExhausted, openai.ReasonOutputTooLarge},
		{"declared past the limit", openaitest.Step{Body: strings.Repeat("x", limit+1)}, codes.ResourceExhausted, openai.ReasonOutputTooLarge},
		{"error status past the limit", openaitest.Step{Status: 503, Body: strings.Repeat("x", limit+1)}, codes.Unavailable, openai.ReasonUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, srv := start(t, openai.Options{MaxResponseBytes: limit})
			srv.Enqueue(tt.step)
			_, err := p.Complete(t.Context(), request(t))
			if status.Code(err) != tt.code || errorInfoReason(err) != tt.reason {
				t.Errorf("Complete = %v (ErrorInfo %q), want %v (ErrorInfo %q)", err, errorInfoReason(err), tt.code, tt.reason)
			}
		})
	}
}
