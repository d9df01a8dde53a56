package openai

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"golang.org/x/net/http/httpguts"
)

// conns is the provider's own HTTP/1.1 client for an upstream reached over
// cleartext HTTP without a proxy: an in-cluster gateway, a vLLM or Ollama
// server, bench/upstream. HTTPS upstreams, and any behind a proxy, keep
// net/http's transport, which brings TLS, HTTP/2 and the proxy environment.
//
// net/http's transport gives every connection a reader and a writer
// goroutine and hands each request to them and back over channels. For
// guardgen's one kind of request to one host that was a third of the OpenAI
// path's CPU, and the largest holder of memory per call held on a slow
// upstream (bench/results/upstream-client.md). Here the calling goroutine
// writes its request and reads the answer itself, with net/http's own
// response parser; a connection in use has no goroutine of its own, and an
// idle one only its expiry timer.
//
// What it keeps of net/http's behaviour: a call whose context ends has its
// connection closed under it (so the upstream sees the caller go), an
// answer is gzip-decoded when the upstream compresses it, informational
// (1xx) answers are skipped, an answer sent before the request could be
// written whole is the call's (net/http's gives it when its reader wins a
// race; here it always does), a connection the upstream has closed while
// idle is not reused (see stale), one the answer asks to close is not
// pooled, at most maxIdle connections are kept idle, and each closes after
// idleFor unused.
type conns struct {
	url     string // the endpoint's URL, redacted, for errors
	addr    string // host:port to dial
	head    []byte // the request line and the endpoint's headers, encoded once
	dialer  net.Dialer
	maxIdle int
	idleFor time.Duration
	// checkAfter is how long a connection must have been idle before
	// get checks it (staleAfter; tests set their own).
	checkAfter time.Duration

	mu     sync.Mutex
	idle   []*conn // the most recently used last
	closed bool
}

// idleConnTimeout is how long an idle upstream connection is kept, as
// http.DefaultTransport keeps its own.
const idleConnTimeout = 90 * time.Second

// newConns is the client for the endpoint, or nil when the endpoint is
// not one it serves: not cleartext HTTP, reached through a proxy (by
// HTTP_PROXY and NO_PROXY, as net/http reads them), or on a host name that
// is not ASCII.
func newConns(ep endpoint, maxIdle int) (*conns, error) {
	u, err := url.Parse(ep.url)
	if err != nil || u.Scheme != "http" {
		return nil, err
	}
	if proxy, err := http.ProxyFromEnvironment(&http.Request{URL: u}); proxy != nil || err != nil {
		return nil, nil
	}
	for i := 0; i < len(u.Host); i++ {
		if u.Host[i] >= 0x80 {
			return nil, nil
		}
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	head, err := requestHead(u, ep.header)
	if err != nil {
		return nil, err
	}
	return &conns{
		url:        u.Redacted(),
		addr:       net.JoinHostPort(u.Hostname(), port),
		head:       head,
		dialer:     net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second},
		maxIdle:    maxIdle,
		idleFor:    idleConnTimeout,
		checkAfter: staleAfter,
	}, nil
}

// requestHead is the start of every request to u: the request line, the
// Host header and header, sorted by name, as net/http writes them, with
// the Accept-Encoding net/http's transport adds. A header that net/http
// would refuse to send is refused here.
func requestHead(u *url.URL, header http.Header) ([]byte, error) {
	b := fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\n", u.RequestURI(), u.Host)
	for _, k := range slices.Sorted(maps.Keys(header)) {
		for _, v := range header[k] {
			var err error
			if b, err = appendHeader(b, k, v); err != nil {
				return nil, err
			}
		}
	}
	if header.Get("Accept-Encoding") == "" {
		b = append(b, "Accept-Encoding: gzip\r\n"...)
	}
	return b, nil
}

// appendHeader appends the header line "k: v", or fails as net/http's
// transport does for a name or value it would not send.
func appendHeader(b []byte, k, v string) ([]byte, error) {
	if !httpguts.ValidHeaderFieldName(k) {
		return b, fmt.Errorf("openai: invalid header field name %q", k)
	}
	if !httpguts.ValidHeaderFieldValue(v) {
		return b, fmt.Errorf("openai: invalid header field value for %q", k)
	}
	b = append(b, k...)
	b = append(b, ": "...)
	b = append(b, strings.TrimSpace(v)...)
	return append(b, "\r\n"...), nil
}

