package openai_test

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/guardgen/guardgen/providers/openai"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
)

// countingConn counts the writes made on a connection.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestRequestIsOneWrite: a request of a few KiB reaches the upstream in
// one write, headers and body together, unary and streamed, first call and
// later ones: net/http sends the headers alone, then copies the body in a
// second write, when it cannot see that the body is already in memory.
func TestRequestIsOneWrite(t *testing.T) {
	t.Parallel()
	var writes atomic.Int64
	transport := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: c, writes: &writes}, nil
	}}
	t.Cleanup(transport.CloseIdleConnections)
	p, srv := start(t, openai.Options{HTTPClient: &http.Client{Transport: transport}})
	srv.SetDefault(openaitest.Reply(benchContent))
	req := request(t)
	for i := range 4 {
		before := writes.Load()
		var err error
		if i%2 == 0 {
			_, err = p.Complete(t.Context(), req)
		} else {
			_, err = streamed(t.Context(), p, req)
		}
		if err != nil {
			t.Fatal(err)
		}
		if n := writes.Load() - before; n != 1 {
			t.Errorf("call %d (streamed: %v) took %d writes, want 1", i+1, i%2 == 1, n)
		}
	}
}
