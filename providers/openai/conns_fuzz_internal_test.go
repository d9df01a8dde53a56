package openai

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
)

// rawUpstream is an upstream that answers every request with the bytes it
// is set to, whatever they are, and then closes the connection: what a
// broken or hostile server can put on the wire.
type rawUpstream struct {
	ln     net.Listener
	answer atomic.Pointer[[]byte]
}

func newRawUpstream(tb testing.TB) *rawUpstream {
	tb.Helper()
	u := &rawUpstream{ln: listenLoopback(tb)}
	acceptEach(u.ln, u.serve)
	return u
}

// listenLoopback is a listener on a free loopback port, closed when the
// test ends.
func listenLoopback(tb testing.TB) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = ln.Close() })
	return ln
}

// acceptEach serves every connection ln accepts on a goroutine of its
// own, until ln closes.
func acceptEach(ln net.Listener, serve func(net.Conn)) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
}

// serve reads one request whole, writes the answer and closes.
func (u *rawUpstream) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return
	}
	if _, err := io.Copy(io.Discard, req.Body); err != nil {
		return
	}
	_, _ = c.Write(*u.answer.Load())
}

// verdict is what a call comes to, in the terms guardgen acts on: the
// answer decoded, or the gRPC status the failure maps to (code, message
// and ErrorInfo; not RetryInfo, which counts from the clock).
func verdict(c *completion, err error) string {
	if err == nil {
		b, err := json.Marshal(c)
		if err != nil {
			return "answer that does not encode: " + err.Error()
		}
		return "answer " + string(b)
	}
	st := status.Convert(err)
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", st.Code(), st.Message())
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			fmt.Fprintf(&b, "; %s", info.GetReason())
			for _, k := range slices.Sorted(maps.Keys(info.GetMetadata())) {
				fmt.Fprintf(&b, " %s=%s", k, info.GetMetadata()[k])
			}
		}
	}
	return b.String()
}

// connsSeeds are answers upstreams give, well and badly formed.
func connsSeeds() [][]byte {
	ok := func(head string) []byte {
		return []byte(head + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(connsAnswer)) + connsAnswer)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(connsAnswer))
	_ = zw.Close()
	chunked := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(connsAnswer), connsAnswer)
	apiError := `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`
	return [][]byte{
		ok("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"),
		[]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked),
		append([]byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n", gz.Len())), gz.Bytes()...),
		ok("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"), // says gzip, is not
		ok("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"),
		ok(strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", 6) + "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"),
		[]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"),
		[]byte("HTTP/1.1 204 No Content\r\n\r\n"),
		[]byte("HTTP/1.1 307 Temporary Redirect\r\nLocation: /v1/other\r\nContent-Length: 0\r\n\r\n"),
		[]byte(fmt.Sprintf("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 2\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(apiError), apiError)),
		[]byte("HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\n\r\n<html><body>bad gateway</body></html>"),
		[]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n" + connsAnswer[:40]),
		[]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + connsAnswer),
		[]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked),
		[]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n" + connsAnswer),
		[]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: -5\r\n\r\n" + connsAnswer),
		[]byte("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + connsAnswer),
		[]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + connsAnswer),
		[]byte("HTTP/1.1 200 OK\r\n\r\n"),
		[]byte("HTTP/1.1 OK\r\n\r\n"),
		[]byte("HTTP/2.0 200 OK\r\n\r\n"),
		[]byte("hello"),
		[]byte("HTTP/1.1 200"),
		{},
	}
}

// FuzzConnsMatchTransport: whatever an upstream sends, the provider's
// own connections come to the verdict net/http's transport comes to for
// the same bytes: the same answer, or the same failure (code, message,
// reason, metadata). It checks the hand-written client where it could
// differ from the one it replaced: reading an answer's head, 1xx, gzip,
// the body's end, and telling a failed connection from a cut answer.
func FuzzConnsMatchTransport(f *testing.F) {
	for _, s := range connsSeeds() {
		f.Add(s)
	}
	up := newRawUpstream(f)
	base := "http://" + up.ln.Addr().String() + "/v1"
	f.Fuzz(func(t *testing.T, answer []byte) {
		up.answer.Store(&answer)
		opts := Options{BaseURL: base, APIKey: "sk-test", Model: "gpt-test", MaxResponseBytes: 64 << 10}
		own, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		defer own.Close()
		if own.conns == nil {
			t.Fatal("the provider does not use its own connections for a cleartext upstream")
		}
		std, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		defer std.Close()
		std.conns.close()
		std.conns = nil
		u, _ := url.Parse(base)
		std.useTransport(u, opts, DefaultMaxIdleConns)
		if std.transport == nil {
			t.Fatal("no transport to compare with")
		}

		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		got := verdict(own.send(ctx, connsBody))
		want := verdict(std.send(ctx, connsBody))
		if ctx.Err() != nil {
			t.Fatalf("a call ran into the test's deadline: an answer that ends with a closed connection must end the call")
		}
		if got != want {
			t.Fatalf("answer %q:\nown connections: %s\nnet/http:        %s", answer, got, want)
		}
		own.conns.mu.Lock()
		defer own.conns.mu.Unlock()
		for _, c := range own.conns.idle {
			if c.br != nil || c.limit != 0 {
				t.Fatalf("an idle connection kept its reader or its head's bound")
			}
		}
	})
}

// TestConnsEarlyAnswer: an upstream that answers before it has read the
// whole request, and closes (a proxy refusing a body past its limit with
// 413), gives the call that answer, not a failed connection: the request
// was refused, and retrying it would not help. net/http's transport gives
// the answer too, when its reader wins the race against its writer's
// failure. One that closes without answering fails the call as a failed
// connection. Either way the connection is not kept.
func TestConnsEarlyAnswer(t *testing.T) {
	t.Parallel()
	// Past what the sockets' buffers take, so the write fails.
	body := []byte(`{"model":"gpt-test","messages":[{"role":"user","content":"` + strings.Repeat("a", 8<<20) + `"}]}`)
	for name, tc := range map[string]struct{ answer, want string }{
		"413 and close": {
			"HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: text/html\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoo large",
			"InvalidArgument: openai: upstream rejected the request (HTTP 413); INVALID_REQUEST http_status=413",
		},
		"close": {"", "Unavailable: openai: upstream connection failed; UPSTREAM_UNAVAILABLE"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ln := listenLoopback(t)
			acceptEach(ln, func(c net.Conn) {
				defer c.Close()
				// The head only, then the answer.
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				_, _ = c.Write([]byte(tc.answer))
			})
			p, err := New(Options{BaseURL: "http://" + ln.Addr().String() + "/v1", APIKey: "sk-test", Model: "gpt-test", MaxResponseBytes: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Close() })
			for range 3 {
				if got := verdict(p.send(t.Context(), body)); got != tc.want {
					t.Fatalf("the call came to %s, want %s", got, tc.want)
				}
				if n := idleConns(p); n != 0 {
					t.Fatalf("%d connections kept after a request that could not be written whole", n)
				}
			}
		})
	}
}