// conn is one upstream connection. While its call waits for the answer
// it holds no buffer: the request's head is written from a pooled one, and
// a pooled reader is attached once the answer starts to arrive (see post),
// so a call held by a slow upstream costs little more than its socket.
type conn struct {
	c     net.Conn
	raw   syscall.RawConn // for stale and wait; nil when the connection has none
	br    *bufio.Reader   // the answer's reader while one is read, else nil
	timer *time.Timer     // closes the connection when idle too long; nil until first idle
	pool  *conns

	// wait is the function raw.Read runs for post's wait, built once;
	// looked says it has looked at the socket once (see get).
	wait   func(fd uintptr) bool
	looked bool

	idleSince time.Time // when put last made it idle
	got       int64     // bytes read of the current answer
	limit     int64     // got may not pass it while the answer's head is read; 0 after
}

// maxResponseHeaderBytes bounds an answer's status line and headers, with
// any informational answers before them, as net/http's transport bounds
// them (it allows 10 MB; an upstream's are a few KB): http.ReadResponse
// reads headers for as long as they come.
const maxResponseHeaderBytes = 1 << 20

// errHeaderTooLarge ends an answer whose head is past the bound.
var errHeaderTooLarge = fmt.Errorf("openai: the upstream's response headers exceed %d bytes", maxResponseHeaderBytes)

// Read reads the answer from the connection, counting what came: an
// answer that fails before its first byte is a failed connection, one
// that fails after it a cut answer.
func (c *conn) Read(p []byte) (int, error) {
	if c.limit > 0 {
		if c.got >= c.limit {
			return 0, errHeaderTooLarge
		}
		if left := c.limit - c.got; int64(len(p)) > left {
			p = p[:left]
		}
	}
	n, err := c.c.Read(p)
	c.got += int64(n)
	return n, err
}

// heads are the buffers requests' heads are written from, and readers the
// buffered readers answers are read with, each held only while in use.
var (
	heads   = sync.Pool{New: func() any { b := make([]byte, 0, 1<<10); return &b }}
	readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}
)

// attach gives c a reader for the answer.
func (c *conn) attach() {
	c.br = readers.Get().(*bufio.Reader)
	c.br.Reset(c)
	c.got, c.limit = 0, maxResponseHeaderBytes
}

// detach gives c's reader back, emptied.
func (c *conn) detach() {
	if c.br != nil {
		c.br.Reset(nil)
		readers.Put(c.br)
		c.br = nil
	}
}

// closeConn closes c for good.
func (c *conn) closeConn() {
	c.detach()
	_ = c.c.Close()
}

// longAgo is a deadline that has passed: setting it ends a connection's
// blocked reads and writes at once.
var longAgo = time.Unix(1, 0)

// abort ends whatever the connection is doing; the call's context has
// ended.
func (c *conn) abort() { _ = c.c.SetDeadline(longAgo) }

// post sends body to the endpoint over an idle connection or a new one,
// with the trace context when there is a propagator, and returns the
// answer with its body open. Its errors are *url.Error, as net/http's
// client's are; once ctx has ended, what the call failed with says so
// (the caller reads ctx first, as it does for net/http).
func (cs *conns) post(ctx context.Context, body []byte, propagator propagation.TextMapPropagator) (*http.Response, error) {
	c, err := cs.get(ctx)
	if err != nil {
		return nil, cs.error(err)
	}
	stop := context.AfterFunc(ctx, c.abort)
	werr := cs.write(ctx, c, body, propagator)
	switch {
	case werr != nil && ctx.Err() != nil:
		return nil, cs.fail(c, stop, werr)
	case werr != nil:
		// An upstream may answer before it has read the whole request
		// and close (a proxy's 413 for a body past its limit): that
		// answer, not the failed write, is the call's outcome, as
		// net/http's transport has it. It is already on its way.
		_ = c.c.SetReadDeadline(time.Now().Add(earlyAnswerWait))
	case c.raw != nil:
		// The wait for the answer happens here, in a shallow frame and
		// with no buffer; parsing it goes deeper, once there is
		// something to parse.
		c.looked = false
		if err := c.raw.Read(c.wait); err != nil {
			return nil, cs.fail(c, stop, err)
		}
	}
	c.attach()
	resp, err := c.readResponse()
	c.limit = 0 // the body has its own bound (limitBody)
	switch {
	case err != nil && werr != nil:
		// No answer came: the write's failure is the call's.
		return nil, cs.fail(c, stop, werr)
	case err != nil:
		if c.got == 0 && errors.Is(err, io.ErrUnexpectedEOF) {
			// Closed before the answer began: as net/http tells it,
			// the connection failed; no answer was cut.
			err = io.EOF
		}
		return nil, cs.fail(c, stop, err)
	case werr != nil:
		// The body has no early deadline; an abort that came since
		// is kept.
		_ = c.c.SetReadDeadline(time.Time{})
		if ctx.Err() != nil {
			c.abort()
		}
	}
	keep := werr == nil && !resp.Close && resp.StatusCode != http.StatusSwitchingProtocols
	b := &connBody{rc: resp.Body, c: c, ctx: ctx, stop: stop, keep: keep}
	resp.Body = b
	if strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		// As net/http's transport: the request asked for gzip, so the
		// answer is handed on decoded.
		resp.Body = &gzipBody{rc: b}
		resp.Header.Del("Content-Encoding")
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
		resp.Uncompressed = true
	}
	return resp, nil
}

