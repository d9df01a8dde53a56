package providers_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/guardgen/guardgen/classifier"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers"
)

// streamFunc adapts a function to a provider with CompleteStream (and a
// Complete that answers "{}").
type streamFunc func(*providerv1.CompleteRequest, grpc.ServerStreamingServer[providerv1.CompleteStreamResponse]) error

type streamServer struct {
	providerv1.UnimplementedProviderServiceServer
	f     streamFunc
	calls atomic.Int32
}

func (s *streamServer) Complete(context.Context, *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
	return &providerv1.CompleteResponse{Content: "{}", FinishReason: providerv1.FinishReason_FINISH_REASON_STOP}, nil
}

func (s *streamServer) CompleteStream(req *providerv1.CompleteRequest, stream grpc.ServerStreamingServer[providerv1.CompleteStreamResponse]) error {
	s.calls.Add(1)
	return s.f(req, stream)
}

// sendAll sends parts as chunks, the last with finish reason STOP and usage.
func sendAll(stream grpc.ServerStreamingServer[providerv1.CompleteStreamResponse], parts ...string) error {
	for i, p := range parts {
		chunk := &providerv1.CompleteStreamResponse{Content: p}
		if i == len(parts)-1 {
			chunk.FinishReason = providerv1.FinishReason_FINISH_REASON_STOP
			chunk.Usage = &providerv1.Usage{InputTokens: 3, OutputTokens: int64(len(parts)), TotalTokens: 3 + int64(len(parts))}
			chunk.Model = "m-1"
		}
		if err := stream.Send(chunk); err != nil {
			return err
		}
	}
	return nil
}

// readAll reads a stream to its end and returns its content.
func readAll(s *providers.Stream) (string, error) {
	var b strings.Builder
	for {
		chunk, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return b.String(), nil
		}
		if err != nil {
			return b.String(), err
		}
		b.WriteString(chunk.GetContent())
	}
}

func fastChain(opts providers.ChainOptions) *providers.Chain {
	if opts.Provider == "" {
		opts.Provider = "p"
	}
	opts.Policy.BaseDelay, opts.Policy.MaxDelay = time.Millisecond, time.Millisecond
	if opts.Policy.MaxAttempts == 0 {
		opts.Policy.MaxAttempts = 3
	}
	// A test that is not about the breaker or the budget turns them off.
	if opts.Breaker.ConsecutiveFailures == 0 {
		opts.Breaker.Disabled = true
	}
	if opts.Budget == (providers.BudgetPolicy{}) {
		opts.Budget.Disabled = true
	}
	chain, err := providers.NewChain(opts)
	if err != nil {
		panic(err) // the test's options are wrong
	}
	return chain
}

// TestStreamRetriedBeforeFirstChunk: a stream that fails before its first
// chunk is retried like a unary call; each attempt is one call in the
// record, and the answered one carries what its last chunk said.
func TestStreamRetriedBeforeFirstChunk(t *testing.T) {
	t.Parallel()
	srv := &streamServer{}
	srv.f = func(_ *providerv1.CompleteRequest, stream grpc.ServerStreamingServer[providerv1.CompleteStreamResponse]) error {
		if srv.calls.Load() == 1 {
			return status.Error(codes.Unavailable, "down")
		}
		return sendAll(stream, `{"a":`, `1}`)
	}
	var retries atomic.Int32
	chain := fastChain(providers.ChainOptions{OnRetry: func(context.Context, string, guardgenv1.FailureReason) { retries.Add(1) }})
	client := providerv1.NewProviderServiceClient(chain.InProcess(srv))
	ctx, rec := providers.WithRecorder(t.Context(), 6)
	got, err := readAll(providers.OpenStream(ctx, client, completeRequest()))
	if err != nil || got != `{"a":1}` {
		t.Fatalf("stream = %q, %v; want the second attempt's content", got, err)
	}
	calls := rec.Calls()
	if len(calls) != 2 || calls[0].Code() != codes.Unavailable || calls[1].Failure != nil {
		t.Fatalf("calls = %+v, want a failed one and an answered one", calls)
	}
	if c := calls[1]; c.FinishReason != providerv1.FinishReason_FINISH_REASON_STOP || c.Usage.GetOutputTokens() != 2 || c.Model != "m-1" {
		t.Errorf("answered call = %+v, want the last chunk's finish reason, usage and model", c)
	}
	if retries.Load() != 1 {
		t.Errorf("OnRetry told %d times, want 1", retries.Load())
	}
}

