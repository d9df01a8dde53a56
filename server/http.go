package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/vanguard"
	"connectrpc.com/vanguard/vanguardgrpc"
	"github.com/rs/cors"
	"github.com/soheilhy/cmux"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/guardgen/guardgen/classifier"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// HTTP configures the HTTP protocols served on the gRPC port.
type HTTP struct {
	// Enabled serves REST (the services' google.api.http routes), Connect
	// and gRPC-Web over HTTP/1.1 beside gRPC on the listener Serve is
	// given. Plaintext only: the split between the protocols is made on the
	// connection's first bytes, which TLS hides.
	Enabled bool
	// CORSOrigins are the browser origins allowed to call cross-origin
	// ("*" for any); empty allows none.
	CORSOrigins []string
}

// sniffTimeout bounds how long a new connection may take to show which
// protocol it speaks (its first request line or HTTP/2 HEADERS frame)
// before it is closed, so idle connections cannot pile up unassigned.
const sniffTimeout = 10 * time.Second

// httpHandler transcodes REST, Connect and gRPC-Web calls into gRPC calls
// on s's HTTP-side grpc.Server (connectrpc.com/vanguard), which has the same
// services, interceptors and options as the gRPC side, so every interceptor —
// authentication, rate limits, admission, validation, logging, metrics —
// applies to them exactly as to gRPC, and failures carry the same
// FailureDetail (in a google.rpc.Status JSON body for REST and Connect).
// GenerateStream's REST route, server-sent events, is served beside it by
// sseHandler, through the same transcoder.
func (s *Server) httpHandler() (http.Handler, error) {
	t, err := vanguardgrpc.NewTranscoder(s.grpcHTTP, vanguard.WithDefaultServiceOptions(
		vanguard.WithMaxMessageBufferBytes(uint32(s.opts.MaxRecvBytes)),
	), vanguard.WithCodec(func(res vanguard.TypeResolver) vanguard.Codec {
		c := vanguard.NewJSONCodec(res)
		c.UnmarshalOptions.DiscardUnknown = false // a misspelt option is an error, not a default
		return bodyCodec{c}
	}), vanguard.WithUnknownHandler(http.HandlerFunc(unknownRoute)))
	if err != nil {
		return nil, fmt.Errorf("server: http transcoder: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(streamRoute, &sseHandler{transcoder: t, maxBytes: int64(s.opts.MaxRecvBytes)})
	mux.Handle("/", bodyGuard{next: t, maxBytes: int64(s.opts.MaxRecvBytes)})
	h := s.refusals(mux)
	if len(s.opts.HTTP.CORSOrigins) == 0 {
		return h, nil
	}
	return cors.New(cors.Options{
		AllowedOrigins: s.opts.HTTP.CORSOrigins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		// The Connect, gRPC-Web and gRPC request headers a browser client
		// sends, bearer tokens, and the synthetic provider's fault plans.
		AllowedHeaders: []string{
			"Content-Type", "Authorization", "Connect-Protocol-Version", "Connect-Timeout-Ms",
			"Grpc-Timeout", "X-Grpc-Web", "X-User-Agent", "X-Guardgen-Synthetic-Faults",
		},
		ExposedHeaders: []string{"Grpc-Status", "Grpc-Message", "Grpc-Status-Details-Bin", "Retry-After"},
		MaxAge:         3600,
	}).Handler(h), nil
}

// refusals logs and counts the HTTP calls answered with an error before
// they reached the gRPC server, whose edge logs and counts every other
// call: a body that is not a request or is over the size limit, a route or
// method the transcoder does not serve. The line is the call's rpc line,
// with the HTTP method and path for the method and the failure: the one
// bodyGuard refused with, else the one the HTTP status stands for
// (httpRefusal). gRPC-Web answers errors with HTTP 200 and a trailer; of
// those, only bodyGuard's are seen here.
func (s *Server) refusals(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start, method, path := time.Now(), r.Method, r.URL.Path // the transcoder rewrites r.URL
		call := &httpCall{}
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), httpCallKey{}, call)))
		if call.reached.Load() || (rec.code < http.StatusBadRequest && call.refused == nil) {
			return
		}
		ctx := r.Context()
		// The caller's request id, read as on the gRPC side.
		note := &callLog{requestID: requestID(metadata.Pairs("x-request-id", r.Header.Get("X-Request-Id")))}
		err := statusOf(httpRefusal(rec.code))
		if call.refused != nil {
			err = status.FromProto(call.refused).Err()
		}
		st := decodeStatus(err)
		s.countRejection(ctx, st)
		s.logCall(ctx, method+" "+boundedPath(path), start, note, st)
	})
}

