// Command baseline is the load benchmark's reference point: a bare grpc-go
// server that answers guardgen.v1.GenerationService/Generate with one fixed,
// pre-built GenerateResponse, shaped like guardgen's answer for a
// TicketClassification (an Any, its JSON, a one-attempt report). Nothing is
// parsed, validated, logged or measured beyond what grpc-go itself does, so
// the gap between this server and guardgen is guardgen's own cost.
//
//	baseline --listen 127.0.0.1:50070
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	examplesv1 "github.com/guardgen/guardgen/gen/guardgen/examples/v1"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

type server struct {
	guardgenv1.UnimplementedGenerationServiceServer
	resp *guardgenv1.GenerateResponse
}

func (s *server) Generate(context.Context, *guardgenv1.GenerateRequest) (*guardgenv1.GenerateResponse, error) {
	return s.resp, nil
}

// fixedResponse is built once; grpc-go marshals the same message per call.
func fixedResponse() (*guardgenv1.GenerateResponse, error) {
	msg := &examplesv1.TicketClassification{Category: "billing", Priority: 2, Summary: "Customer was charged twice for the subscription this month"}
	anyMsg, err := anypb.New(msg)
	if err != nil {
		return nil, err
	}
	js, err := protojson.Marshal(msg)
	if err != nil {
		return nil, err
	}
	usage := &providerv1.Usage{InputTokens: 68, OutputTokens: 19, TotalTokens: 87}
	return &guardgenv1.GenerateResponse{
		Message: anyMsg,
		Json:    string(js),
		Report: &guardgenv1.GenerationReport{
			Attempts: []*guardgenv1.Attempt{{
				Number: 1, SemanticAttempt: 1, Provider: "openai", Model: "gpt-4o-mini",
				FinishReason: providerv1.FinishReason_FINISH_REASON_STOP, Usage: usage,
				Latency: durationpb.New(300 * time.Microsecond),
			}},
			Usage:   usage,
			Latency: durationpb.New(800 * time.Microsecond),
		},
	}, nil
}

func main() {
	listen := flag.String("listen", "127.0.0.1:50070", "gRPC listen address")
	flag.Parse()
	resp, err := fixedResponse()
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
	s := grpc.NewServer()
	guardgenv1.RegisterGenerationServiceServer(s, &server{resp: resp})
	reflection.Register(s)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); s.GracefulStop() }()
	fmt.Printf("baseline listening on %s\n", lis.Addr())
	if err := s.Serve(lis); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}