// TestStreamRestartOnlyWhenAllowed: a stream that breaks after a chunk is
// not retried unless the caller's Restarts allow it; when they do, the
// caller hears of the restart before the new attempt's first chunk.
func TestStreamRestartOnlyWhenAllowed(t *testing.T) {
	t.Parallel()
	newServer := func() *streamServer {
		srv := &streamServer{}
		srv.f = func(_ *providerv1.CompleteRequest, stream grpc.ServerStreamingServer[providerv1.CompleteStreamResponse]) error {
			if srv.calls.Load() == 1 {
				if err := stream.Send(&providerv1.CompleteStreamResponse{Content: `{"a":`}); err != nil {
					return err
				}
				return status.Error(codes.Unavailable, "connection reset")
			}
			return sendAll(stream, `{"b":`, `2}`)
		}
		return srv
	}

	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		srv := newServer()
		client := providerv1.NewProviderServiceClient(fastChain(providers.ChainOptions{}).InProcess(srv))
		ctx, rec := providers.WithRecorder(t.Context(), 6)
		ctx = providers.WithRestarts(ctx, providers.Restarts{Allowed: func() bool { return false }})
		got, err := readAll(providers.OpenStream(ctx, client, completeRequest()))
		f := classifier.As(err)
		if got != `{"a":` || f.Reason != guardgenv1.FailureReason_FAILURE_REASON_UPSTREAM_UNAVAILABLE || f.Metadata["retry_stopped"] != "stream_started" {
			t.Fatalf("stream = %q, %v (%v); want the first chunk, then UNAVAILABLE not retried", got, err, f.Metadata)
		}
		if n := rec.Len(); n != 1 || srv.calls.Load() != 1 {
			t.Errorf("%d calls recorded, %d made; want 1", n, srv.calls.Load())
		}
	})
	t.Run("allowed", func(t *testing.T) {
		t.Parallel()
		srv := newServer()
		client := providerv1.NewProviderServiceClient(fastChain(providers.ChainOptions{}).InProcess(srv))
		ctx, rec := providers.WithRecorder(t.Context(), 6)
		var b strings.Builder
		var restartedWith *classifier.Failure
		ctx = providers.WithRestarts(ctx, providers.Restarts{
			Allowed:   func() bool { return true },
			Restarted: func(f *classifier.Failure) { restartedWith = f; b.Reset() },
		})
		s := providers.OpenStream(ctx, client, completeRequest())
		for {
			chunk, err := s.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("Recv: %v", err)
			}
			b.WriteString(chunk.GetContent())
		}
		if b.String() != `{"b":2}` || reasonOf(restartedWith) != guardgenv1.FailureReason_FAILURE_REASON_UPSTREAM_UNAVAILABLE {
			t.Errorf("content after the restart = %q, restarted with %v; want the second attempt's alone, after UNAVAILABLE", b.String(), restartedWith)
		}
		if n := rec.Len(); n != 2 {
			t.Errorf("%d calls recorded, want 2", n)
		}
	})
}

// TestStreamUnimplementedAsksComplete: a provider without CompleteStream
// is asked with Complete, its answer one chunk, in one recorded call; the
// chain then goes to Complete at once.
func TestStreamUnimplementedAsksComplete(t *testing.T) {
	t.Parallel()
	var completes atomic.Int32
	provider := providerFunc(func(context.Context, *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
		completes.Add(1)
		return &providerv1.CompleteResponse{Content: `{"x":1}`, FinishReason: providerv1.FinishReason_FINISH_REASON_STOP, Model: "m"}, nil
	})
	chain := fastChain(providers.ChainOptions{})
	srv := &streamless{ProviderServiceServer: provider.server()}
	client := providerv1.NewProviderServiceClient(chain.InProcess(srv))
	for i := range 2 {
		ctx, rec := providers.WithRecorder(t.Context(), 6)
		s := providers.OpenStream(ctx, client, completeRequest())
		chunk, err := s.Recv()
		if err != nil || chunk.GetContent() != `{"x":1}` || chunk.GetFinishReason() != providerv1.FinishReason_FINISH_REASON_STOP {
			t.Fatalf("call %d: first chunk = %v, %v; want the whole answer", i, chunk, err)
		}
		if _, err := s.Recv(); !errors.Is(err, io.EOF) {
			t.Errorf("call %d: after the one chunk: %v, want io.EOF", i, err)
		}
		if calls := rec.Calls(); len(calls) != 1 || calls[0].Number != 1 || calls[0].Failure != nil {
			t.Errorf("call %d: recorded %+v, want one answered call numbered 1", i, calls)
		}
	}
	if completes.Load() != 2 {
		t.Errorf("Complete called %d times, want 2", completes.Load())
	}
	if n := srv.streams.Load(); n != 1 {
		t.Errorf("CompleteStream asked %d times, want once: after UNIMPLEMENTED the chain asks Complete at once", n)
	}
}