// boundedPath is a request path as a refusal's log line or message
// carries it: at most 256 bytes of the caller's text.
func boundedPath(path string) string {
	const limit = 256
	if len(path) > limit {
		return path[:limit]
	}
	return path
}

// httpCall is what refusals learns of an HTTP call: whether the gRPC
// server got it (markReached), and so logged it, and the status bodyGuard
// refused it with (refuse), if it did.
type httpCall struct {
	reached atomic.Bool
	refused *spb.Status
}

type httpCallKey struct{}

// markReached notes, for refusals, that an HTTP call reached the gRPC
// server. It is the outermost interceptor of the HTTP side's server only.
func markReached(ctx context.Context) {
	if c, ok := ctx.Value(httpCallKey{}).(*httpCall); ok {
		c.reached.Store(true)
	}
}

func markReachedUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	markReached(ctx)
	return handler(ctx, req)
}

func markReachedStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	markReached(ss.Context())
	return handler(srv, ss)
}

// httpRefusal is the failure an HTTP error status stands for when the
// transcoder answered it itself (guardgen's own refusals tell refusals
// their status through refuse): 413 and 429 (vanguard's answer to a
// message over its buffer limit) are a request too large; 404, 405 and
// 501 an unknown method; other 5xx an internal error; any other, a request
// that is not one (400 from bodyCodec, 415 for a content type it does not
// read).
func httpRefusal(code int) *classifier.Failure {
	reason := guardgenv1.FailureReason_FAILURE_REASON_INVALID_REQUEST
	switch {
	case code == http.StatusRequestEntityTooLarge || code == http.StatusTooManyRequests:
		reason = guardgenv1.FailureReason_FAILURE_REASON_REQUEST_TOO_LARGE
	case code == http.StatusNotFound || code == http.StatusMethodNotAllowed || code == http.StatusNotImplemented:
		reason = guardgenv1.FailureReason_FAILURE_REASON_UNKNOWN_METHOD
	case code >= http.StatusInternalServerError:
		reason = guardgenv1.FailureReason_FAILURE_REASON_INTERNAL
	}
	return classifier.New(reason, "HTTP %d before the call reached the server", code)
}

// statusRecorder keeps the status an HTTP handler answers with; it
// flushes, and unwraps for http.ResponseController, as the writer it wraps.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.code == 0 && code >= http.StatusOK {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// bodyCodec is vanguard's JSON codec, but a request body that does not
// decode (not JSON, a value of the wrong type for its field, a field the
// message does not have) is the caller's error: INVALID_ARGUMENT, HTTP
// 400, naming why, with the FailureDetail every other bad request
// carries. Vanguard passes the decoding error on as it is, which answered
// UNKNOWN, HTTP 500, and its codec skipped unknown fields, so a misspelt
// option silently took its default; POST /v1/generate:stream (sseHandler)
// reads its body the same way.
type bodyCodec struct{ *vanguard.JSONCodec }

func (c bodyCodec) Unmarshal(data []byte, msg proto.Message) error {
	if err := c.JSONCodec.Unmarshal(data, msg); err != nil {
		return badBody(err)
	}
	return nil
}

