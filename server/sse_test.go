package server

import (
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestSSEWriterReadsSplitEnvelopes: however the transcoder's writes cut
// the Connect stream, each message is one event, and the end-of-stream
// error an error event after them.
func TestSSEWriterReadsSplitEnvelopes(t *testing.T) {
	t.Parallel()
	envelope := func(flags byte, msg string) []byte {
		return append(binary.BigEndian.AppendUint32([]byte{flags}, uint32(len(msg))), msg...)
	}
	var stream []byte
	stream = append(stream, envelope(0, `{"partial":{"json":"{}"}}`)...)
	stream = append(stream, envelope(0, `{"reset":{}}`)...)
	stream = append(stream, envelope(2, `{"error":{"code":"aborted","message":"RULE_VIOLATION: no","details":[{"type":"google.rpc.ErrorInfo","value":"CgNiYWQ"}]}}`)...)
	for _, step := range []int{1, 3, 7, len(stream)} {
		rec := httptest.NewRecorder()
		w := &sseWriter{w: rec}
		w.Header().Set("Content-Type", "application/connect+json")
		w.WriteHeader(http.StatusOK)
		for i := 0; i < len(stream); i += step {
			if _, err := w.Write(stream[i:min(i+step, len(stream))]); err != nil {
				t.Fatal(err)
			}
		}
		w.finish()
		want := "data: {\"partial\":{\"json\":\"{}\"}}\n\n" +
			"data: {\"reset\":{}}\n\n" +
			"event: error\n"
		got := rec.Body.String()
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/event-stream" || len(got) < len(want) || got[:len(want)] != want {
			t.Fatalf("writes of %d bytes: %d %v\n%s", step, rec.Code, rec.Header(), got)
		}
		st := got[len(want):]
		if !strings.Contains(st, `"code":10`) || !strings.Contains(st, `google.rpc.ErrorInfo`) || !strings.Contains(st, `"reason":"bad"`) {
			t.Errorf("writes of %d bytes: error event %q, want the google.rpc.Status with code 10 and the ErrorInfo", step, st)
		}
	}
}
