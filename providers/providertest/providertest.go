// Package providertest is the conformance suite of the provider contract,
// guardgen.provider.v1.ProviderService: every provider — built in or a
// plug-in over gRPC — runs the same behavioural tests, the way every
// slog.Handler runs testing/slogtest. A provider that passes answers with
// content guardgen can validate, reports why the model stopped, and speaks
// its upstream's faults in the statuses guardgen's classifier and retry
// chain understand.
package providertest

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/schema"
)

// Behavior is what the provider's upstream does on the next call.
type Behavior int

const (
	// Answer is a complete, valid answer for the requested schema.
	Answer Behavior = iota
	// RateLimited is a rate limit with a retry delay (HTTP 429 with
	// Retry-After, for an HTTP upstream).
	RateLimited
	// Unavailable is a transient upstream failure (HTTP 503, a reset).
	Unavailable
	// Truncated is an answer cut off by the token limit.
	Truncated
	// ContentFiltered is an answer withheld by the upstream's content
	// filter.
	ContentFiltered
	// Refused is the model refusing, with a refusal text.
	Refused
	// Hang is an upstream that never answers: the call must end when its
	// context does.
	Hang
)

var behaviorNames = map[Behavior]string{
	Answer: "answer", RateLimited: "rate limited", Unavailable: "unavailable", Truncated: "truncated",
	ContentFiltered: "content filtered", Refused: "refused", Hang: "hang",
}

// String names b.
func (b Behavior) String() string { return behaviorNames[b] }

// Harness is one provider under test.
type Harness struct {
	// Client reaches the provider as guardgen does, in process or over gRPC,
	// without guardgen's retry chain.
	Client providerv1.ProviderServiceClient
	// Script arranges for the call made with the returned context to meet
	// behaviour b upstream.
	Script func(ctx context.Context, t *testing.T, b Behavior) context.Context
}

// target is the suite's output type, the article's TicketClassification.
const target = "guardgen.examples.v1.TicketClassification"

// Run runs the conformance suite against h.
func Run(t *testing.T, h Harness) {
	t.Helper()
	resolver, err := schema.NewResolver(schema.Options{RequestTypesOff: true}) // compiled-in targets only
	if err != nil {
		t.Fatal(err)
	}
	tgt, err := resolver.Resolve(target, nil)
	if err != nil {
		t.Fatal(err)
	}
	request := func() *providerv1.CompleteRequest {
		return &providerv1.CompleteRequest{
			Messages: []*providerv1.Message{
				{Role: providerv1.Role_ROLE_SYSTEM, Content: "Answer with one JSON object that conforms to the schema."},
				{Role: providerv1.Role_ROLE_USER, Content: "I was charged twice for my subscription this month"},
			},
			OutputSchema: &providerv1.OutputSchema{Name: tgt.Name, JsonSchema: tgt.JSONSchemaText, Strict: true},
			Sampling:     &providerv1.SamplingOptions{MaxOutputTokens: 512},
		}
	}
	// scripted is the context of a call that meets behaviour b upstream.
	scripted := func(t *testing.T, b Behavior, timeout time.Duration) (context.Context, context.CancelFunc) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		return h.Script(ctx, t, b), cancel
	}
	t.Run("complete", func(t *testing.T) {
		behaviours(t, tgt, func(t *testing.T, b Behavior, timeout time.Duration) (*providerv1.CompleteResponse, error) {
			t.Helper()
			ctx, cancel := scripted(t, b, timeout)
			defer cancel()
			return h.Client.Complete(ctx, request())
		})
	})
	// Streamed as guardgen streams (providers.OpenStream: CompleteStream,
	// or Complete in one chunk for a provider without it), each behaviour
	// must show the same way: the chunks spell the answer, the last says
	// why the model stopped, and faults are the same statuses (before any
	// chunk, as the suite's upstreams fail).
	t.Run("stream", func(t *testing.T) {
		behaviours(t, tgt, func(t *testing.T, b Behavior, timeout time.Duration) (*providerv1.CompleteResponse, error) {
			t.Helper()
			ctx, cancel := scripted(t, b, timeout)
			defer cancel()
			stream := providers.OpenStream(ctx, h.Client, request())
			var c providers.Completion
			for {
				chunk, err := stream.Recv()
				if errors.Is(err, io.EOF) {
					return c.Response(), nil
				}
				if err != nil {
					return nil, err
				}
				c.Add(chunk)
			}
		})
	})
}

