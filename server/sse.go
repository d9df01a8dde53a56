package server

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// streamRoute is GenerateStream's REST route. vanguard streams REST
// responses only as google.api.HttpBody, so this one route is served here:
// the request is GenerateRequest as JSON, as for POST /v1/generate, and the
// answer is server-sent events, one per GenerateStreamResponse.
const streamRoute = "POST /v1/generate:stream"

// sseHandler serves GenerateStream as server-sent events. It calls the
// stream through the transcoder in Connect's streaming protocol with the
// caller's headers, so authentication, rate limits, admission, validation,
// logging and metrics apply exactly as to the other protocols, and relays
// each message as an event:
//
//	data: {"partial":{...},"attempt":1,...}
//
// A failure before the first event is an HTTP error with the google.rpc.Status
// JSON body POST /v1/generate gives; after it, an "error" event with that
// body ends the stream.
type sseHandler struct {
	transcoder http.Handler
	maxBytes   int64
}

func (h *sseHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, h.maxBytes)
	if !ok {
		return
	}
	// The request is read here as POST /v1/generate reads its body
	// (bodyGuard, bodyCodec): empty is the empty request, and what is not a
	// GenerateRequest in JSON is a 400 naming why, with the FailureDetail.
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := protojson.Unmarshal(body, &guardgenv1.GenerateRequest{}); err != nil {
		refuse(w, r, 0, bodyStatus(err).Proto())
		return
	}
	// One Connect envelope: flags 0, the length big-endian, the message.
	env := make([]byte, 5, 5+len(body))
	binary.BigEndian.PutUint32(env[1:], uint32(len(body)))
	env = append(env, body...)
	in, err := http.NewRequestWithContext(r.Context(), http.MethodPost,
		"/"+guardgenv1.GenerationService_ServiceDesc.ServiceName+"/GenerateStream", bytes.NewReader(env))
	if err != nil {
		writeStatus(w, 0, &status.Status{Code: int32(codes.Internal), Message: err.Error()})
		return
	}
	in.Header = r.Header.Clone()
	for _, k := range []string{"Content-Length", "Content-Encoding", "Accept-Encoding",
		"Connect-Content-Encoding", "Connect-Accept-Encoding"} {
		in.Header.Del(k)
	}
	in.Header.Set("Content-Type", "application/connect+json")
	in.Header.Set("Connect-Protocol-Version", "1")
	in.Host, in.RemoteAddr, in.ContentLength = r.Host, r.RemoteAddr, int64(len(env))
	sw := &sseWriter{w: w}
	h.transcoder.ServeHTTP(sw, in)
	sw.finish()
}

// sseWriter takes the transcoder's Connect stream and writes it as
// server-sent events.
type sseWriter struct {
	w       http.ResponseWriter
	header  http.Header // the transcoder's
	status  int
	buf     []byte // envelope bytes not yet read, or a non-200 body
	started bool   // the event stream's headers are sent
	ended   bool
}

func (s *sseWriter) Header() http.Header {
	if s.header == nil {
		s.header = http.Header{}
	}
	return s.header
}

func (s *sseWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
}

func (s *sseWriter) Write(p []byte) (int, error) {
	s.WriteHeader(http.StatusOK)
	s.buf = append(s.buf, p...)
	if s.status != http.StatusOK {
		return len(p), nil // a protocol error, relayed as it is by finish
	}
	for len(s.buf) >= 5 && !s.ended {
		n := int(binary.BigEndian.Uint32(s.buf[1:5]))
		if len(s.buf)-5 < n {
			break
		}
		flags, msg := s.buf[0], s.buf[5:5+n]
		if flags&0x02 != 0 {
			s.end(msg)
		} else {
			s.event("", msg)
		}
		s.buf = s.buf[:copy(s.buf, s.buf[5+n:])]
	}
	return len(p), nil
}

// Flush is the transcoder's: each event is flushed as it is written.
func (s *sseWriter) Flush() {}

// start sends the event stream's status and headers: the transcoder's
// (response metadata), without its content headers.
func (s *sseWriter) start() {
	s.started = true
	s.copyHeaders()
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // proxies that buffer: this one does not
	s.w.WriteHeader(http.StatusOK)
}

