package openai

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The provider's own connections (conns) to a cleartext upstream, from the
// upstream's side: a plain net/http server whose listener records every
// connection it accepts, so that a test sees which calls dialled.

const connsAnswer = `{"id":"c-1","object":"chat.completion","created":1,"model":"gpt-test",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"{\"ok\":true}"},"finish_reason":"stop"}],` +
	`"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`

var connsBody = []byte(`{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}`)

// recordingListener keeps the server's side of each accepted connection.
type recordingListener struct {
	net.Listener
	mu       sync.Mutex
	accepted []net.Conn
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.accepted = append(l.accepted, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *recordingListener) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.accepted)
}

// dialled fails t unless the provider has dialled n connections; why says
// what n follows from.
func (l *recordingListener) dialled(t *testing.T, n int, why string) {
	t.Helper()
	if got := l.count(); got != n {
		t.Fatalf("%d connections dialled, want %d: %s", got, n, why)
	}
}

// closeAll closes the server's side of every connection, as an upstream
// does with idle ones after its keep-alive timeout.
func (l *recordingListener) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.accepted {
		_ = c.Close()
	}
}

// connsUpstream serves h and returns a provider of its own connections to
// it, and the listener.
func connsUpstream(t *testing.T, h http.HandlerFunc) (*Provider, *recordingListener) {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	l := &recordingListener{Listener: ts.Listener}
	ts.Listener = l
	ts.Start()
	t.Cleanup(ts.Close)
	p, err := New(Options{BaseURL: ts.URL + "/v1", APIKey: "sk-test", Model: "gpt-test", MaxResponseBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	if p.conns == nil {
		t.Fatal("the provider does not use its own connections for a cleartext upstream")
	}
	return p, l
}

// holdFirst is a handler that holds its first n requests until release
// is called, and answers the rest at once; arrived waits for the n.
func holdFirst(n int) (h http.HandlerFunc, arrived, release func()) {
	var seen atomic.Int64
	var wg sync.WaitGroup
	wg.Add(n)
	released := make(chan struct{})
	h = func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) <= int64(n) {
			wg.Done()
			<-released
		}
		answer(w, r)
	}
	return h, wg.Wait, func() { close(released) }
}

func answer(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(connsAnswer))
}

// sendOK makes one call and checks its answer arrived whole.
func sendOK(t *testing.T, p *Provider) {
	t.Helper()
	c, err := p.send(t.Context(), connsBody)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Choices) != 1 || c.Choices[0].Message.Content != `{"ok":true}` || c.Usage.TotalTokens != 5 {
		t.Fatalf("answer read as %+v", c)
	}
}

// TestConnsReuse: calls one after another share one connection, whether
// the answer has a length or comes chunked; calls at once each have one,
// and keep them for later calls.
func TestConnsReuse(t *testing.T) {
	t.Parallel()
	for name, h := range map[string]http.HandlerFunc{
		"content-length": answer,
		"chunked": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			half := len(connsAnswer) / 2
			_, _ = w.Write([]byte(connsAnswer[:half]))
			w.(http.Flusher).Flush()
			_, _ = w.Write([]byte(connsAnswer[half:]))
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, l := connsUpstream(t, h)
			for range 10 {
				sendOK(t, p)
			}
			l.dialled(t, 1, "calls in turn share one")
		})
	}
	t.Run("at once", func(t *testing.T) {
		t.Parallel()
		h, arrived, release := holdFirst(4)
		p, l := connsUpstream(t, h)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { sendOK(t, p) })
		}
		arrived()
		release()
		wg.Wait()
		l.dialled(t, 4, "calls at once need one each")
		for range 8 {
			sendOK(t, p)
		}
		l.dialled(t, 4, "later calls reuse them")
	})
}

// TestConnsUpstreamClosedIdle: an upstream that closed its side of idle
// connections (its keep-alive timeout) costs the next call a dial, not a
// failure.
func TestConnsUpstreamClosedIdle(t *testing.T) {
	t.Parallel()
	p, l := connsUpstream(t, answer)
	p.conns.checkAfter = 0
	sendOK(t, p)
	l.closeAll()
	// The close reaches the client's socket asynchronously.
	time.Sleep(50 * time.Millisecond)
	sendOK(t, p)
	l.dialled(t, 2, "the one the upstream closed is replaced")
}