// behaviours runs the suite's checks, asking with call. Its length is the
// suite's cases, one short t.Run after another in the order a reader
// checks a provider (as testing/slogtest lists its cases); splitting them
// into functions would only add names.
func behaviours(t *testing.T, tgt *schema.Target, call func(t *testing.T, b Behavior, timeout time.Duration) (*providerv1.CompleteResponse, error)) {

	t.Run("answer", func(t *testing.T) {
		resp, err := call(t, Answer, 10*time.Second)
		if err != nil {
			t.Fatalf("Complete: %v", err)
		}
		if got := resp.GetFinishReason(); got != providerv1.FinishReason_FINISH_REASON_STOP {
			t.Errorf("finish reason = %v, want STOP", got)
		}
		msg, _, err := tgt.Decode([]byte(resp.GetContent()), schema.DecodeOptions{Strict: true})
		if err != nil {
			t.Fatalf("content does not decode strictly as %s: %v\n%s", target, err, resp.GetContent())
		}
		if err := tgt.Validate(msg); err != nil {
			t.Errorf("content is not a valid %s: %v", target, err)
		}
		if resp.GetModel() == "" {
			t.Error("model is empty: the report could not say who answered")
		}
		if u := resp.GetUsage(); u.GetOutputTokens() <= 0 || u.GetTotalTokens() < u.GetInputTokens()+u.GetOutputTokens() {
			t.Errorf("usage = %v, want output tokens and a total that covers input and output", u)
		}
	})
	t.Run("rate limited", func(t *testing.T) {
		_, err := call(t, RateLimited, 10*time.Second)
		st := status.Convert(err)
		if st.Code() != codes.ResourceExhausted {
			t.Fatalf("code = %v (%v), want RESOURCE_EXHAUSTED", st.Code(), err)
		}
		i := slices.IndexFunc(st.Details(), func(d any) bool { _, ok := d.(*errdetails.RetryInfo); return ok })
		if i < 0 {
			t.Fatalf("details %v hold no RetryInfo: the retry chain could not honour the upstream's delay", st.Details())
		}
		if d := st.Details()[i].(*errdetails.RetryInfo).GetRetryDelay().AsDuration(); d <= 0 {
			t.Errorf("RetryInfo delay = %v, want > 0", d)
		}
	})
	t.Run("unavailable", func(t *testing.T) {
		_, err := call(t, Unavailable, 10*time.Second)
		if got := status.Code(err); got != codes.Unavailable {
			t.Errorf("code = %v (%v), want UNAVAILABLE", got, err)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		resp, err := call(t, Truncated, 10*time.Second)
		if err != nil {
			t.Fatalf("Complete: %v", err)
		}
		if got := resp.GetFinishReason(); got != providerv1.FinishReason_FINISH_REASON_LENGTH {
			t.Errorf("finish reason = %v, want LENGTH: truncated output must be marked so that it is never parsed", got)
		}
	})
	t.Run("content filtered", func(t *testing.T) {
		resp, err := call(t, ContentFiltered, 10*time.Second)
		if err != nil {
			// A filter reported as an error must say so in its status.
			if status.Code(err) != codes.FailedPrecondition {
				t.Fatalf("code = %v (%v), want a CONTENT_FILTER finish or FAILED_PRECONDITION", status.Code(err), err)
			}
			return
		}
		if got := resp.GetFinishReason(); got != providerv1.FinishReason_FINISH_REASON_CONTENT_FILTER {
			t.Errorf("finish reason = %v, want CONTENT_FILTER", got)
		}
	})
	t.Run("refused", func(t *testing.T) {
		resp, err := call(t, Refused, 10*time.Second)
		if err != nil {
			t.Fatalf("Complete: %v", err)
		}
		if got := resp.GetFinishReason(); got != providerv1.FinishReason_FINISH_REASON_REFUSAL {
			t.Errorf("finish reason = %v, want REFUSAL", got)
		}
		if resp.GetRefusal() == "" {
			t.Error("refusal text is empty")
		}
	})
	t.Run("hang ends with the context", func(t *testing.T) {
		const budget = 300 * time.Millisecond
		start := time.Now()
		_, err := call(t, Hang, budget)
		if took := time.Since(start); took > budget+2*time.Second {
			t.Errorf("the call took %v after a %v deadline: it did not honour its context", took, budget)
		}
		if got := status.Code(err); got != codes.DeadlineExceeded {
			t.Errorf("code = %v (%v), want DEADLINE_EXCEEDED", got, err)
		}
	})
}

// Chunks reads a CompleteStream call to its end: its chunks, and the
// error it ended with (nil at its end). It takes the call's results as
// they are: Chunks(client.CompleteStream(ctx, req)).
func Chunks(stream grpc.ServerStreamingClient[providerv1.CompleteStreamResponse], err error) ([]*providerv1.CompleteStreamResponse, error) {
	if err != nil {
		return nil, err
	}
	var chunks []*providerv1.CompleteStreamResponse
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return chunks, nil
		}
		if err != nil {
			return chunks, err
		}
		chunks = append(chunks, chunk)
	}
}
