package app_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc/connectivity"

	"github.com/guardgen/guardgen/app"
	"github.com/guardgen/guardgen/app/apptest"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// rawHTTP2 opens an HTTP/2 connection to guardgen without a gRPC client,
// so that the test decides which pings are sent and answered. It has
// sent the preface and its settings.
func rawHTTP2(t *testing.T, yaml string) *http2.Framer {
	t.Helper()
	srv := apptest.Start(t, parse(t, yaml), app.Options{LogOutput: io.Discard})
	conn, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(15 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return fr
}

// frames reads fr until the connection ends or stopAt of the test's pings
// are acknowledged (0: never), answering nothing, and returns what the
// server sent: pings, acks of the test's pings, and the GOAWAY's code.
func frames(t *testing.T, fr *http2.Framer, stopAt int) (pings, acks int, goAway http2.ErrCode, sawGoAway bool) {
	t.Helper()
	for stopAt == 0 || acks < stopAt {
		f, err := fr.ReadFrame()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the server kept the connection 15 s")
			}
			return pings, acks, goAway, sawGoAway
		}
		switch f := f.(type) {
		case *http2.PingFrame:
			if f.IsAck() {
				acks++
			} else {
				pings++
			}
		case *http2.GoAwayFrame:
			goAway, sawGoAway = f.ErrCode, true
		}
	}
	return pings, acks, goAway, sawGoAway
}

// TestSilentClientsAreDropped: after keepalive.time_seconds without
// traffic the server pings the client, and closes the connection when no
// answer comes within keepalive.timeout_seconds.
func TestSilentClientsAreDropped(t *testing.T) {
	t.Parallel()
	fr := rawHTTP2(t, "server:\n  keepalive: {time_seconds: 1, timeout_seconds: 1}\n")
	if pings, _, _, _ := frames(t, fr, 0); pings == 0 {
		t.Error("the connection closed without a keepalive ping")
	}
}

// TestPingFloodIsRefused: a client pinging more often than
// keepalive.min_client_ping_seconds, with no call in flight while
// keepalive.permit_pings_without_calls is false, is sent GOAWAY
// too_many_pings (ENHANCE_YOUR_CALM); with a floor of 0 and pings
// permitted, every ping is answered.
func TestPingFloodIsRefused(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		keepalive string
		refused   bool
	}{
		{"{min_client_ping_seconds: 10, permit_pings_without_calls: false}", true},
		{"{min_client_ping_seconds: 0, permit_pings_without_calls: true}", false},
	} {
		fr := rawHTTP2(t, "server:\n  keepalive: "+tt.keepalive+"\n")
		const sent = 6
		for i := range sent {
			if err := fr.WritePing(false, [8]byte{byte(i)}); err != nil {
				break // refused: the server has closed the connection
			}
		}
		stopAt := sent // every ack, on a connection that stays
		if tt.refused {
			stopAt = 0 // the connection's end
		}
		_, acks, code, sawGoAway := frames(t, fr, stopAt)
		if tt.refused && (!sawGoAway || code != http2.ErrCodeEnhanceYourCalm) {
			t.Errorf("%s: %d pings answered, GOAWAY %v (%v); want GOAWAY ENHANCE_YOUR_CALM", tt.keepalive, acks, sawGoAway, code)
		}
		if !tt.refused && (acks != sent || code == http2.ErrCodeEnhanceYourCalm) {
			t.Errorf("%s: %d of %d pings answered, GOAWAY %v; want every one, no refusal", tt.keepalive, acks, sent, code)
		}
	}
}

// TestIdleConnectionsClose: a connection without calls for
// keepalive.max_connection_idle_seconds is closed (GOAWAY), and the
// client's channel goes idle.
func TestIdleConnectionsClose(t *testing.T) {
	t.Parallel()
	srv := apptest.Start(t, parse(t, "server:\n  keepalive: {max_connection_idle_seconds: 0.2}\n"), app.Options{LogOutput: io.Discard})
	conn := srv.Dial(t)
	if _, err := generatePlan(t, guardgenv1.NewGenerationServiceClient(conn), "", nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for s := conn.GetState(); s != connectivity.Idle; s = conn.GetState() {
		if !conn.WaitForStateChange(ctx, s) {
			t.Fatalf("connection still %v 10 s after its last call; max_connection_idle 0.2 s should have closed it", s)
		}
	}
}