// TestConnsNotReused: a connection is not used again after an answer that
// asks to close it, a 101, a body closed unread, or a call whose context
// ended.
func TestConnsNotReused(t *testing.T) {
	t.Parallel()
	t.Run("connection close", func(t *testing.T) {
		t.Parallel()
		p, l := connsUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			answer(w, r)
		})
		for range 3 {
			sendOK(t, p)
		}
		l.dialled(t, 3, "each answer said Connection: close")
	})
	t.Run("switching protocols", func(t *testing.T) {
		t.Parallel()
		// Nothing asked for it; after a 101 the connection is not
		// HTTP's, even once its (empty) answer is read to the end.
		p, _ := connsUpstream(t, func(w http.ResponseWriter, _ *http.Request) {
			c, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer c.Close()
			_, _ = c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n"))
			// Open until the provider closes its side.
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _ = io.Copy(io.Discard, c)
		})
		resp, err := p.post(t.Context(), connsBody)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(resp.Body); err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusSwitchingProtocols || idleConns(p) != 0 {
			t.Fatalf("after a 101 (read as %d), %d connections idle, want none", resp.StatusCode, idleConns(p))
		}
	})
	t.Run("body closed unread", func(t *testing.T) {
		t.Parallel()
		p, l := connsUpstream(t, answer)
		resp, err := p.post(t.Context(), connsBody)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		sendOK(t, p)
		l.dialled(t, 2, "one left mid-answer is not reused")
	})
	t.Run("context ended", func(t *testing.T) {
		t.Parallel()
		// The first call is held until its connection goes (or 5 s
		// pass); the next is answered at once.
		var seen atomic.Int64
		gone := make(chan struct{})
		p, l := connsUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			// Read whole, the request lets net/http's server watch
			// its connection for the client going away.
			_, _ = io.Copy(io.Discard, r.Body)
			if seen.Add(1) == 1 {
				select {
				case <-r.Context().Done():
					close(gone)
				case <-time.After(5 * time.Second):
				}
			}
			answer(w, r)
		})
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := p.send(ctx, connsBody)
		if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "deadline") {
			t.Fatalf("a call past its deadline failed with %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("the call returned %v after its 20 ms deadline", d)
		}
		if idleConns(p) != 0 {
			t.Fatal("the aborted call's connection went back to the pool")
		}
		select {
		case <-gone:
		case <-time.After(2 * time.Second):
			t.Fatal("the upstream did not see the aborted call go")
		}
		sendOK(t, p)
		l.dialled(t, 2, "the aborted call's is not reused")
	})
}

