package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"time"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"google.golang.org/grpc"

	"github.com/guardgen/guardgen/classifier"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// errShuttingDown is the cause of handler contexts ended by shutdown.
var errShuttingDown = errors.New("server: shutting down")

// After the drain runs out, handlers whose contexts were cancelled get
// answerGrace to send their SHUTTING_DOWN answers over the still-open
// connections; then the connections close, and Serve waits stopGrace more
// for handlers before it returns without them. Together they keep
// shutdown within ShutdownTimeout + 1 s, with room for the caller to
// close what it opened.
const (
	answerGrace = 300 * time.Millisecond
	stopGrace   = 200 * time.Millisecond
)

// Serve serves on lis until ctx is done, then shuts down within
// ShutdownTimeout: health turns NOT_SERVING at once so balancers stop
// sending; new calls are still taken for DrainDelay, so that they have time
// to notice; then the listener closes and in-flight calls drain until
// ShutdownTimeout has passed since ctx was done. Calls still running then
// have their contexts cancelled and answer UNAVAILABLE with a SHUTTING_DOWN
// FailureDetail; the connections close answerGrace later, and Serve
// returns at most stopGrace after that even if a handler ignores its
// context (its goroutine is left to finish on its own; in a process about
// to exit, that is the end of it).
//
// With Options.HTTP enabled, lis also serves REST, Connect and gRPC-Web
// (see split), and their calls drain the same way.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	var sl *splitListener
	if s.opts.HTTP.Enabled {
		var err error
		if sl, err = s.split(lis); err != nil {
			lis.Close()
			return err
		}
		lis = sl.grpc
		sl.serve()
	}
	served := make(chan error, 1)
	go func() { served <- s.grpc.Serve(lis) }()
	var httpFailed <-chan error
	if sl != nil {
		httpFailed = sl.served
	}
	select {
	case err := <-served:
		s.grpc.Stop() // ends the stream workers New started
		if sl != nil {
			sl.close()
			s.grpcHTTP.Stop()
		}
		return err
	case err := <-httpFailed:
		sl.close()
		s.grpcHTTP.Stop()
		s.grpc.Stop()
		return err
	case <-ctx.Done():
	}
	deadline := time.Now().Add(s.opts.ShutdownTimeout)
	s.health.Shutdown()
	s.logger.Info("shutting down", slog.Duration("drain_delay", s.opts.DrainDelay), slog.Duration("shutdown_timeout", s.opts.ShutdownTimeout))
	if d := min(s.opts.DrainDelay, time.Until(deadline)); d > 0 {
		time.Sleep(d)
	}
	drained := make(chan struct{})
	go func() {
		if sl == nil {
			s.grpc.GracefulStop()
		} else {
			// Both sides drain at once; HTTP connections still open
			// answerGrace after the deadline are closed.
			sl.stopAccepting()
			httpCtx, cancel := context.WithDeadline(context.Background(), deadline.Add(answerGrace))
			httpDrained := make(chan struct{})
			go func() {
				sl.drain(httpCtx)
				close(httpDrained)
			}()
			s.grpc.GracefulStop()
			<-httpDrained
			cancel()
			s.grpcHTTP.Stop() // nothing left to serve: its calls came through sl.http
		}
		close(drained)
	}()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-drained:
	case <-timer.C:
		s.logger.Warn("drain timed out; ending in-flight calls")
		s.stopHandlers(errShuttingDown)
		if !within(drained, answerGrace) {
			s.grpc.Stop() // closes connections; does not wait for handlers
			if sl != nil {
				sl.http.Close()
			}
			if !within(drained, stopGrace) {
				s.logger.Error("handlers still running after the connections closed; not waiting for them")
			}
		}
	}
	if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) && !closedBySplit(sl) {
		return err
	}
	return nil
}

