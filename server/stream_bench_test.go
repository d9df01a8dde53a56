package server_test

import (
	"context"
	"errors"
	"io"
	"syscall"
	"testing"
	"time"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers/synthetic"
)

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStreamCPU: the CPU one request costs, through real gRPC on
// loopback with the synthetic provider, as Generate and as GenerateStream,
// in the same run (client and server are one process: both sides count,
// for both). Each iteration makes one call of each; the metrics are CPU
// microseconds per call and their ratio.
//
//	go test -run '^$' -bench StreamCPU -benchtime 2000x ./server/
func BenchmarkStreamCPU(b *testing.B) {
	for _, tt := range []struct{ name, target, prompt string }{
		{"ticket", ticket, "I was charged twice for my subscription this month"},
		{"incident", "guardgen.examples.v1.IncidentReport", "Payments API returned 503s in eu-west-1 from 09:12 to 09:40; team payments is on it"},
	} {
		b.Run(tt.name, func(b *testing.B) {
			gen := startBench(b, synthetic.New(), nil)
			req := &guardgenv1.GenerateRequest{Prompt: tt.prompt, TargetType: tt.target}
			ctx := context.Background()
			var unary, streamed time.Duration
			partials := 0
			for b.Loop() {
				t0 := cpuTime(b)
				if _, err := gen.Generate(ctx, req); err != nil {
					b.Fatal(err)
				}
				t1 := cpuTime(b)
				s, err := gen.GenerateStream(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				for {
					ev, err := s.Recv()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					if ev.GetPartial() != nil {
						partials++
					}
				}
				t2 := cpuTime(b)
				unary += t1 - t0
				streamed += t2 - t1
			}
			n := float64(b.N)
			b.ReportMetric(float64(unary.Microseconds())/n, "cpu-µs/unary")
			b.ReportMetric(float64(streamed.Microseconds())/n, "cpu-µs/stream")
			b.ReportMetric(float64(streamed)/float64(unary), "stream/unary")
			b.ReportMetric(float64(partials)/n, "partials/stream")
		})
	}
}