// TestConnsAnswers: the answers net/http's transport reads for the
// provider are read the same way: gzip-encoded, or after informational
// ones.
func TestConnsAnswers(t *testing.T) {
	t.Parallel()
	t.Run("gzip", func(t *testing.T) {
		t.Parallel()
		p, l := connsUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Accept-Encoding") != "gzip" {
				http.Error(w, "no gzip asked for", http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			_, _ = zw.Write([]byte(connsAnswer))
			_ = zw.Close()
		})
		for range 3 {
			sendOK(t, p)
		}
		l.dialled(t, 1, "gzip answers read whole keep theirs")
	})
	t.Run("informational first", func(t *testing.T) {
		t.Parallel()
		p, _ := connsUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</x>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
			answer(w, r)
		})
		sendOK(t, p)
	})
	t.Run("error status", func(t *testing.T) {
		t.Parallel()
		p, l := connsUpstream(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}`))
		})
		for range 2 {
			if _, err := p.send(t.Context(), connsBody); err == nil || !strings.Contains(err.Error(), "HTTP 429") {
				t.Fatalf("a 429 answer read as %v", err)
			}
		}
		l.dialled(t, 1, "an error answer read whole keeps its connection")
	})
}

// TestConnsIdleBounds: at most maxIdle connections stay idle, each for
// idleFor, and Close closes them.
func TestConnsIdleBounds(t *testing.T) {
	t.Parallel()
	h, arrived, release := holdFirst(5)
	p, l := connsUpstream(t, h)
	p.conns.maxIdle = 2
	p.conns.idleFor = 500 * time.Millisecond
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() { sendOK(t, p) })
	}
	arrived()
	release()
	wg.Wait()
	idle := func() int { return idleConns(p) }
	if n := idle(); n != 2 {
		t.Fatalf("%d idle connections after 5 calls, want maxIdle 2", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for idle() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still idle long after idleFor", idle())
		}
		time.Sleep(10 * time.Millisecond)
	}
	l.dialled(t, 5, "five calls at once")
	sendOK(t, p)
	p.conns.mu.Lock()
	last := p.conns.idle[0]
	p.conns.mu.Unlock()
	_ = p.Close()
	if n := idle(); n != 0 {
		t.Fatalf("%d idle connections after Close", n)
	}
	if _, err := last.c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("an idle connection was left open by Close: writing to it gave %v", err)
	}
}

// TestConnsRefusedHeader: a header the propagator would send that net/http
// would refuse fails the call before anything is written.
func TestConnsRefusedHeader(t *testing.T) {
	t.Parallel()
	var lines headerLines
	lines.Set("traceparent", "00-abc\r\nX-Injected: 1")
	if lines.err == nil || strings.Contains(string(lines.b), "X-Injected") {
		t.Fatalf("a header value with a line break was written: %q, %v", lines.b, lines.err)
	}
	if _, err := requestHead(mustURL(t, "http://h/v1/chat/completions"), http.Header{"Authorization": {"Bearer k\n"}}); err == nil {
		t.Fatal("an endpoint header with a line break was accepted")
	}
}

func idleConns(p *Provider) int {
	p.conns.mu.Lock()
	defer p.conns.mu.Unlock()
	return len(p.conns.idle)
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestConnsClosedBeforeAnswer: a connection the upstream closes before
// its answer begins failed, as net/http reports it ("connection failed",
// not a cut answer), whether the close is there at the first look after
// the request is written or comes later.
func TestConnsClosedBeforeAnswer(t *testing.T) {
	t.Parallel()
	wantFailed := func(t *testing.T, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "connection failed") {
			t.Fatalf("the call failed with %v, want a failed connection", err)
		}
	}
	t.Run("at once", func(t *testing.T) {
		t.Parallel()
		// Closed while idle, and reused before it is checked: the
		// close is on the socket when the request goes.
		p, l := connsUpstream(t, answer)
		p.conns.checkAfter = time.Hour
		sendOK(t, p)
		l.closeAll()
		time.Sleep(20 * time.Millisecond)
		_, err := p.send(t.Context(), connsBody)
		wantFailed(t, err)
	})
	t.Run("later", func(t *testing.T) {
		t.Parallel()
		p, _ := connsUpstream(t, func(w http.ResponseWriter, _ *http.Request) {
			time.Sleep(20 * time.Millisecond)
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = c.Close()
			}
		})
		_, err := p.send(t.Context(), connsBody)
		wantFailed(t, err)
	})
}

// TestConnsEndlessHeaders: an upstream that sends headers without end, or
// informational answers without end, fails the call once they pass
// maxResponseHeaderBytes; the call does not read them for as long as they
// come.
func TestConnsEndlessHeaders(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ first, again string }{
		"header lines":          {"HTTP/1.1 200 OK\r\n", "X-Pad: " + strings.Repeat("a", 1000) + "\r\n"},
		"informational answers": {"", "HTTP/1.1 100 Continue\r\nX-Pad: " + strings.Repeat("a", 1000) + "\r\n\r\n"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ln := listenLoopback(t)
			sent := make(chan int64, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				_, _ = c.Read(make([]byte, 4096)) // the request
				n, _ := c.Write([]byte(tc.first))
				total := int64(n)
				for {
					n, err := c.Write([]byte(tc.again))
					total += int64(n)
					if err != nil {
						sent <- total
						return
					}
				}
			}()
			p, err := New(Options{BaseURL: "http://" + ln.Addr().String() + "/v1", Model: "gpt-test", MaxResponseBytes: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Close() })
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if _, err := p.send(ctx, connsBody); err == nil || ctx.Err() != nil {
				t.Fatalf("the call ended with %v (context: %v), want it refused before its deadline", err, ctx.Err())
			}
			// What the upstream got written before the provider closed
			// the connection: the bound, and what the two sockets'
			// buffers hold.
			if n := <-sent; n > 16*maxResponseHeaderBytes {
				t.Fatalf("the upstream wrote %d bytes before the call gave up", n)
			}
		})
	}
}