// streamless is a provider without CompleteStream that counts the times
// it was asked for one.
type streamless struct {
	providerv1.ProviderServiceServer
	streams atomic.Int32
}

func (s *streamless) CompleteStream(req *providerv1.CompleteRequest, ss grpc.ServerStreamingServer[providerv1.CompleteStreamResponse]) error {
	s.streams.Add(1)
	return s.ProviderServiceServer.CompleteStream(req, ss)
}

// TestStreamOverGRPC: a plug-in over gRPC streams through the chain's dial
// options; one that has only Complete is asked with it.
func TestStreamOverGRPC(t *testing.T) {
	t.Parallel()
	dial := func(t *testing.T, impl providerv1.ProviderServiceServer) providerv1.ProviderServiceClient {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		gs := grpc.NewServer()
		providerv1.RegisterProviderServiceServer(gs, impl)
		go func() { _ = gs.Serve(lis) }()
		t.Cleanup(gs.Stop)
		opts := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, fastChain(providers.ChainOptions{}).DialOptions()...)
		conn, err := grpc.NewClient(lis.Addr().String(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return providerv1.NewProviderServiceClient(conn)
	}
	t.Run("streaming", func(t *testing.T) {
		t.Parallel()
		srv := &streamServer{f: func(_ *providerv1.CompleteRequest, stream grpc.ServerStreamingServer[providerv1.CompleteStreamResponse]) error {
			return sendAll(stream, "[1,", "2,", "3]")
		}}
		ctx, rec := providers.WithRecorder(t.Context(), 6)
		got, err := readAll(providers.OpenStream(ctx, dial(t, srv), completeRequest()))
		if err != nil || got != "[1,2,3]" || rec.Len() != 1 {
			t.Errorf("stream = %q, %v with %d calls; want [1,2,3] in one", got, err, rec.Len())
		}
	})
	t.Run("unary only", func(t *testing.T) {
		t.Parallel()
		provider := providerFunc(func(context.Context, *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
			return &providerv1.CompleteResponse{Content: "[4]"}, nil
		})
		ctx, rec := providers.WithRecorder(t.Context(), 6)
		got, err := readAll(providers.OpenStream(ctx, dial(t, provider.server()), completeRequest()))
		if err != nil || got != "[4]" || rec.Len() != 1 || rec.Calls()[0].Failure != nil {
			t.Errorf("stream = %q, %v with calls %+v; want [4] in one answered call", got, err, rec.Calls())
		}
	})
}

// TestStreamCancelledByCaller: cancelling mid-stream ends the provider's
// handler and the attempt, recorded as the caller's cancellation, which
// the breaker does not count.
func TestStreamCancelledByCaller(t *testing.T) {
	t.Parallel()
	handlerDone := make(chan error, 1)
	srv := &streamServer{f: func(_ *providerv1.CompleteRequest, stream grpc.ServerStreamingServer[providerv1.CompleteStreamResponse]) error {
		err := stream.Send(&providerv1.CompleteStreamResponse{Content: "{"})
		if err == nil {
			<-stream.Context().Done()
			err = stream.Context().Err()
		}
		handlerDone <- err
		return status.FromContextError(err).Err()
	}}
	chain := fastChain(providers.ChainOptions{Breaker: providers.BreakerPolicy{ConsecutiveFailures: 1, OpenFor: time.Hour}})
	client := providerv1.NewProviderServiceClient(chain.InProcess(srv))
	ctx, cancel := context.WithCancel(t.Context())
	ctx, rec := providers.WithRecorder(ctx, 6)
	s := providers.OpenStream(ctx, client, completeRequest())
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := s.Recv(); reasonOf(err) != guardgenv1.FailureReason_FAILURE_REASON_CANCELLED {
		t.Errorf("Recv after cancel = %v, want CANCELLED", err)
	}
	select {
	case err := <-handlerDone:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("handler ended with %v, want its context cancelled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the provider's handler did not end after the caller cancelled")
	}
	if calls := rec.Calls(); len(calls) != 1 || reasonOf(calls[0].Failure) != guardgenv1.FailureReason_FAILURE_REASON_CANCELLED {
		t.Errorf("calls = %+v, want one cancelled call", calls)
	}
	if got := chain.BreakerCounts().TotalFailures; got != 0 {
		t.Errorf("breaker failures = %d, want 0: a caller's cancellation says nothing of the provider", got)
	}
}

// TestStreamCountsAgainstBreakerAndCap: stream failures trip the breaker
// like unary ones, and streams count against the request's call cap.
func TestStreamCountsAgainstBreakerAndCap(t *testing.T) {
	t.Parallel()
	srv := &streamServer{f: func(*providerv1.CompleteRequest, grpc.ServerStreamingServer[providerv1.CompleteStreamResponse]) error {
		return status.Error(codes.Unavailable, "down")
	}}
	chain := fastChain(providers.ChainOptions{
		Policy:  providers.Policy{MaxAttempts: 3},
		Breaker: providers.BreakerPolicy{ConsecutiveFailures: 3, OpenFor: time.Hour},
		Budget:  providers.BudgetPolicy{Disabled: true},
	})
	client := providerv1.NewProviderServiceClient(chain.InProcess(srv))
	ctx, rec := providers.WithRecorder(t.Context(), 2)
	_, err := readAll(providers.OpenStream(ctx, client, completeRequest()))
	if f := classifier.As(err); f.Reason != guardgenv1.FailureReason_FAILURE_REASON_RETRIES_EXHAUSTED || rec.Len() != 2 {
		t.Fatalf("err = %v after %d calls, want the cap of 2 reached", err, rec.Len())
	}
	ctx, _ = providers.WithRecorder(t.Context(), 6)
	_, _ = readAll(providers.OpenStream(ctx, client, completeRequest()))
	if got := chain.BreakerState(); got != providers.BreakerState(2) {
		t.Errorf("breaker %v after 3 consecutive stream failures, want open", got)
	}
	ctx, rec = providers.WithRecorder(t.Context(), 6)
	_, err = readAll(providers.OpenStream(ctx, client, completeRequest()))
	if f := classifier.As(err); f.Reason != guardgenv1.FailureReason_FAILURE_REASON_CIRCUIT_OPEN || rec.Len() != 0 {
		t.Errorf("err = %v with %d calls, want CIRCUIT_OPEN and no call", err, rec.Len())
	}
}

// TestStreamAttemptTimeout: the per-attempt timeout bounds a whole stream
// attempt; running out of it is an upstream timeout, retried.
func TestStreamAttemptTimeout(t *testing.T) {
	t.Parallel()
	srv := &streamServer{}
	srv.f = func(_ *providerv1.CompleteRequest, stream grpc.ServerStreamingServer[providerv1.CompleteStreamResponse]) error {
		if srv.calls.Load() == 1 {
			if err := stream.Send(&providerv1.CompleteStreamResponse{}); err != nil {
				return err
			}
			<-stream.Context().Done()
			return status.FromContextError(stream.Context().Err()).Err()
		}
		return sendAll(stream, "{}")
	}
	chain := fastChain(providers.ChainOptions{Policy: providers.Policy{AttemptTimeout: 50 * time.Millisecond}})
	client := providerv1.NewProviderServiceClient(chain.InProcess(srv))
	ctx, rec := providers.WithRecorder(t.Context(), 6)
	ctx = providers.WithRestarts(ctx, providers.Restarts{Allowed: func() bool { return true }})
	got, err := readAll(providers.OpenStream(ctx, client, completeRequest()))
	if err != nil || got != "{}" {
		t.Fatalf("stream = %q, %v; want the retry's answer", got, err)
	}
	if calls := rec.Calls(); len(calls) != 2 || reasonOf(calls[0].Failure) != guardgenv1.FailureReason_FAILURE_REASON_UPSTREAM_TIMEOUT {
		t.Errorf("calls = %+v, want an upstream timeout, then an answer", calls)
	}
}

// reasonOf is err's failure reason; UNSPECIFIED for nil.
func reasonOf(err error) guardgenv1.FailureReason {
	if f := classifier.As(err); f != nil {
		return f.Reason
	}
	return guardgenv1.FailureReason_FAILURE_REASON_UNSPECIFIED
}
