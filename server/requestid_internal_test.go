package server

import (
	"regexp"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
)

// TestRequestID: a caller's sane x-request-id is the call's id; a missing,
// empty or oversized one is replaced by 16 random hex digits, new for
// each call.
func TestRequestID(t *testing.T) {
	if got := requestID(metadata.Pairs("X-Request-Id", "caller-7")); got != "caller-7" {
		t.Errorf("the caller's id became %q", got)
	}
	generated := regexp.MustCompile(`^[0-9a-f]{16}$`)
	seen := map[string]bool{}
	for _, md := range []metadata.MD{nil, metadata.Pairs("x-request-id", ""), metadata.Pairs("x-request-id", strings.Repeat("a", 129))} {
		for range 100 {
			id := requestID(md)
			if !generated.MatchString(id) {
				t.Fatalf("for %v: id %q is not 16 hex digits", md, id)
			}
			if seen[id] {
				t.Fatalf("id %q came twice", id)
			}
			seen[id] = true
		}
	}
}
