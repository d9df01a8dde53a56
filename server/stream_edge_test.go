package server_test

// GenerateStream under everything that applies to Generate: semantic
// checks, tracing, metrics, authentication, rate limits, shedding,
// deadlines and graceful drain.

import (
	"context"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers/synthetic"
	"github.com/guardgen/guardgen/server"
	"github.com/guardgen/guardgen/telemetry"
)

// streamGate streams the synthetic provider's answer but holds it once
// the text has a complete category (and so a partial went out), until
// released.
type streamGate struct {
	providerv1.UnimplementedProviderServiceServer
	inner   *synthetic.Provider
	entered chan struct{}
	release chan struct{}
}

func newStreamGate() *streamGate {
	return &streamGate{inner: synthetic.New(), entered: make(chan struct{}, 1), release: make(chan struct{})}
}

func (g *streamGate) CompleteStream(req *providerv1.CompleteRequest, stream grpc.ServerStreamingServer[providerv1.CompleteStreamResponse]) error {
	return g.inner.CompleteStream(req, &gatedSend{ServerStreamingServer: stream, g: g})
}

type gatedSend struct {
	grpc.ServerStreamingServer[providerv1.CompleteStreamResponse]
	g    *streamGate
	text strings.Builder
	held bool
}

func (s *gatedSend) Send(c *providerv1.CompleteStreamResponse) error {
	if err := s.ServerStreamingServer.Send(c); err != nil {
		return err
	}
	s.text.WriteString(c.GetContent())
	if !s.held && strings.Contains(s.text.String(), `"priority"`) {
		s.held = true
		s.g.entered <- struct{}{}
		select {
		case <-s.g.release:
		case <-s.Context().Done():
			return status.FromContextError(s.Context().Err()).Err()
		}
	}
	return nil
}