func (c bodyCodec) UnmarshalField(data []byte, msg proto.Message, field protoreflect.FieldDescriptor) error {
	if err := c.JSONCodec.UnmarshalField(data, msg, field); err != nil {
		return badBody(err)
	}
	return nil
}

// badBody is the error of a request body that did not decode, as a
// Connect error (which vanguard answers with in every HTTP protocol)
// carrying the status's details.
func badBody(err error) error {
	return asConnectError(bodyStatus(err))
}

// asConnectError is st as a Connect error, its details carried on.
func asConnectError(st *status.Status) *connect.Error {
	ce := connect.NewError(connect.Code(st.Code()), errors.New(st.Message()))
	for _, d := range st.Details() {
		if m, ok := d.(proto.Message); ok {
			if detail, err := connect.NewErrorDetail(m); err == nil {
				ce.AddDetail(detail)
			}
		}
	}
	return ce
}

// rpcErrors writes an error in the protocol of a Connect or gRPC-Web
// request. A JSON body without Connect's version header is REST's: REST
// callers send none, and Connect clients always do.
var rpcErrors = connect.NewErrorWriter(connect.WithRequireConnectProtocolHeader())

// refuse answers with st a request guardgen refuses before the transcoder
// (bodyGuard, the stream route's body, unknownRoute): in the request's own
// protocol for Connect and gRPC-Web, as the transcoder answers them, else
// as REST's google.rpc.Status JSON with httpCode (0: the code's).
// refusals is told st itself, since for gRPC-Web the HTTP status says
// nothing (200, the status in a trailer).
func refuse(w http.ResponseWriter, r *http.Request, httpCode int, st *spb.Status) {
	if c, ok := r.Context().Value(httpCallKey{}).(*httpCall); ok {
		c.refused = st
	}
	if rpcErrors.IsSupported(r) {
		_ = rpcErrors.Write(w, r, asConnectError(status.FromProto(st)))
		return
	}
	writeStatus(w, httpCode, st)
}

// bodyGuard answers, before the transcoder runs, two bodies it would get
// wrong: one over the server's message limit is HTTP 413 with
// REQUEST_TOO_LARGE, as on POST /v1/generate:stream (vanguard answered
// 429, the status of a rate limit, without the FailureDetail), and an
// empty JSON body is read as the empty request, {}, so that what it lacks
// is named as for any request (vanguard sent the server no message, which
// gRPC answered INTERNAL). A body that does not declare its length
// (chunked) is read here, up to the limit, to be judged alike; the
// transcoder would read it whole anyway, and over HTTP/1.1 no method takes
// a streamed request.
type bodyGuard struct {
	next     http.Handler
	maxBytes int64
}

func (g bodyGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength < 0 {
		body, ok := readBody(w, r, g.maxBytes)
		if !ok {
			return
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	}
	switch {
	case r.ContentLength > g.maxBytes:
		refuse(w, r, http.StatusRequestEntityTooLarge, bodyTooLarge(g.maxBytes))
		return
	case r.ContentLength == 0 && r.Method == http.MethodPost && isJSONBody(r.Header.Get("Content-Type")):
		r.Body, r.ContentLength = io.NopCloser(strings.NewReader("{}")), 2
	}
	g.next.ServeHTTP(w, r)
}

// readBody reads a request's body up to maxBytes. A longer one is refused
// with 413 and REQUEST_TOO_LARGE, one cut off as a bad body; either way
// the caller has been answered and ok is false.
func readBody(w http.ResponseWriter, r *http.Request, maxBytes int64) (body []byte, ok bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
		refuse(w, r, http.StatusRequestEntityTooLarge, bodyTooLarge(maxBytes))
		return nil, false
	}
	if err != nil {
		refuse(w, r, 0, bodyStatus(err).Proto())
		return nil, false
	}
	return body, true
}