// write sends the request: its head, built in a pooled buffer, and body,
// in one write when the system allows.
func (cs *conns) write(ctx context.Context, c *conn, body []byte, propagator propagation.TextMapPropagator) error {
	buf := heads.Get().(*[]byte)
	defer heads.Put(buf)
	head := append((*buf)[:0], cs.head...)
	if propagator != nil {
		lines := headerLines{b: head}
		propagator.Inject(ctx, &lines)
		if lines.err != nil {
			return lines.err
		}
		head = lines.b
	}
	head = append(head, "Content-Length: "...)
	head = strconv.AppendInt(head, int64(len(body)), 10)
	head = append(head, "\r\n\r\n"...)
	*buf = head
	out := net.Buffers{head, body}
	_, err := out.WriteTo(c.c)
	return err
}

// readResponse reads the answer, skipping informational (1xx) ones as
// net/http does: as many as come within the head's bound (see Read).
// 101 Switching Protocols is final, as it is for net/http: nothing asked
// for it, so it is an answer nobody can read, and its connection is not
// HTTP any more.
func (c *conn) readResponse() (*http.Response, error) {
	for {
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode < 100 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
	}
}

// earlyAnswerWait is how long a call whose request could not be written
// whole waits for the answer the upstream sent before it stopped reading.
const earlyAnswerWait = 50 * time.Millisecond

// fail closes c, which a failed exchange leaves in an unknown state.
func (cs *conns) fail(c *conn, stop func() bool, err error) error {
	stop()
	c.closeConn()
	return cs.error(err)
}

func (cs *conns) error(err error) error {
	return &url.Error{Op: "Post", URL: cs.url, Err: err}
}

// get is an idle connection that is still open, else a new one.
func (cs *conns) get(ctx context.Context) (*conn, error) {
	for {
		cs.mu.Lock()
		n := len(cs.idle)
		if n == 0 {
			cs.mu.Unlock()
			break
		}
		c := cs.idle[n-1]
		cs.idle[n-1] = nil
		cs.idle = cs.idle[:n-1]
		c.timer.Stop()
		cs.mu.Unlock()
		if time.Since(c.idleSince) < cs.checkAfter || !c.stale() {
			return c, nil
		}
		_ = c.c.Close()
	}
	nc, err := cs.dial(ctx)
	if err != nil {
		return nil, err
	}
	c := &conn{c: nc, pool: cs}
	if sc, ok := nc.(syscall.Conn); ok && canPeek {
		if c.raw, err = sc.SyscallConn(); err != nil {
			c.raw = nil
		}
	}
	// wait looks at the socket once; once the socket has signalled
	// something to read (or its end), the answer's reader takes it from
	// there, and should the signal be spurious, waits in its read.
	c.wait = func(fd uintptr) bool {
		if c.looked {
			return true
		}
		c.looked = true
		return !peek(fd)
	}
	return c, nil
}

// dial opens a connection to the upstream on a goroutine of its own, as
// net/http's transport does: dialing goes some 2.5 KB deeper than the rest
// of a call, which would grow every calling goroutine's stack past the
// size a call otherwise needs (app's TestHandlerStackStaysSmall).
func (cs *conns) dial(ctx context.Context) (net.Conn, error) {
	type dialed struct {
		c   net.Conn
		err error
	}
	done := make(chan dialed, 1)
	go func() {
		c, err := cs.dialer.DialContext(ctx, "tcp", cs.addr)
		done <- dialed{c, err}
	}()
	d := <-done
	return d.c, d.err
}

