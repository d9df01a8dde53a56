package soak_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
)

const shutdownConfig = `
providers:
  - name: openai
    type: openai
    base_url: %s
routes:
  - name: default
    entries:
      - provider: openai
server:
  max_in_flight: 2000
  shutdown_timeout_seconds: %g
`

// TestShutdownUnderLoad sends SIGTERM to the real guardgen binary, with
// its default drain delay, while hundreds of calls wait on a 5 s provider:
// none of them fails, health turns NOT_SERVING before any of them ends, a
// new call is still served after the flip (the drain delay) and refused
// only later (the listener closed), and the process exits cleanly within
// its shutdown timeout.
func TestShutdownUnderLoad(t *testing.T) {
	const (
		inFlight    = 600
		minInFlight = 500 // in flight when SIGTERM is sent
		// Long enough that the ramp-up below (600 calls, about a second on
		// a loaded two-core machine) ends well before the first call
		// could: every call is still waiting when SIGTERM arrives.
		providerDelay   = 5 * time.Second
		shutdownTimeout = 10 * time.Second
		loadConns       = 4
	)
	up := openaitest.New()
	defer up.Close()
	up.SetDefault(openaitest.Step{Content: validTicket, Delay: providerDelay})

	file := filepath.Join(t.TempDir(), "guardgen.yaml")
	if err := os.WriteFile(file, fmt.Appendf(nil, shutdownConfig, up.URL(), shutdownTimeout.Seconds()), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildBinary(t, "github.com/guardgen/guardgen")
	proc := start(t, bin, "--config", file, "--listen", "127.0.0.1:0", "--metrics-listen", "")
	var serving struct{ Listen string }
	if err := json.Unmarshal([]byte(proc.waitLine(t, `"msg":"serving"`, 30*time.Second)), &serving); err != nil || serving.Listen == "" {
		t.Fatalf("serving line: %v %+v", err, serving)
	}
	addr := serving.Listen
	dial := func() *grpc.ClientConn {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}

	// Health, watched on a dedicated connection: a Watch stream gets the
	// NOT_SERVING update pushed; it is closed once seen, because
	// GracefulStop waits for every open stream, this one included.
	watchCtx, stopWatch := context.WithCancel(t.Context())
	defer stopWatch()
	watch, err := healthpb.NewHealthClient(dial()).Watch(watchCtx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if first, err := watch.Recv(); err != nil || first.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health before SIGTERM: %v, %v", first, err)
	}
	notServing := make(chan time.Time, 1)
	go func() {
		defer stopWatch()
		for {
			resp, err := watch.Recv()
			if err != nil {
				return
			}
			if resp.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING {
				notServing <- time.Now()
				return
			}
		}
	}()
	// And polled, on another dedicated connection, as a probe would.
	pollCtx, stopPoll := context.WithCancel(t.Context())
	defer stopPoll()
	poll := newHealthPoll(healthpb.NewHealthClient(dial()))
	go poll.run(pollCtx)

	// The load: inFlight calls, all waiting on the provider before SIGTERM.
	gens := make([]guardgenv1.GenerationServiceClient, loadConns)
	for i := range gens {
		gens[i] = guardgenv1.NewGenerationServiceClient(dial())
	}
	type outcome struct {
		err   error
		start time.Time
		at    time.Time
	}
	outcomes := make([]outcome, inFlight)
	var load sync.WaitGroup
	var returned atomic.Int64
	for i := range inFlight {
		// Ramp up (1,000 calls/s) rather than burst: on a small machine a
		// burst of hundreds of calls at once starves health probes for a
		// second, which is a capacity question, not a shutdown one.
		time.Sleep(time.Millisecond)
		load.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
			defer cancel()
			start := time.Now()
			_, err := gens[i%loadConns].Generate(ctx, &guardgenv1.GenerateRequest{Prompt: prompts[i%len(prompts)], TargetType: ticketType})
			outcomes[i] = outcome{err, start, time.Now()}
			returned.Add(1)
		})
	}
	for deadline := time.Now().Add(10 * time.Second); up.Count() < inFlight; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d calls reached the provider", up.Count(), inFlight)
		}
	}
	if n := inFlight - int(returned.Load()); n < minInFlight {
		t.Fatalf("only %d calls in flight at SIGTERM, want at least %d (the machine is too slow for a %s provider)", n, minInFlight, providerDelay)
	}

	sigterm := time.Now()
	if err := proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var flipped time.Time
	select {
	case flipped = <-notServing:
	case <-time.After(5 * time.Second):
		t.Fatal("health never reported NOT_SERVING after SIGTERM")
	}
	// A new call right after the flip is served: balancers are given the
	// drain delay to notice. Later ones are refused: the listener closed.
	newCall := func() error {
		ctx, cancel := context.WithTimeout(t.Context(), providerDelay+5*time.Second)
		defer cancel()
		_, err := guardgenv1.NewGenerationServiceClient(dial()).Generate(ctx,
			&guardgenv1.GenerateRequest{Prompt: prompts[0], TargetType: ticketType})
		return err
	}
	drainErr := newCall()
	served := 0 // new calls served after the flip, which the upstream saw too
	if drainErr == nil {
		served++
	}
	var refusedErr error
	for until := time.Now().Add(shutdownTimeout); time.Now().Before(until); time.Sleep(50 * time.Millisecond) {
		if refusedErr = newCall(); refusedErr != nil {
			break
		}
		served++
	}

	load.Wait()
	var exited time.Time
	select {
	case <-proc.exited:
		exited = time.Now()
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatalf("guardgen still runs %s after SIGTERM", shutdownTimeout+5*time.Second)
	}
	stopWatch()
	stopPoll()
	polled := poll.stop()
	for _, e := range polled.log {
		// Slow or failed probes before the signal, for the record.
		if e.sent.Before(sigterm) && (e.code != codes.OK || e.latency > 100*time.Millisecond) {
			t.Logf("poll %+8.1fms took %8.1fms: %v %v", float64(e.sent.Sub(sigterm))/1e6, float64(e.latency)/1e6, e.status, e.code)
		}
	}

	failed, atSignal, firstDone := 0, 0, time.Time{}
	for i, o := range outcomes {
		if o.err != nil {
			failed++
			if failed <= 5 {
				t.Errorf("call %d failed: %v", i, o.err)
			}
		}
		if o.at.After(sigterm) {
			atSignal++
			if firstDone.IsZero() || o.at.Before(firstDone) {
				firstDone = o.at
			}
		}
	}
	cancelled := 0
	for _, r := range up.Requests() {
		if r.Cancelled {
			cancelled++
		}
	}
	t.Logf("%d calls, %d in flight at SIGTERM: %d failed; upstream saw %d requests, %d cancelled", inFlight, atSignal, failed, up.Count(), cancelled)
	t.Logf("after SIGTERM: health NOT_SERVING (watch) at +%s, first in-flight call done at +%s, exit at +%s (bound %s)",
		flipped.Sub(sigterm).Round(time.Microsecond), firstDone.Sub(sigterm).Round(time.Millisecond), exited.Sub(sigterm).Round(time.Millisecond), shutdownTimeout)
	t.Logf("health polls (Check every 2 ms, own connection): %s", polled.since(sigterm))

	if failed > 0 {
		t.Errorf("%d of %d calls failed", failed, inFlight)
	}
	if up.Count() != inFlight+served || cancelled > 0 {
		t.Errorf("upstream saw %d requests (%d cancelled), want %d, none cancelled", up.Count(), cancelled, inFlight+served)
	}
	if !flipped.Before(firstDone) {
		t.Errorf("health turned NOT_SERVING at +%s, after the first in-flight call ended at +%s", flipped.Sub(sigterm), firstDone.Sub(sigterm))
	}
	if drainErr != nil {
		t.Errorf("a new call right after the flip = %v, want OK (served during the drain delay)", drainErr)
	}
	if status.Code(refusedErr) != codes.Unavailable {
		t.Errorf("a new call after the drain delay = %v, want UNAVAILABLE", refusedErr)
	}
	if proc.err != nil {
		t.Errorf("guardgen exit: %v", proc.err)
	}
	if d := exited.Sub(sigterm); d > shutdownTimeout+time.Second {
		t.Errorf("guardgen exited %s after SIGTERM, beyond its %s shutdown timeout", d, shutdownTimeout)
	}
	if polled.errorsBeforeSignal(sigterm) > 0 || polled.servingAfterNotServing > 0 {
		t.Errorf("health polls: %s", polled.since(sigterm))
	}
	if out := proc.output(); strings.Contains(strings.ToLower(out), "panic") {
		t.Errorf("guardgen printed a panic:\n%s", out)
	}
}

