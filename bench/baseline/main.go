// Command baseline is the load benchmark's reference point: a bare grpc-go
// server that answers guardgen.v1.GenerationService/Generate with one fixed,
// pre-built GenerateResponse, shaped like guardgen's answer for a
// TicketClassification (an Any, its JSON, a one-attempt report). Nothing is
// parsed, validated, logged or measured beyond what grpc-go itself does, so
// the gap between this server and guardgen is guardgen's own cost.
//
// With --upstream it is the bare proxy instead: every Generate first posts
// one fixed chat completion request (chat-request.json, the body guardgen
// sends for a TicketClassification) to the upstream through a plain
// net/http client and reads the answer whole, then answers the same
// pre-built response. It parses nothing, so it is the floor of any
// gRPC-to-HTTP proxy on the machine it runs on: one gRPC hop and one HTTP
// hop, with nothing else.
//
//	baseline --listen 127.0.0.1:50070
//	baseline --listen 127.0.0.1:50070 --upstream http://127.0.0.1:8089/v1
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	examplesv1 "github.com/guardgen/guardgen/gen/guardgen/examples/v1"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

//go:embed chat-request.json
var chatRequest []byte

type server struct {
	guardgenv1.UnimplementedGenerationServiceServer
	resp *guardgenv1.GenerateResponse
	// client and url are set in the bare proxy mode (--upstream).
	client *http.Client
	url    string
}

func (s *server) Generate(ctx context.Context, _ *guardgenv1.GenerateRequest) (*guardgenv1.GenerateResponse, error) {
	if s.client != nil {
		if err := s.forward(ctx); err != nil {
			return nil, status.Error(codes.Unavailable, err.Error())
		}
	}
	return s.resp, nil
}

// forward posts the fixed chat completion request to the upstream and
// reads the answer whole.
func (s *server) forward(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(chatRequest))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sk-bench")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("upstream answered HTTP %d", resp.StatusCode)
	}
	return nil
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
	upstream := flag.String("upstream", "", "OpenAI-compatible base URL (http://HOST:PORT/v1): forward a fixed chat completion request there on every call, as a bare proxy")
	caFile := flag.String("ca-file", "", "with an https:// --upstream: a PEM certificate to trust (bench/upstream --tls-cert writes one)")
	flag.Parse()
	resp, err := fixedResponse()
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
	srv := &server{resp: resp}
	if *upstream != "" {
		// Every connection kept for reuse, as guardgen keeps one per call
		// it admits (the driver sets server.max_in_flight above the load).
		tr := &http.Transport{MaxIdleConns: 0, MaxIdleConnsPerHost: 1 << 20, IdleConnTimeout: 90 * time.Second, ForceAttemptHTTP2: true}
		if *caFile != "" {
			pem, err := os.ReadFile(*caFile)
			if err != nil {
				fmt.Fprintln(os.Stderr, "baseline:", err)
				os.Exit(1)
			}
			roots := x509.NewCertPool()
			if !roots.AppendCertsFromPEM(pem) {
				fmt.Fprintln(os.Stderr, "baseline: no certificate in", *caFile)
				os.Exit(1)
			}
			tr.TLSClientConfig = &tls.Config{RootCAs: roots}
		}
		srv.client, srv.url = &http.Client{Transport: tr}, *upstream+"/chat/completions"
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
	s := grpc.NewServer()
	guardgenv1.RegisterGenerationServiceServer(s, srv)
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