// put keeps c for the next call, unless there are enough idle already or
// the provider is closed.
func (cs *conns) put(c *conn) {
	cs.mu.Lock()
	if cs.closed || len(cs.idle) >= cs.maxIdle {
		cs.mu.Unlock()
		_ = c.c.Close()
		return
	}
	cs.idle = append(cs.idle, c)
	c.idleSince = time.Now()
	if c.timer == nil {
		c.timer = time.AfterFunc(cs.idleFor, c.expire)
	} else {
		c.timer.Reset(cs.idleFor)
	}
	cs.mu.Unlock()
}

// expire closes c if it is still idle: a call may have taken it while
// its timer fired.
func (c *conn) expire() {
	cs := c.pool
	cs.mu.Lock()
	i := slices.Index(cs.idle, c)
	if i >= 0 {
		cs.idle = slices.Delete(cs.idle, i, i+1)
	}
	cs.mu.Unlock()
	if i >= 0 {
		_ = c.c.Close()
	}
}

// close closes the idle connections; those in use close when their calls
// end.
func (cs *conns) close() {
	cs.mu.Lock()
	idle := cs.idle
	cs.idle, cs.closed = nil, true
	cs.mu.Unlock()
	for _, c := range idle {
		c.timer.Stop()
		_ = c.c.Close()
	}
}

// staleAfter is how long a connection must have been idle before get
// checks that it is still open. An upstream closes idle connections after
// a timeout of seconds (uvicorn's 5 s is the shortest common one), so one
// used more recently is taken as open: under load that saves a system
// call on nearly every call (3 % of the OpenAI closed loop's CPU). One the
// upstream closed sooner (it restarted) fails its call as a failed
// connection, which guardgen retries, as calls in flight at a restart fail.
const staleAfter = 100 * time.Millisecond

// stale reports whether an idle connection cannot carry a request: the
// upstream has closed it (an HTTP server closes idle connections after
// its own timeout) or sent bytes nobody asked for. net/http learns this
// from the reader goroutine each connection has; here one non-blocking
// peek at the socket does, before the request is written, so that a
// closed connection costs a dial, not a failed call.
func (c *conn) stale() bool {
	if c.raw == nil {
		return false
	}
	quiet := false
	if err := c.raw.Read(func(fd uintptr) bool { quiet = peek(fd); return true }); err != nil {
		return true
	}
	return !quiet
}

// connBody is an answer's body: read to its end it gives the connection
// back for the next call, unless the answer asked to close it; closed
// before, or failing, it closes the connection.
type connBody struct {
	rc   io.ReadCloser
	c    *conn
	ctx  context.Context
	stop func() bool
	keep bool
	done bool
}

func (b *connBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		b.release(true)
	case err != nil:
		b.release(false)
		if b.ctx.Err() != nil {
			// The read ended because the call did.
			err = b.ctx.Err()
		}
	}
	return n, err
}

func (b *connBody) Close() error {
	if !b.done {
		b.release(false)
	}
	return nil
}

// release ends the body's hold on its connection: pooled when read
// whole with nothing after it, closed otherwise.
func (b *connBody) release(whole bool) {
	b.done = true
	stopped := b.stop()
	if whole && stopped && b.keep && b.c.br.Buffered() == 0 {
		b.c.detach()
		b.c.pool.put(b.c)
		return
	}
	b.c.closeConn()
}

// gzipBody decodes a gzip-encoded body, opening the decoder on the first
// read as net/http's transport does.
type gzipBody struct {
	rc  io.ReadCloser
	zr  *gzip.Reader
	err error
}

func (g *gzipBody) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if g.zr == nil {
		if g.zr, g.err = gzip.NewReader(g.rc); g.err != nil {
			return 0, g.err
		}
	}
	return g.zr.Read(p)
}

func (g *gzipBody) Close() error { return g.rc.Close() }

// headerLines is the propagation carrier of a request written by conns:
// each header a propagator sets is appended to the request's head. It is
// write-only, as injecting needs.
type headerLines struct {
	b   []byte
	err error
}

func (h *headerLines) Get(string) string { return "" }

func (h *headerLines) Keys() []string { return nil }

func (h *headerLines) Set(key, value string) {
	if h.err == nil {
		h.b, h.err = appendHeader(h.b, http.CanonicalHeaderKey(key), value)
	}
}
