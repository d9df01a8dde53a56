package openai_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/guardgen/guardgen/providers/openai"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
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

// Calls share the endpoint's header map until a propagator sets a header
// (copyOnSet): each call in a trace still sends its own traceparent, one
// without a trace context sends none, and what one call set never reaches
// another. Run under -race, a write to the shared map would also show
// there.
func TestTraceContextIsPerCall(t *testing.T) {
	t.Parallel()
	p, srv := start(t, openai.Options{Propagator: propagation.TraceContext{}})
	srv.SetDefault(openaitest.Reply(benchContent))
	req := request(t)
	const calls = 16
	want := make(map[string]bool, calls)
	var wg sync.WaitGroup
	for i := range calls {
		sc := trace.NewSpanContext(trace.SpanContextConfig{
			TraceID:    trace.TraceID{1, byte(i + 1)},
			SpanID:     trace.SpanID{2, byte(i + 1)},
			TraceFlags: trace.FlagsSampled,
		})
		want[fmt.Sprintf("00-%s-%s-01", sc.TraceID(), sc.SpanID())] = true
		ctx := trace.ContextWithSpanContext(t.Context(), sc)
		wg.Go(func() {
			if _, err := p.Complete(ctx, req); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if _, err := p.Complete(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != calls+1 {
		t.Fatalf("upstream saw %d requests, want %d", len(reqs), calls+1)
	}
	for _, r := range reqs[:calls] {
		tp := r.Header.Get("traceparent")
		if !want[tp] {
			t.Errorf("traceparent %q: not one of the calls', or sent twice", tp)
		}
		delete(want, tp)
		if r.Header.Get("Authorization") == "" {
			t.Error("a traced call lost the endpoint's headers")
		}
	}
	if tp := reqs[calls].Header.Get("traceparent"); tp != "" {
		t.Errorf("a call without a trace context sent traceparent %q (another call's)", tp)
	}
	if reqs[calls].Header.Get("Authorization") == "" {
		t.Error("an untraced call lost the endpoint's headers")
	}
}
