package app_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/guardgen/guardgen/app"
	"github.com/guardgen/guardgen/app/apptest"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers/synthetic"
)

// TestCacheAnswersOnlyItsOwnRequest: a cached answer serves only the same
// caller asking the same thing. A caller who forces truncation with
// max_output_tokens: 1 gets neither another caller's answer nor its own
// answer to a request without the limit; instructions and the options
// max_cache_age and skip_cache are honoured.
func TestCacheAnswersOnlyItsOwnRequest(t *testing.T) {
	t.Parallel()
	cfg := parse(t, "server:\n  auth: {tokens_env: TOKENS}\n")
	env := map[string]string{"TOKENS": "token-of-alice,token-of-bob"}
	srv := apptest.Start(t, cfg, app.Options{Getenv: func(k string) string { return env[k] }})
	c := guardgenv1.NewGenerationServiceClient(srv.Dial(t))
	const prompt = "I was charged twice for my subscription this month"
	as := func(token, plan string, opts *guardgenv1.GenerateOptions, instructions string) (*guardgenv1.GenerateResponse, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
		if plan != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, synthetic.FaultsMetadataKey, plan)
		}
		return c.Generate(ctx, &guardgenv1.GenerateRequest{Prompt: prompt, TargetType: ticket, Options: opts, Instructions: instructions})
	}
	alice, bob := "token-of-alice", "token-of-bob"
	truncating := &guardgenv1.GenerateOptions{MaxOutputTokens: 1}

	clean, err := as(alice, "", nil, "")
	if err != nil || clean.GetDegraded() {
		t.Fatalf("alice's clean request: %v, degraded %v", err, clean.GetDegraded())
	}
	// Alice's own truncated request degrades to her cached answer: the cache
	// works.
	if resp, err := as(alice, "length", nil, ""); err != nil || resp.GetDegradation().GetMetadata()["degradation"] != "cache" || resp.GetJson() != clean.GetJson() {
		t.Fatalf("alice, truncated: %v, %v; want her cached answer", resp, err)
	}

	refused := []struct {
		name         string
		token, plan  string
		opts         *guardgenv1.GenerateOptions
		instructions string
	}{
		{"bob forcing truncation with max_output_tokens 1", bob, "", truncating, ""},
		{"alice forcing truncation with max_output_tokens 1", alice, "", truncating, ""},
		{"bob, truncated", bob, "length", nil, ""},
		{"alice, other instructions, truncated", alice, "length", nil, "Answer in French."},
		{"alice, other temperature, truncated", alice, "length", &guardgenv1.GenerateOptions{Temperature: new(0.7)}, ""},
		{"alice, skip_cache, truncated", alice, "length", &guardgenv1.GenerateOptions{SkipCache: true}, ""},
	}
	for _, tt := range refused {
		resp, err := as(tt.token, tt.plan, tt.opts, tt.instructions)
		if status.Code(err) != codes.Aborted || classifierReason(err) != "TRUNCATED" {
			t.Errorf("%s: %v, degraded %v (%v); want ABORTED TRUNCATED, no cached answer", tt.name, err, resp.GetDegraded(), resp.GetDegradation())
		}
	}

	// max_cache_age refuses an answer older than the caller accepts.
	time.Sleep(20 * time.Millisecond)
	if _, err := as(alice, "length", &guardgenv1.GenerateOptions{MaxCacheAge: durationpb.New(10 * time.Millisecond)}, ""); status.Code(err) != codes.Aborted {
		t.Errorf("alice, max_cache_age 10ms, truncated: %v; want ABORTED", err)
	}
	if _, err := as(alice, "length", &guardgenv1.GenerateOptions{MaxCacheAge: durationpb.New(time.Hour)}, ""); err != nil {
		t.Errorf("alice, max_cache_age 1h, truncated: %v; want her cached answer", err)
	}
	// skip_cache stores nothing: bob's clean answer with it is not there
	// for his next truncated request.
	if _, err := as(bob, "", &guardgenv1.GenerateOptions{SkipCache: true}, ""); err != nil {
		t.Fatalf("bob, skip_cache: %v", err)
	}
	if _, err := as(bob, "length", nil, ""); status.Code(err) != codes.Aborted {
		t.Errorf("bob, truncated after a skip_cache answer: %v; want ABORTED", err)
	}
}
