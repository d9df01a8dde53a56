package openai_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/providers/openai"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
)

// TestLogprobs: logprobs are asked for only when the request does, and the
// tokens come back as bytes, a split multi-byte character included.
func TestLogprobs(t *testing.T) {
	t.Parallel()
	p, srv := start(t, openai.Options{})
	step := openaitest.Step{
		Content: `{"summary":"café"}`,
		Logprobs: []openaitest.Logprob{
			{Token: `{"summary":"`, Logprob: -0.01},
			{Token: "caf", Logprob: -0.5},
			{Token: `\xc3`, Bytes: []byte{0xc3}, Logprob: -1.25},
			{Token: `\xa9`, Bytes: []byte{0xa9}, Logprob: -0.75},
			{Token: `"}`, Logprob: 0},
		},
	}
	srv.Enqueue(step, step)

	resp, err := p.Complete(context.Background(), request(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests()[0].Body["logprobs"]; got != nil || resp.GetLogprobs() != nil {
		t.Errorf("not asked for: request logprobs %v, response %v", got, resp.GetLogprobs())
	}

	req := request(t)
	req.Logprobs = true
	resp, err = p.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests()[1].Body["logprobs"]; got != true {
		t.Errorf("request logprobs = %v, want true", got)
	}
	want := []*providerv1.TokenLogprob{
		{Token: []byte(`{"summary":"`), Logprob: -0.01},
		{Token: []byte("caf"), Logprob: -0.5},
		{Token: []byte{0xc3}, Logprob: -1.25},
		{Token: []byte{0xa9}, Logprob: -0.75},
		{Token: []byte(`"}`), Logprob: 0},
	}
	if diff := cmp.Diff(want, resp.GetLogprobs(), protocmp.Transform()); diff != "" {
		t.Errorf("logprobs (-want +got):\n%s", diff)
	}
}