func (s *sseWriter) copyHeaders() {
	for k, v := range s.header {
		switch k := http.CanonicalHeaderKey(k); {
		case k == "Content-Type", k == "Content-Length", k == "Content-Encoding", strings.HasPrefix(k, "Connect-"):
		default:
			s.w.Header()[k] = v
		}
	}
}

// event writes one event: its data lines (protojson has no newlines, but
// a line per line keeps any payload an event) and the blank line.
func (s *sseWriter) event(name string, data []byte) {
	if !s.started {
		s.start()
	}
	var b bytes.Buffer
	if name != "" {
		b.WriteString("event: " + name + "\n")
	}
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		b.WriteString("data: ")
		b.Write(line)
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	_, _ = s.w.Write(b.Bytes())
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
}

// end reads the Connect end-of-stream message: nothing more to send, or
// the call's error.
func (s *sseWriter) end(msg []byte) {
	s.ended = true
	var eos struct {
		Error *connectError `json:"error"`
	}
	if err := json.Unmarshal(msg, &eos); err != nil {
		eos.Error = &connectError{Code: "internal", Message: "unreadable end of stream"}
	}
	if eos.Error == nil {
		if !s.started {
			s.start()
		}
		return
	}
	s.fail(eos.Error.status())
}

// fail ends the response with st: before the first event the HTTP error
// POST /v1/generate would answer, after it an error event.
func (s *sseWriter) fail(st *status.Status) {
	if !s.started {
		s.copyHeaders()
		writeStatus(s.w, 0, st)
		s.started = true
		return
	}
	b, _ := statusJSON(st)
	s.event("error", b)
}

// finish ends a response the stream did not: a protocol error's body as the
// transcoder wrote it, or a stream cut short.
func (s *sseWriter) finish() {
	switch {
	case s.status != 0 && s.status != http.StatusOK:
		s.copyHeaders()
		s.w.Header().Set("Content-Type", s.header.Get("Content-Type"))
		s.w.WriteHeader(s.status)
		_, _ = s.w.Write(s.buf)
	case !s.ended:
		s.fail(&status.Status{Code: int32(codes.Internal), Message: "the stream ended without its end"})
	}
}

// connectError is a Connect error's JSON form.
type connectError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"details"`
}

// status is the error as google.rpc.Status, its details as Any.
func (e *connectError) status() *status.Status {
	var code connect.Code
	if err := code.UnmarshalText([]byte(e.Code)); err != nil {
		code = connect.CodeUnknown
	}
	st := &status.Status{Code: int32(code), Message: e.Message}
	for _, d := range e.Details {
		// Connect writes details unpadded; accept padding too.
		v, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(d.Value, "="))
		if err != nil {
			continue
		}
		st.Details = append(st.Details, &anypb.Any{TypeUrl: "type.googleapis.com/" + d.Type, Value: v})
	}
	return st
}

// statusJSON is st as POST /v1/generate's error body has it.
func statusJSON(st *status.Status) ([]byte, error) {
	b, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(st)
	if err != nil {
		// A detail of a type this binary does not know: the rest is still
		// worth sending.
		st.Details = nil
		b, err = protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(st)
	}
	return b, err
}

// httpStatus maps a gRPC code to the HTTP status POST /v1/generate answers
// it with (google.rpc.Code's mapping, as vanguard's).
var httpStatus = [...]int{
	http.StatusOK, 499, http.StatusInternalServerError, http.StatusBadRequest,
	http.StatusGatewayTimeout, http.StatusNotFound, http.StatusConflict, http.StatusForbidden,
	http.StatusTooManyRequests, http.StatusBadRequest, http.StatusConflict, http.StatusBadRequest,
	http.StatusNotImplemented, http.StatusInternalServerError, http.StatusServiceUnavailable,
	http.StatusInternalServerError, http.StatusUnauthorized,
}

// writeStatus answers with st as an HTTP error: httpCode, or when it is 0
// the status st's code maps to.
func writeStatus(w http.ResponseWriter, httpCode int, st *status.Status) {
	code := httpCode
	if c := int(st.GetCode()); code == 0 && c >= 0 && c < len(httpStatus) {
		code = httpStatus[c]
	}
	if code == 0 {
		code = http.StatusInternalServerError
	}
	b, _ := statusJSON(st)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
