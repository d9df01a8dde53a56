package server_test

// Overload: guardgen with MaxInFlight = N in front of a provider that takes
// a fixed 20 ms, first at N closed-loop callers (nothing is shed), then at
// 2N. The benchmark reports numbers, it asserts none:
//
//	go test -run '^$' -bench 'Overload|Shed' -benchtime 400x ./server/
//
// shed-p50-ms, shed-p99-ms, shed-max-ms: client-observed latency of the
// requests refused with RESOURCE_EXHAUSTED at 2N (the bar: within 5 ms).
// admitted-p50-ms@N, admitted-p99-ms@N, admitted-p50-ms@2N,
// admitted-p99-ms@2N and their ratios (2N over N): whether admitted
// requests keep their latency while the excess is shed. shed-at-N counts
// requests shed at N callers (expected 0); shed-fraction@2N is the share
// of calls refused at 2N.
//
// Two caller behaviours after a shed request: retry=paced waits one
// provider delay before calling again, so 2N callers offer twice the
// capacity; retry=immediate calls again at once, a retry storm whose offered
// load is bounded only by how fast requests are shed. Client, server and
// provider share the process, so in the storm the shed calls' CPU is in
// every latency too. BenchmarkShed is the floor: one caller, one request
// held in flight at MaxInFlight = 1, every timed call shed.
import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers/synthetic"
	"github.com/guardgen/guardgen/server"
)

const (
	overloadLimit = 16                    // MaxInFlight
	overloadDelay = 20 * time.Millisecond // every provider call
)

// delayed answers like the synthetic provider after a fixed delay.
type delayed struct {
	providerv1.UnimplementedProviderServiceServer
	delay time.Duration
	inner *synthetic.Provider
}

func (d *delayed) Complete(ctx context.Context, req *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
	t := time.NewTimer(d.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	return d.inner.Complete(ctx, req)
}

// startBench starts guardgen for a benchmark with provider behind the
// harness's chain, logging nothing, and returns a client of it.
func startBench(b *testing.B, provider providerv1.ProviderServiceServer, set func(*server.Options)) guardgenv1.GenerationServiceClient {
	b.Helper()
	return start(b, harnessOptions{provider: provider, set: func(o *server.Options) {
		o.Logger = slog.New(slog.DiscardHandler)
		if set != nil {
			set(o)
		}
	}}).gen
}

// loadResult is what one load phase observed.
type loadResult struct {
	admitted, shed []time.Duration
	other          []error
}

// load runs callers closed-loop callers until admitted requests have
// succeeded, and times every call. A caller whose request was shed waits
// pause before its next.
func load(gen guardgenv1.GenerationServiceClient, callers, admitted int, pause time.Duration) loadResult {
	var (
		mu   sync.Mutex
		res  loadResult
		done atomic.Int64
		wg   sync.WaitGroup
	)
	req := &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: ticket}
	for range callers {
		wg.Go(func() {
			for done.Load() < int64(admitted) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				start := time.Now()
				_, err := gen.Generate(ctx, req)
				took := time.Since(start)
				cancel()
				mu.Lock()
				switch status.Code(err) {
				case codes.OK:
					done.Add(1)
					res.admitted = append(res.admitted, took)
				case codes.ResourceExhausted:
					res.shed = append(res.shed, took)
				default:
					res.other = append(res.other, err)
				}
				mu.Unlock()
				if status.Code(err) == codes.ResourceExhausted && pause > 0 {
					time.Sleep(pause)
				}
			}
		})
	}
	wg.Wait()
	return res
}

// quantile returns the q-quantile of ds in milliseconds (nearest rank).
func quantile(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	i = min(max(i, 0), len(s)-1)
	return float64(s[i]) / float64(time.Millisecond)
}

func BenchmarkOverload(b *testing.B) {
	for _, bc := range []struct {
		name  string
		pause time.Duration
	}{
		{"retry=paced", overloadDelay},
		{"retry=immediate", 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			gen := startBench(b, &delayed{delay: overloadDelay, inner: synthetic.New()}, func(o *server.Options) { o.MaxInFlight = overloadLimit })
			load(gen, overloadLimit, overloadLimit, 0) // warm up connections and the target's validator
			b.ResetTimer()
			atN := load(gen, overloadLimit, b.N, bc.pause)
			at2N := load(gen, 2*overloadLimit, b.N, bc.pause)
			b.StopTimer()
			reportOverload(b, atN, at2N)
		})
	}
}

func reportOverload(b *testing.B, atN, at2N loadResult) {
	for _, err := range append(atN.other, at2N.other...) {
		b.Errorf("unexpected failure: %v", err)
	}
	if len(at2N.shed) == 0 {
		b.Error("nothing was shed at twice the in-flight limit")
	}
	b.ReportMetric(0, "ns/op") // wall time per request mixes both phases; the latencies below are the result
	b.ReportMetric(float64(len(atN.shed)), "shed-at-N")
	b.ReportMetric(float64(len(at2N.shed))/float64(len(at2N.shed)+len(at2N.admitted)), "shed-fraction@2N")
	b.ReportMetric(quantile(at2N.shed, 0.50), "shed-p50-ms")
	b.ReportMetric(quantile(at2N.shed, 0.99), "shed-p99-ms")
	b.ReportMetric(quantile(at2N.shed, 1), "shed-max-ms")
	p50N, p99N := quantile(atN.admitted, 0.50), quantile(atN.admitted, 0.99)
	p502N, p992N := quantile(at2N.admitted, 0.50), quantile(at2N.admitted, 0.99)
	b.ReportMetric(p50N, "admitted-p50-ms@N")
	b.ReportMetric(p99N, "admitted-p99-ms@N")
	b.ReportMetric(p502N, "admitted-p50-ms@2N")
	b.ReportMetric(p992N, "admitted-p99-ms@2N")
	b.ReportMetric(p502N/p50N, "admitted-p50-ratio")
	b.ReportMetric(p992N/p99N, "admitted-p99-ratio")
}

func BenchmarkShed(b *testing.B) {
	g := &gate{entered: make(chan struct{}, 1), release: make(chan struct{}), inner: synthetic.New()}
	gen := startBench(b, g, func(o *server.Options) {
		o.MaxInFlight = 1
	})
	held := make(chan error, 1)
	go func() {
		_, err := gen.Generate(context.Background(), &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: ticket})
		held <- err
	}()
	<-g.entered
	req := &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: ticket}
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		_, err := gen.Generate(context.Background(), req)
		took = append(took, time.Since(start))
		if status.Code(err) != codes.ResourceExhausted {
			b.Fatalf("call over the limit: %v, want ResourceExhausted", err)
		}
	}
	b.StopTimer()
	close(g.release)
	if err := <-held; err != nil {
		b.Errorf("held request: %v", err)
	}
	b.ReportMetric(quantile(took, 0.50), "shed-p50-ms")
	b.ReportMetric(quantile(took, 0.99), "shed-p99-ms")
}