// unknownRoute answers a request for no route or method the transcoder
// serves: 404 with UNKNOWN_METHOD and the FailureDetail, in the request's
// protocol (net/http's "404 page not found" in plain text before).
func unknownRoute(w http.ResponseWriter, r *http.Request) {
	f := classifier.New(guardgenv1.FailureReason_FAILURE_REASON_UNKNOWN_METHOD,
		"no route for %s %q; GET /v1/targets lists the targets, server reflection the methods", r.Method, boundedPath(r.URL.Path))
	refuse(w, r, http.StatusNotFound, status.Convert(statusOf(f)).Proto())
}

// isJSONBody reports whether a request's Content-Type is plain JSON (REST,
// or Connect's unary JSON).
func isJSONBody(contentType string) bool {
	mediaType, _, _ := mime.ParseMediaType(contentType)
	return mediaType == "application/json"
}

// bodyTooLarge is the status of an HTTP request body over the server's
// message limit.
func bodyTooLarge(limit int64) *spb.Status {
	f := classifier.New(guardgenv1.FailureReason_FAILURE_REASON_REQUEST_TOO_LARGE,
		"the request body is over the %d-byte limit", limit).With("limit_bytes", strconv.FormatInt(limit, 10))
	return status.Convert(statusOf(f)).Proto()
}

// bodyStatus is the status of a request body that did not decode.
func bodyStatus(err error) *status.Status {
	return status.Convert(statusOf(classifier.New(guardgenv1.FailureReason_FAILURE_REASON_INVALID_REQUEST, "request body: %v", err)))
}

// splitListener serves gRPC and the HTTP protocols on one listener: a
// connection that opens with the HTTP/2 preface goes to grpc-go's own
// transport, every other connection (HTTP/1.1: curl, browsers, Connect and
// gRPC-Web clients) to an http.Server. Cleartext HTTP/2 is gRPC's alone: a
// connection is told apart by its first bytes, and sniffing an HTTP/2
// connection's first request would mean answering its SETTINGS before
// handing it on, which the next server then cannot account for.
type splitListener struct {
	mux      cmux.CMux
	grpc     net.Listener
	http     *http.Server
	httpLis  net.Listener
	served   chan error
	shutdown atomic.Bool
}

func (s *Server) split(lis net.Listener) (*splitListener, error) {
	h, err := s.httpHandler()
	if err != nil {
		return nil, err
	}
	m := cmux.New(lis)
	m.SetReadTimeout(sniffTimeout)
	sl := &splitListener{
		mux:     m,
		grpc:    m.Match(cmux.HTTP2()),
		httpLis: m.Match(cmux.Any()),
		served:  make(chan error, 1),
	}
	sl.http = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: sniffTimeout,
		MaxHeaderBytes:    int(s.opts.MaxHeaderListBytes),
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	return sl, nil
}

// serve runs the HTTP side and the connection split until shutdown; the
// gRPC side is served by the caller on sl.grpc.
func (sl *splitListener) serve() {
	go func() {
		if err := sl.http.Serve(sl.httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, cmux.ErrListenerClosed) {
			sl.served <- err
		}
	}()
	go func() {
		err := sl.mux.Serve()
		if !sl.shutdown.Load() && err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, cmux.ErrServerClosed) {
			sl.served <- err
		}
	}()
}

// stopAccepting closes the shared listener: no new connection of either
// kind is taken, and established ones go on.
func (sl *splitListener) stopAccepting() {
	sl.shutdown.Store(true)
	sl.mux.Close()
}

// drain waits for the HTTP side's in-flight calls until ctx ends, then
// closes its connections.
func (sl *splitListener) drain(ctx context.Context) {
	if sl.http.Shutdown(ctx) != nil {
		sl.http.Close()
	}
}

// close stops the HTTP side at once.
func (sl *splitListener) close() {
	sl.stopAccepting()
	sl.http.Close()
}
