// Command openai-testserver runs the scripted OpenAI-compatible test server
// of package openaitest on a fixed address, for demos and manual runs:
//
//	openai-testserver --listen 127.0.0.1:8089 --script faults.json
//	OPENAI_BASE_URL=http://127.0.0.1:8089/v1 OPENAI_API_KEY=x go run . --provider=openai
//
// The script is a JSON array of steps, answered in order, one per chat
// completion request; afterwards every request gets the default answer
// (--default-content). A step's fields mirror openaitest.Step:
//
//	[{"status": 429, "headers": {"Retry-After": "2"},
//	  "error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}},
//	 {"content": "{\"category\":\"billing\"}", "finish_reason": "length", "delay": "300ms"},
//	 {"hang": true}, {"reset_connection": true}, {"truncate_body": true}, {"refusal": "no"},
//	 {"content": "{\"priority\":3}", "logprobs": [{"token": "{\"priority\":", "logprob": -0.01},
//	   {"token": "3", "logprob": -1.2}, {"token": "}", "logprob": 0}]},
//	 {"chunks": [{"content": "{\"category\":\"billing\","}, {"content": "\"priority\":3}", "delay": "500ms"}]}]
//
// A streaming request ("stream": true) gets a step's chunks as server-sent
// events, each after its delay (without chunks, the content in one);
// "break_stream" cuts the connection after them.
//
// Logprobs are sent only to requests that ask for them. Requests for
// guardgen's verifier (a guardgen.v1.Verdict) get --verifier-content when it
// is set, whatever the script says.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/guardgen/guardgen/providers/openai/openaitest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "openai-testserver:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("openai-testserver", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8089", "address to listen on")
	script := fs.String("script", "", "JSON file with an array of steps, answered in order")
	content := fs.String("default-content", "{}", "assistant content of the default answer")
	verifier := fs.String("verifier-content", "", `assistant content for guardgen's verifier requests, e.g. {"supported":true,"reason":"ok"}; empty: they take the script like any request`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	var steps []openaitest.Step
	if *script != "" {
		var err error
		if steps, err = readScript(*script); err != nil {
			return err
		}
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := openaitest.New(openaitest.WithListener(l))
	defer srv.Close()
	srv.SetDefault(openaitest.Reply(*content))
	if *verifier != "" {
		srv.SetVerifierDefault(openaitest.Reply(*verifier))
	}
	srv.Enqueue(steps...)
	fmt.Printf("OPENAI_BASE_URL=%s (%d scripted steps)\n", srv.URL(), len(steps))
	<-ctx.Done()
	fmt.Printf("served %d chat completion requests\n", srv.Count())
	return nil
}

// scriptStep is the JSON form of openaitest.Step.
type scriptStep struct {
	Status          int                  `json:"status"`
	Headers         map[string]string    `json:"headers"`
	Error           *openaitest.APIError `json:"error"`
	Body            string               `json:"body"`
	Delay           string               `json:"delay"`
	Hang            bool                 `json:"hang"`
	ResetConnection bool                 `json:"reset_connection"`
	TruncateBody    bool                 `json:"truncate_body"`
	Content         string               `json:"content"`
	FinishReason    string               `json:"finish_reason"`
	Refusal         string               `json:"refusal"`
	Model           string               `json:"model"`
	NoChoices       bool                 `json:"no_choices"`
	Logprobs        []struct {
		Token   string  `json:"token"`
		Logprob float64 `json:"logprob"`
	} `json:"logprobs"`
	Usage *struct {
		Prompt     int64 `json:"prompt_tokens"`
		Completion int64 `json:"completion_tokens"`
		Total      int64 `json:"total_tokens"`
	} `json:"usage"`
	Chunks []struct {
		Content string `json:"content"`
		Delay   string `json:"delay"`
	} `json:"chunks"`
	BreakStream bool `json:"break_stream"`
}

func readScript(name string) ([]openaitest.Step, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var script []scriptStep
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&script); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	steps := make([]openaitest.Step, len(script))
	for i, s := range script {
		var delay time.Duration
		if s.Delay != "" {
			if delay, err = time.ParseDuration(s.Delay); err != nil {
				return nil, fmt.Errorf("%s: step %d: delay: %w", name, i, err)
			}
		}
		steps[i] = openaitest.Step{
			Status: s.Status, Headers: s.Headers, Error: s.Error, Body: s.Body, Delay: delay,
			Hang: s.Hang, ResetConnection: s.ResetConnection, TruncateBody: s.TruncateBody,
			Content: s.Content, FinishReason: s.FinishReason, Refusal: s.Refusal, Model: s.Model, NoChoices: s.NoChoices,
		}
		for _, lp := range s.Logprobs {
			steps[i].Logprobs = append(steps[i].Logprobs, openaitest.Logprob{Token: lp.Token, Logprob: lp.Logprob})
		}
		if s.Usage != nil {
			steps[i].Usage = &openaitest.Usage{PromptTokens: s.Usage.Prompt, CompletionTokens: s.Usage.Completion, TotalTokens: s.Usage.Total}
		}
		for j, c := range s.Chunks {
			chunk := openaitest.Chunk{Content: c.Content}
			if c.Delay != "" {
				if chunk.Delay, err = time.ParseDuration(c.Delay); err != nil {
					return nil, fmt.Errorf("%s: step %d: chunk %d: delay: %w", name, i, j, err)
				}
			}
			steps[i].Chunks = append(steps[i].Chunks, chunk)
		}
		steps[i].BreakStream = s.BreakStream
	}
	return steps, nil
}