// firstPartial opens a stream and waits for its first partial.
func firstPartial(t *testing.T, ctx context.Context, h *harness, req *guardgenv1.GenerateRequest) grpc.ServerStreamingClient[guardgenv1.GenerateStreamResponse] {
	t.Helper()
	s, err := h.gen.GenerateStream(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := s.Recv()
	if err != nil || ev.GetPartial() == nil {
		t.Fatalf("first event %v, %v; want a partial", ev, err)
	}
	return s
}

// rest reads a stream to its end: the response, or the error.
func rest(s grpc.ServerStreamingClient[guardgenv1.GenerateStreamResponse]) (*guardgenv1.GenerateResponse, error) {
	events, err := readEvents(s, nil)
	if err != nil || len(events) == 0 {
		return nil, err
	}
	return events[len(events)-1].ev.GetResponse(), nil
}

// TestStreamDrainsOnShutdown: a stream in flight when the server is told
// to stop finishes, with its response; one that outlives the drain ends
// with UNAVAILABLE and a SHUTTING_DOWN FailureDetail.
func TestStreamDrainsOnShutdown(t *testing.T) {
	t.Parallel()
	t.Run("outlived", func(t *testing.T) {
		t.Parallel()
		g := newStreamGate()
		h := start(t, harnessOptions{provider: g, set: func(o *server.Options) { o.ShutdownTimeout = 300 * time.Millisecond }})
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		s := firstPartial(t, ctx, h, &guardgenv1.GenerateRequest{Prompt: "I was charged twice", TargetType: ticket})
		<-g.entered
		h.stop()
		_, err := rest(s)
		if fd, _ := failureOf(t, err); status.Code(err) != codes.Unavailable || fd.GetReason() != guardgenv1.FailureReason_FAILURE_REASON_SHUTTING_DOWN {
			t.Errorf("stream outliving the drain ended with %v (%v), want UNAVAILABLE, SHUTTING_DOWN", err, fd)
		}
	})
	g := newStreamGate()
	h := start(t, harnessOptions{provider: g, set: func(o *server.Options) { o.ShutdownTimeout = 10 * time.Second }})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s := firstPartial(t, ctx, h, &guardgenv1.GenerateRequest{Prompt: "I was charged twice", TargetType: ticket})
	<-g.entered
	stopped := make(chan struct{})
	go func() { h.stop(); close(stopped) }()
	time.Sleep(50 * time.Millisecond) // let the drain begin; what follows holds whether it has or not
	close(g.release)
	resp, err := rest(s)
	if err != nil || resp == nil || resp.GetDegraded() {
		t.Errorf("stream in flight at shutdown ended with %v, %v; want its response", resp, err)
	}
	<-stopped
}

// TestStreamAdmission: a stream holds its in-flight slot until it ends
// (a Generate meanwhile is shed), and streams are authenticated and rate
// limited as Generate is.
func TestStreamAdmission(t *testing.T) {
	t.Parallel()
	t.Run("in flight", func(t *testing.T) {
		t.Parallel()
		g := newStreamGate()
		h := start(t, harnessOptions{provider: g, set: func(o *server.Options) { o.MaxInFlight = 1 }})
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		req := &guardgenv1.GenerateRequest{Prompt: "I was charged twice", TargetType: ticket}
		s := firstPartial(t, ctx, h, req)
		<-g.entered
		_, err := h.gen.Generate(ctx, req)
		if fd, _ := failureOf(t, err); status.Code(err) != codes.ResourceExhausted || fd.GetMetadata()["limit"] != "in_flight" {
			t.Errorf("Generate while a stream is in flight: %v, want shed", err)
		}
		close(g.release)
		if _, err := rest(s); err != nil {
			t.Errorf("the admitted stream: %v", err)
		}
	})
	t.Run("auth", func(t *testing.T) {
		t.Parallel()
		h := start(t, harnessOptions{set: func(o *server.Options) { o.Auth = server.Auth{Tokens: []string{"s3cret-token"}} }})
		req := &guardgenv1.GenerateRequest{Prompt: "I was charged twice", TargetType: ticket}
		if got := generateStream(t, h, "", req); status.Code(got.err) != codes.Unauthenticated || len(got.events) != 0 {
			t.Errorf("without a token: %v after %d events, want UNAUTHENTICATED", got.err, len(got.events))
		}
		ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer s3cret-token"), 10*time.Second)
		defer cancel()
		s, err := h.gen.GenerateStream(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := rest(s); err != nil || resp == nil {
			t.Errorf("with the token: %v, %v", resp, err)
		}
	})
	t.Run("rate limit", func(t *testing.T) {
		t.Parallel()
		h := start(t, harnessOptions{set: func(o *server.Options) { o.RateLimit = server.RateLimit{PerSecond: 0.5, Burst: 1} }})
		req := &guardgenv1.GenerateRequest{Prompt: "I was charged twice", TargetType: ticket}
		if got := generateStream(t, h, "", req); got.err != nil {
			t.Fatal(got.err)
		}
		got := generateStream(t, h, "", req)
		if status.Code(got.err) != codes.ResourceExhausted {
			t.Fatalf("second stream: %v, want RESOURCE_EXHAUSTED", got.err)
		}
		var retry *errdetails.RetryInfo
		for _, d := range status.Convert(got.err).Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok {
				retry = ri
			}
		}
		if retry.GetRetryDelay().AsDuration() <= 0 {
			t.Errorf("no RetryInfo in %v", status.Convert(got.err).Details())
		}
	})
}

// TestStreamDeadline: a stream whose provider never answers ends with
// DEADLINE_EXCEEDED and its FailureDetail before the caller's own timer.
func TestStreamDeadline(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{set: func(o *server.Options) { o.DeadlineMargin = 100 * time.Millisecond }})
	ctx, cancel := context.WithTimeout(withFaults(t.Context(), "hang"), time.Second)
	defer cancel()
	s, err := h.gen.GenerateStream(ctx, &guardgenv1.GenerateRequest{Prompt: "Nothing cached here", TargetType: ticket})
	if err != nil {
		t.Fatal(err)
	}
	_, err = rest(s)
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("%v, want DEADLINE_EXCEEDED", err)
	}
	if fd, _ := failureOf(t, err); fd.GetReason() != guardgenv1.FailureReason_FAILURE_REASON_DEADLINE_EXCEEDED {
		t.Errorf("detail %v", fd)
	}
}

// TestStreamConfidenceWhenComplete: a critical field written with low
// confidence stops the stream as soon as it is complete (LOW_CONFIDENCE,
// asked again naming it); the verifier checks the final message only.
func TestStreamConfidenceWhenComplete(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	got := generateStream(t, h, "low_confidence:priority,ok,ok", verifiedRequest())
	if got.err != nil {
		t.Fatal(got.err)
	}
	rep := got.resp.GetReport()
	want := []string{"generation LOW_CONFIDENCE", "generation", "verification"}
	if diff := strings.Join(attemptSummary(rep), ","); diff != strings.Join(want, ",") {
		t.Fatalf("attempts %v, want %v", attemptSummary(rep), want)
	}
	if a := rep.GetAttempts()[0].GetAbort(); a.GetField() != "priority" {
		t.Errorf("first attempt's abort %v, want it stopped at priority", a)
	}
	if rep.GetVerification().GetStatus() != guardgenv1.VerificationStatus_VERIFICATION_STATUS_SUPPORTED || rep.GetConfidence() == nil {
		t.Errorf("verification %v, confidence %v; want the final message verified and measured", rep.GetVerification(), rep.GetConfidence())
	}
	for _, p := range got.partials() {
		if p.GetAttempt() == 1 && strings.Contains(p.GetJson(), "priority") {
			t.Errorf("a partial shows the low-confidence priority: %s", p.GetJson())
		}
	}
}

