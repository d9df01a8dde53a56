package synthetic_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/providers/providertest"
	"github.com/guardgen/guardgen/providers/synthetic"
)

// streamOf calls CompleteStream in process with a fault plan and returns
// the chunks and the error the stream ended with (nil at its end).
func streamOf(t *testing.T, ctx context.Context, plan string, req *providerv1.CompleteRequest) ([]*providerv1.CompleteStreamResponse, error) {
	t.Helper()
	if plan != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, synthetic.FaultsMetadataKey, plan)
	}
	return providertest.Chunks(providerv1.NewProviderServiceClient(providers.InProcess(synthetic.New())).CompleteStream(ctx, req))
}

// TestStreamIsComplete: the chunks of CompleteStream spell what Complete
// answers, with the same logprobs; the last carries the finish reason and
// usage.
func TestStreamIsComplete(t *testing.T) {
	t.Parallel()
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			req := request(tg.schema, prompt)
			req.Logprobs = true
			want, err := synthetic.New().Complete(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			chunks, err := streamOf(t, t.Context(), "", req)
			if err != nil {
				t.Fatalf("stream: %v", err)
			}
			if len(chunks) < 3 {
				t.Errorf("%d chunks, want at least 3 for an answer of %d bytes", len(chunks), len(want.GetContent()))
			}
			var content strings.Builder
			var tokens []*providerv1.TokenLogprob
			for i, c := range chunks {
				content.WriteString(c.GetContent())
				tokens = append(tokens, c.GetLogprobs()...)
				if last := i == len(chunks)-1; last != (c.GetFinishReason() != providerv1.FinishReason_FINISH_REASON_UNSPECIFIED) || last != (c.GetUsage() != nil) {
					t.Errorf("chunk %d of %d: finish %v, usage %v; want them on the last chunk only", i, len(chunks), c.GetFinishReason(), c.GetUsage())
				}
			}
			last := chunks[len(chunks)-1]
			if content.String() != want.GetContent() || last.GetFinishReason() != want.GetFinishReason() || last.GetModel() != want.GetModel() {
				t.Errorf("streamed %q (finish %v, model %q), want %q (%v, %q)", content.String(), last.GetFinishReason(), last.GetModel(),
					want.GetContent(), want.GetFinishReason(), want.GetModel())
			}
			if diff := cmp.Diff(want.GetLogprobs(), tokens, protocmp.Transform()); diff != "" {
				t.Errorf("logprobs (-Complete +stream):\n%s", diff)
			}
		})
	}
}

// TestStreamFaults: stream_reset breaks the stream halfway; slow_start
// holds the first chunk back; an answer fault streams its answer.
func TestStreamFaults(t *testing.T) {
	t.Parallel()
	schema := targets(t)[0].schema
	full, err := streamOf(t, t.Context(), "", request(schema, prompt))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("stream_reset", func(t *testing.T) {
		t.Parallel()
		chunks, err := streamOf(t, t.Context(), "stream_reset", request(schema, prompt))
		if status.Code(err) != codes.Unavailable || len(chunks) != len(full)/2 {
			t.Errorf("%d chunks, then %v; want %d, then UNAVAILABLE", len(chunks), err, len(full)/2)
		}
	})
	t.Run("slow_start", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		chunks, err := streamOf(t, t.Context(), "slow_start:100ms", request(schema, prompt))
		if err != nil || len(chunks) != len(full) {
			t.Fatalf("%d chunks, %v; want %d", len(chunks), err, len(full))
		}
		// A lower bound: a loaded machine can only make it later.
		if took := time.Since(start); took < 100*time.Millisecond {
			t.Errorf("the stream took %v, want at least the 100ms slow start", took)
		}
	})
	t.Run("slow_start past the deadline", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		chunks, err := streamOf(t, ctx, "slow_start:1m", request(schema, prompt))
		if status.Code(err) != codes.DeadlineExceeded || len(chunks) != 0 {
			t.Errorf("%d chunks, %v; want none and DEADLINE_EXCEEDED", len(chunks), err)
		}
	})
	t.Run("slow_start with a bad duration", func(t *testing.T) {
		t.Parallel()
		for _, arg := range []string{"soon", "-1s", "2h"} {
			if _, err := streamOf(t, t.Context(), "slow_start:"+arg, request(schema, prompt)); status.Code(err) != codes.InvalidArgument {
				t.Errorf("slow_start:%s: %v, want INVALID_ARGUMENT", arg, err)
			}
		}
	})
	t.Run("length", func(t *testing.T) {
		t.Parallel()
		chunks, err := streamOf(t, t.Context(), "length", request(schema, prompt))
		if err != nil || len(chunks) == 0 || chunks[len(chunks)-1].GetFinishReason() != providerv1.FinishReason_FINISH_REASON_LENGTH {
			t.Errorf("%d chunks, %v; want chunks ending in finish reason LENGTH", len(chunks), err)
		}
	})
	t.Run("rate_limit", func(t *testing.T) {
		t.Parallel()
		chunks, err := streamOf(t, t.Context(), "rate_limit", request(schema, prompt))
		if status.Code(err) != codes.ResourceExhausted || len(chunks) != 0 {
			t.Errorf("%d chunks, %v; want RESOURCE_EXHAUSTED before any", len(chunks), err)
		}
	})
}