// Close stops a Server that will not be served, or whose Serve has
// returned: it closes any connections and ends the goroutines New started
// to run calls on. It does not wait for handlers. Serve's own shutdown
// does the same, so Close after Serve is harmless.
func (s *Server) Close() {
	s.grpc.Stop()
	if s.grpcHTTP != nil {
		s.grpcHTTP.Stop()
	}
}

// closedBySplit reports whether gRPC's Serve ended because the split's
// listener was closed by stopAccepting, which may happen before
// GracefulStop tells it that the server is stopping.
func closedBySplit(sl *splitListener) bool {
	return sl != nil && sl.shutdown.Load()
}

// within reports whether done closes within d.
func within(done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// endStreamOnShutdown gives a stream (health Watch) a context that
// shutdown cancels when the drain runs out, and answers a stream so ended
// with UNAVAILABLE and a SHUTTING_DOWN FailureDetail rather than the bare
// cancellation the handler saw, as edge does for unary calls.
func (s *Server) endStreamOnShutdown(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, cancel := context.WithCancel(ss.Context())
	defer s.onStop(cancel)()
	wrapped := middleware.WrapServerStream(ss)
	wrapped.WrappedContext = ctx
	err := handler(srv, wrapped)
	if err != nil && s.shutDown(ctx) {
		return statusOf(shutdownFailure())
	}
	return err
}

// handlerContext returns the context a call of method through edge runs
// in: guardgen's deadline (withMargin; a GenerationService call is also
// bounded by Options.RequestTimeout), ended also when the drain runs out,
// in one context. A second context for the shutdown cost each call a
// cancel context and its registration in the call's own: 2 µs, 500 bytes
// and six allocations per call under two busy cores.
func (s *Server) handlerContext(ctx context.Context, method string) (context.Context, func()) {
	var bound time.Duration
	if generates(method) {
		bound = s.opts.RequestTimeout
	}
	ctx, cancel := s.withMargin(ctx, bound)
	return ctx, s.onStop(cancel)
}

// withMargin bounds the call by the caller's deadline or bound from now
// (when positive), whichever comes first, and keeps DeadlineMargin back
// from it, so that a request that runs out of time still answers with its
// FailureDetail before the caller's own timer fires rather than let it see
// a bare DEADLINE_EXCEEDED. A deadline shorter than twice the margin keeps
// half of what is left. It is one context and one timer per call, however
// many bounds apply; without a bound, a context to cancel all the same.
func (s *Server) withMargin(ctx context.Context, bound time.Duration) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if bound > 0 {
		if own := time.Now().Add(bound); !ok || own.Before(dl) {
			dl, ok = own, true
		}
	}
	left := time.Until(dl)
	if !ok || left <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, dl.Add(-min(s.opts.DeadlineMargin, left/2)))
}

// generationMethods is the prefix of GenerationService's full method names.
var generationMethods = "/" + guardgenv1.GenerationService_ServiceDesc.ServiceName + "/"

// generates reports whether method is one of GenerationService's.
func generates(method string) bool {
	return strings.HasPrefix(method, generationMethods)
}

// onStop has cancel run when the drain runs out (s.stopping), and returns
// the function that ends the call: it forgets cancel and runs it.
func (s *Server) onStop(cancel context.CancelFunc) func() {
	unregister := context.AfterFunc(s.stopping, cancel)
	return func() {
		unregister()
		cancel()
	}
}

// shutDown reports whether shutdown ended ctx, a handler context: it
// ended once the drain had run out. A caller's own deadline or
// cancellation that falls after that is told as shutdown too; the call
// was going to be ended by it.
func (s *Server) shutDown(ctx context.Context) bool {
	return ctx.Err() != nil && s.stopping.Err() != nil
}

// shutdownFailure is the answer of a call that shutdown ended.
func shutdownFailure() *classifier.Failure {
	return classifier.New(guardgenv1.FailureReason_FAILURE_REASON_SHUTTING_DOWN,
		"the server is shutting down and its drain ran out; retry, another replica will answer")
}
