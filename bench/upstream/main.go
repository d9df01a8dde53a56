// Command upstream runs the OpenAI-compatible test server of package
// openaitest for the load benchmark, with every chat completion answered
// after a fixed delay. cmd/openai-testserver has no default delay (a delay
// there is per scripted step, one step per request), hence this wrapper.
//
//	upstream --listen 127.0.0.1:8089 --delay 1s --dump-request /tmp/req.json
//	upstream --tls-cert /tmp/upstream.pem   # HTTPS and HTTP/2, like api.openai.com
//
// --dump-request writes the raw body of the first chat completion request
// received, so the benchmark can replay exactly what guardgen sends when it
// measures the test server directly.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/guardgen/guardgen/providers/openai/openaitest"
)

// defaultContent is a valid guardgen.examples.v1.TicketClassification.
const defaultContent = `{"category":"billing","priority":2,"summary":"Customer was charged twice for the subscription this month"}`

func main() {
	listen := flag.String("listen", "127.0.0.1:8089", "address to listen on")
	delay := flag.Duration("delay", 0, "wait this long before every answer")
	content := flag.String("content", defaultContent, "assistant content of every answer")
	dump := flag.String("dump-request", "", "write the raw body of the first chat completion request to this file")
	tlsCert := flag.String("tls-cert", "", "serve HTTPS (HTTP/2 by ALPN, as api.openai.com) and write the certificate to trust to this file")
	flag.Parse()

	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "upstream:", err)
		os.Exit(1)
	}
	opts := []openaitest.Option{openaitest.WithListener(lis)}
	if *tlsCert != "" {
		opts = append(opts, openaitest.WithTLS())
	}
	srv := openaitest.New(opts...)
	if *tlsCert != "" {
		// Written whole under another name and renamed: the listener
		// accepts before the file exists, and whoever waits for the file
		// must not read half of it.
		tmp := *tlsCert + ".tmp"
		if err := os.WriteFile(tmp, srv.CertificatePEM(), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "upstream:", err)
			os.Exit(1)
		}
		if err := os.Rename(tmp, *tlsCert); err != nil {
			fmt.Fprintln(os.Stderr, "upstream:", err)
			os.Exit(1)
		}
	}
	srv.SetDefault(openaitest.Step{Content: *content, Delay: *delay})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *dump != "" {
		go dumpFirst(ctx, srv, *dump)
	}
	fmt.Printf("OPENAI_BASE_URL=%s delay=%s\n", srv.URL(), *delay)
	<-ctx.Done()
	reqs := srv.Requests()
	srv.Close()
	fmt.Printf("served %d chat completion requests\n", len(reqs))
	if *delay > 0 {
		fmt.Printf("peak_in_flight %d\n", peakInFlight(reqs, *delay))
	}
}

// peakInFlight is the largest number of requests whose arrival falls in one
// window of length delay: with every answer sent delay after arrival, that
// is how many the server held at once (a request cancelled early counts as
// held for the whole window).
func peakInFlight(reqs []openaitest.Request, delay time.Duration) int {
	times := make([]time.Time, len(reqs))
	for i, r := range reqs {
		times[i] = r.Time
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	peak, lo := 0, 0
	for hi, t := range times {
		for t.Sub(times[lo]) >= delay {
			lo++
		}
		peak = max(peak, hi-lo+1)
	}
	return peak
}

func dumpFirst(ctx context.Context, srv *openaitest.Server, name string) {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if srv.Count() == 0 {
			continue
		}
		// Requests copies the whole record list; it is called once.
		if err := os.WriteFile(name, srv.Requests()[0].RawBody, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "upstream:", err)
		}
		return
	}
}
