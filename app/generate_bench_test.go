package app_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/guardgen/guardgen/app"
	"github.com/guardgen/guardgen/app/apptest"
	"github.com/guardgen/guardgen/config"
	examplesv1 "github.com/guardgen/guardgen/gen/guardgen/examples/v1"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// BenchmarkGenerate is bench/run.sh's synthetic scenario as a Go benchmark:
// one Generate of a TicketClassification over real gRPC on loopback, 32
// calls at a time on one connection, answered by guardgen on the
// synthetic provider ("guardgen") and by a bare grpc-go server that returns
// a pre-built response of the same shape ("grpc-go"), in the same run. The
// cpu-µs/op ratio of the two is the hot path's cost against bare gRPC
// (ns/op moves with whatever else the machine runs); client and server
// share the process, so the ratio understates the server's own.
// Log lines go to /dev/null through a real write, as to a log file.
// "guardgen-openai" is the same call through the OpenAI provider to a
// fixed-answer upstream on loopback HTTP.
//
//	go test -run '^$' -bench Generate -benchmem -count 5 ./app/
func BenchmarkGenerate(b *testing.B) {
	req := &guardgenv1.GenerateRequest{
		Prompt:     "I was charged twice for my subscription this month",
		TargetType: "guardgen.examples.v1.TicketClassification",
	}
	b.Run("grpc-go", func(b *testing.B) {
		resp := fixedResponse(b)
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := grpc.NewServer()
		guardgenv1.RegisterGenerationServiceServer(srv, fixedServer{resp: resp})
		go func() { _ = srv.Serve(lis) }()
		b.Cleanup(srv.Stop)
		conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close() })
		generateParallel(b, guardgenv1.NewGenerationServiceClient(conn), req)
	})
	b.Run("guardgen", func(b *testing.B) {
		devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { devNull.Close() })
		cfg := config.Default()
		cfg.Server.MaxInFlight = nil
		srv := apptest.Start(b, cfg, app.Options{LogOutput: devNull})
		generateParallel(b, guardgenv1.NewGenerationServiceClient(srv.Dial(b)), req)
	})
	// The OpenAI provider's path, as bench/run.sh's openai-0ms scenario
	// configures it, to an upstream on loopback HTTP that answers every
	// call with one fixed completion at once (openaitest would decode and
	// record each request, and its cost would swamp guardgen's in this
	// process's CPU). Its allocations per call are guardgen's, the gRPC
	// client's and net/http's on both ends.
	b.Run("guardgen-openai", func(b *testing.B) {
		devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { devNull.Close() })
		upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(fixedCompletion)
		}))
		b.Cleanup(upstream.Close)
		cfg, err := config.Parse("bench.yaml", []byte(`
providers:
  - {name: openai, type: openai, model: gpt-4o-mini, base_url: "`+upstream.URL+`/v1", api_key_env: OPENAI_API_KEY}
routes:
  - {name: default, entries: [{provider: openai}]}
default_route: default
`))
		if err != nil {
			b.Fatal(err)
		}
		cfg.Server.MaxInFlight = nil
		srv := apptest.Start(b, cfg, app.Options{LogOutput: devNull, Getenv: func(string) string { return "sk-bench" }})
		generateParallel(b, guardgenv1.NewGenerationServiceClient(srv.Dial(b)), req)
	})
}

// fixedCompletion is a chat completion answering a TicketClassification,
// as the OpenAI API writes one.
var fixedCompletion = []byte(`{"id":"chatcmpl-bench","object":"chat.completion","created":1764633600,"model":"gpt-4o-mini-2024-07-18",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"{\"category\":\"billing\",\"priority\":2,\"summary\":\"Customer was charged twice for the subscription this month\"}","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],` +
	`"usage":{"prompt_tokens":68,"completion_tokens":19,"total_tokens":87},"system_fingerprint":"fp_bench"}`)

func generateParallel(b *testing.B, client guardgenv1.GenerationServiceClient, req *guardgenv1.GenerateRequest) {
	ctx := context.Background()
	if _, err := client.Generate(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(16) // 32 calls at a time on the 2 cores guardgen is measured on
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := client.Generate(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
	// CPU time per call, client and server together: on a shared machine
	// it moves far less than the time per call does.
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N)/1e3, "cpu-µs/op")
}

// processCPU is the CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fixedServer answers every Generate with one pre-built response, as
// bench/baseline does.
type fixedServer struct {
	guardgenv1.UnimplementedGenerationServiceServer
	resp *guardgenv1.GenerateResponse
}

func (s fixedServer) Generate(context.Context, *guardgenv1.GenerateRequest) (*guardgenv1.GenerateResponse, error) {
	return s.resp, nil
}

func fixedResponse(b *testing.B) *guardgenv1.GenerateResponse {
	msg := &examplesv1.TicketClassification{Category: "billing", Priority: 2, Summary: "Customer was charged twice for the subscription this month"}
	packed, err := anypb.New(msg)
	if err != nil {
		b.Fatal(err)
	}
	js, err := protojson.Marshal(msg)
	if err != nil {
		b.Fatal(err)
	}
	usage := &providerv1.Usage{InputTokens: 68, OutputTokens: 19, TotalTokens: 87}
	return &guardgenv1.GenerateResponse{Message: packed, Json: string(js), Report: &guardgenv1.GenerationReport{
		Attempts: []*guardgenv1.Attempt{{
			Number: 1, SemanticAttempt: 1, Provider: "synthetic", Model: "synthetic",
			FinishReason: providerv1.FinishReason_FINISH_REASON_STOP, Usage: usage,
			Latency: durationpb.New(300 * time.Microsecond),
		}},
		Usage:   usage,
		Latency: durationpb.New(800 * time.Microsecond),
	}}
}