type pollEvent struct {
	sent    time.Time
	latency time.Duration
	status  healthpb.HealthCheckResponse_ServingStatus
	code    codes.Code
}

// healthPoll calls Check in a loop and keeps what a probe would see.
type healthPoll struct {
	client healthpb.HealthClient
	done   chan struct{}
	result pollResult
}

type pollResult struct {
	polls                  int
	firstNotServing        time.Time // first NOT_SERVING answer
	firstError             time.Time // first failed Check
	firstErr               error
	errors                 int
	servingAfterNotServing int // SERVING answers to Checks sent after a NOT_SERVING one
	log                    []pollEvent
	lastServing            time.Time
}

func newHealthPoll(c healthpb.HealthClient) *healthPoll {
	return &healthPoll{client: c, done: make(chan struct{})}
}

func (h *healthPoll) run(ctx context.Context) {
	defer close(h.done)
	r := &h.result
	for ctx.Err() == nil {
		sent := time.Now()
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := h.client.Check(cctx, &healthpb.HealthCheckRequest{})
		cancel()
		if ctx.Err() != nil {
			return
		}
		r.polls++
		r.log = append(r.log, pollEvent{sent, time.Since(sent), resp.GetStatus(), status.Code(err)})
		switch {
		case err != nil:
			r.errors++
			if r.firstError.IsZero() {
				r.firstError, r.firstErr = sent, err
			}
		case resp.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING:
			if r.firstNotServing.IsZero() {
				r.firstNotServing = sent
			}
		case resp.GetStatus() == healthpb.HealthCheckResponse_SERVING:
			r.lastServing = sent
			if !r.firstNotServing.IsZero() {
				r.servingAfterNotServing++
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// stop waits for the loop (whose context the caller cancelled) to end.
func (h *healthPoll) stop() pollResult {
	<-h.done
	return h.result
}

func (r pollResult) errorsBeforeSignal(sig time.Time) int {
	if !r.firstError.IsZero() && r.firstError.Before(sig) {
		return 1
	}
	return 0
}

// since describes r with times relative to sig.
func (r pollResult) since(sig time.Time) string {
	at := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return fmt.Sprintf("%+.3fms", float64(t.Sub(sig))/float64(time.Millisecond))
	}
	return fmt.Sprintf("%d polls; last SERVING sent %s, first NOT_SERVING sent %s, first error sent %s (%v; %d errors), SERVING after NOT_SERVING %d",
		r.polls, at(r.lastServing), at(r.firstNotServing), at(r.firstError), r.firstErr, r.errors, r.servingAfterNotServing)
}

// TestShutdownEndsHungCalls sends SIGTERM to the real guardgen binary while
// calls without a deadline of their own wait on an upstream that never
// answers: when the shutdown timeout runs out each of them is answered
// UNAVAILABLE with a SHUTTING_DOWN FailureDetail, its upstream request is
// cancelled, and the process exits within the timeout plus one second.
func TestShutdownEndsHungCalls(t *testing.T) {
	const (
		calls           = 20
		shutdownTimeout = time.Second
	)
	up := openaitest.New()
	defer up.Close()
	up.SetDefault(openaitest.Step{Hang: true})
	file := filepath.Join(t.TempDir(), "guardgen.yaml")
	yaml := fmt.Sprintf(shutdownConfig, up.URL(), shutdownTimeout.Seconds()) + "  drain_delay_seconds: 0\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	proc := start(t, buildBinary(t, "github.com/guardgen/guardgen"), "--config", file, "--listen", "127.0.0.1:0", "--metrics-listen", "")
	var serving struct{ Listen string }
	if err := json.Unmarshal([]byte(proc.waitLine(t, `"msg":"serving"`, 30*time.Second)), &serving); err != nil || serving.Listen == "" {
		t.Fatalf("serving line: %v %+v", err, serving)
	}
	conn, err := grpc.NewClient(serving.Listen, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	gen := guardgenv1.NewGenerationServiceClient(conn)
	errs := make(chan error, calls)
	for i := range calls {
		go func() {
			// Far beyond the shutdown timeout (and below the default request
			// timeout): only shutdown can end these calls in time.
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
			defer cancel()
			_, err := gen.Generate(ctx, &guardgenv1.GenerateRequest{Prompt: prompts[i%len(prompts)], TargetType: ticketType})
			errs <- err
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); up.Count() < calls; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d calls reached the upstream", up.Count(), calls)
		}
	}

	sigterm := time.Now()
	if err := proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-proc.exited:
	case <-time.After(shutdownTimeout + 10*time.Second):
		t.Fatalf("guardgen still runs %s after SIGTERM", shutdownTimeout+10*time.Second)
	}
	if d := time.Since(sigterm); d > shutdownTimeout+time.Second {
		t.Errorf("guardgen exited %s after SIGTERM, want within %s", d.Round(time.Millisecond), shutdownTimeout+time.Second)
	}
	if proc.err != nil {
		t.Errorf("guardgen exit: %v\n%s", proc.err, proc.output())
	}
	for range calls {
		err := <-errs
		var reason guardgenv1.FailureReason
		for _, d := range status.Convert(err).Details() {
			if fd, ok := d.(*guardgenv1.FailureDetail); ok {
				reason = fd.GetReason()
			}
		}
		if status.Code(err) != codes.Unavailable || reason != guardgenv1.FailureReason_FAILURE_REASON_SHUTTING_DOWN {
			t.Errorf("hung call = %v, want UNAVAILABLE with a SHUTTING_DOWN FailureDetail", err)
		}
	}
	for i := range calls {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		r, err := up.Wait(ctx, i)
		cancel()
		if err != nil || !r.Cancelled {
			t.Errorf("upstream request %d: cancelled %v, %v; want cancelled", i, r.Cancelled, err)
		}
	}
}