// TestStreamSpanAndMetrics: one span per stream with events for the
// first partial and the abort; metrics count aborts, partials and the
// time to the first.
func TestStreamSpanAndMetrics(t *testing.T) {
	t.Parallel()
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	metrics, err := telemetry.NewMetrics(telemetry.Options{Prefix: "llm.pipeline", NoRuntimeMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = metrics.Shutdown(context.Background()) })
	h := start(t, harnessOptions{tracer: tp, set: func(o *server.Options) { o.Metrics = metrics }})
	got := generateStream(t, h, "schema", &guardgenv1.GenerateRequest{Prompt: "My parcel never arrived", TargetType: ticket})
	if got.err != nil {
		t.Fatal(got.err)
	}
	var stream []sdktrace.Event
	spans := 0
	for _, s := range exporter.GetSpans() {
		if s.Name == "guardgen.generate_stream" {
			spans++
			stream = s.Events
		}
	}
	var names []string
	for _, e := range stream {
		names = append(names, e.Name)
	}
	if spans != 1 || strings.Join(names, ",") != "first_partial,abort" {
		t.Errorf("%d stream spans, events %v; want one with first_partial, abort", spans, names)
	}
	families := parseMetrics(t, scrapeMetrics(t, metrics))
	if v, _ := metricValue(families["llm_pipeline_stream_aborts_total"], map[string]string{"reason": "RULE_VIOLATION"}); v != 1 {
		t.Errorf("aborts = %v, want 1", v)
	}
	for _, name := range []string{"llm_pipeline_stream_first_partial_duration_seconds", "llm_pipeline_stream_partials"} {
		f := families[name]
		if f == nil || f.GetMetric()[0].GetHistogram().GetSampleCount() != 1 {
			t.Errorf("%s = %v, want one observation", name, f)
		}
	}
}

// TestStreamDegradedAfterPartials: partials of an attempt whose output is
// then refused (cut off at the token limit) are reset before the degraded
// response from the cache.
func TestStreamDegradedAfterPartials(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{set: func(o *server.Options) { o.Cache, o.CacheBackend = newMemoryCache(nil), "memory" }})
	req := &guardgenv1.GenerateRequest{Prompt: "I was charged twice for my subscription this month", TargetType: ticket}
	if _, err := generate(t, h, "", req); err != nil {
		t.Fatal(err)
	}
	// How a stream shows the answer is not part of the cache key.
	streamReq := proto.CloneOf(req)
	streamReq.Options = &guardgenv1.GenerateOptions{StreamStrings: true, StreamResets: true}
	got := generateStream(t, h, "length", streamReq)
	if got.err != nil {
		t.Fatal(got.err)
	}
	kinds := strings.Join(got.kinds(), ",")
	if !strings.HasPrefix(kinds, "p1") || !strings.HasSuffix(kinds, "r1,response") {
		t.Fatalf("events %s, want partials of attempt 1, a reset of it, then the response", kinds)
	}
	reset := got.events[len(got.events)-2].GetReset_()
	if reset.GetReason() != guardgenv1.ResetReason_RESET_REASON_FALLBACK || reset.GetFailure().GetReason() != guardgenv1.FailureReason_FAILURE_REASON_TRUNCATED {
		t.Errorf("reset %v, want FALLBACK after TRUNCATED", reset)
	}
	if !got.resp.GetDegraded() || got.resp.GetDegradation().GetMetadata()["degradation"] != "cache" {
		t.Errorf("response degraded %v by %v, want the cached answer", got.resp.GetDegraded(), got.resp.GetDegradation())
	}
}

// TestStreamStopsPastOutputLimit: a stream that grows past the output
// limit is stopped there, as too large (it would be refused whole).
func TestStreamStopsPastOutputLimit(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{set: func(o *server.Options) { o.MaxOutputBytes, o.SemanticAttempts = 40, 1 }})
	got := generateStream(t, h, "", &guardgenv1.GenerateRequest{Prompt: "Nothing cached: I was charged twice for my subscription this month", TargetType: ticket})
	if status.Code(got.err) != codes.Aborted {
		t.Fatalf("%v, want ABORTED", got.err)
	}
	if fd, _ := failureOf(t, got.err); fd.GetReason() != guardgenv1.FailureReason_FAILURE_REASON_OUTPUT_TOO_LARGE || fd.GetMetadata()["stream_stopped"] != "true" {
		t.Errorf("detail %v, want OUTPUT_TOO_LARGE, the stream stopped", fd)
	}
}
