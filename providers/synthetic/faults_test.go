package synthetic_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"buf.build/go/protovalidate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	examplesv1 "github.com/guardgen/guardgen/gen/guardgen/examples/v1"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/providers/synthetic"
)

func statusCode(err error) string { return status.Code(err).String() }

const prompt = "My card was charged twice for the March invoice"

// TestFaults runs one plan listing every fault; the call number picks the
// entry, as it does across one guardgen request.
func TestFaults(t *testing.T) {
	t.Parallel()
	schema := targets(t)[0].schema
	ok, err := synthetic.New().Complete(context.Background(), request(schema, prompt))
	if err != nil {
		t.Fatal(err)
	}
	valid := ok.GetContent()

	stop := providerv1.FinishReason_FINISH_REASON_STOP
	tests := []struct {
		fault   string
		code    codes.Code
		finish  providerv1.FinishReason
		refusal string
		content func(t *testing.T, got string) // checks the content
	}{
		{fault: "ok", finish: stop, content: equals(valid)},
		{fault: "rate_limit", code: codes.ResourceExhausted},
		{fault: "unavailable", code: codes.Unavailable},
		{fault: "timeout", code: codes.DeadlineExceeded},
		// The test's context ends after 50 ms: hang answers only then.
		{fault: "hang", code: codes.DeadlineExceeded},
		{fault: "length", finish: providerv1.FinishReason_FINISH_REASON_LENGTH, content: all(
			equals(valid[:len(valid)/2]), invalidJSON)},
		{fault: "content_filter", finish: providerv1.FinishReason_FINISH_REASON_CONTENT_FILTER, content: equals("")},
		{fault: "refusal", finish: providerv1.FinishReason_FINISH_REASON_REFUSAL, refusal: synthetic.Refusal, content: equals("")},
		{fault: "fence", finish: stop, content: equals("```json\n" + valid + "\n```")},
		{fault: "prose", finish: stop, content: equals(
			"Sure! Here is the result you asked for:\n\n" + valid + "\n\nLet me know if you need anything else.")},
		{fault: "malformed", finish: stop, content: all(
			equals(strings.Replace(valid, `"category":`, `"category" `, 1)), invalidJSON)},
		{fault: "schema", finish: stop, content: all(
			equals(strings.Replace(valid, `"priority":`+priority(t, valid), `"priority":6`, 1)), validJSON)},
		{fault: "unknown_field", finish: stop, content: equals(
			strings.TrimSuffix(valid, "}") + `,"x_unexpected_note":"synthetic extra field"}`)},
		// TicketClassification has no date-times to put out of order.
		{fault: "business_rule", finish: stop, content: equals(valid)},
		// Without logprobs asked for, low confidence cannot show.
		{fault: "low_confidence", finish: stop, content: equals(valid)},
		// Only a verification call can be rejected by the verifier.
		{fault: "verify_reject", code: codes.InvalidArgument},
		// A unary call sees a stream broken halfway as a reset connection.
		{fault: "stream_reset", code: codes.Unavailable},
		// slow_start waits a second by default: the 50 ms context ends first.
		{fault: "slow_start", code: codes.DeadlineExceeded},
	}
	plan := make([]string, len(tests))
	for i, tt := range tests {
		plan[i] = " " + tt.fault + " " // whitespace around entries is ignored
	}
	if got, want := strings.Join(synthetic.Faults(), ","), strings.Join(strings.Fields(strings.Join(plan, "")), ","); got != want {
		t.Fatalf("Faults() = %s, want the table's %s", got, want)
	}
	p := synthetic.New()
	for i, tt := range tests {
		t.Run(tt.fault, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(withPlan(strings.Join(plan, ","), i+1), 50*time.Millisecond)
			defer cancel()
			resp, err := p.Complete(ctx, request(schema, prompt))
			if got := status.Code(err); got != tt.code {
				t.Fatalf("code %v (%v), want %v", got, err, tt.code)
			}
			if tt.code != codes.OK {
				return // an upstream failure has no response to check
			}
			if resp.GetFinishReason() != tt.finish || resp.GetRefusal() != tt.refusal {
				t.Errorf("finish %v refusal %q, want %v %q", resp.GetFinishReason(), resp.GetRefusal(), tt.finish, tt.refusal)
			}
			if resp.GetUsage().GetTotalTokens() < 2 || resp.GetModel() != synthetic.Model {
				t.Errorf("usage %v model %q", resp.GetUsage(), resp.GetModel())
			}
			tt.content(t, resp.GetContent())
		})
	}
}

func equals(want string) func(*testing.T, string) {
	return func(t *testing.T, got string) {
		t.Helper()
		if got != want {
			t.Errorf("content\n%q\nwant\n%q", got, want)
		}
	}
}

func invalidJSON(t *testing.T, got string) {
	t.Helper()
	if json.Valid([]byte(got)) {
		t.Errorf("content is valid JSON: %s", got)
	}
}

func validJSON(t *testing.T, got string) {
	t.Helper()
	if !json.Valid([]byte(got)) {
		t.Errorf("content is not valid JSON: %s", got)
	}
}

func all(checks ...func(*testing.T, string)) func(*testing.T, string) {
	return func(t *testing.T, got string) {
		t.Helper()
		for _, c := range checks {
			c(t, got)
		}
	}
}

func priority(t *testing.T, doc string) string {
	var v struct{ Priority json.RawMessage }
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatal(err)
	}
	return string(v.Priority)
}

func TestFaultRateLimitDetails(t *testing.T) {
	t.Parallel()
	p := synthetic.New(synthetic.WithRetryDelay(3 * time.Second))
	_, err := p.Complete(withPlan("rate_limit", 1), request(targets(t)[0].schema, prompt))
	checkRateLimit(t, err, 3*time.Second)
}

func checkRateLimit(t *testing.T, err error, delay time.Duration) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("code %v, want ResourceExhausted", st.Code())
	}
	var info *errdetails.ErrorInfo
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d
		case *errdetails.RetryInfo:
			retry = d
		}
	}
	want := &errdetails.ErrorInfo{Reason: "RATE_LIMITED", Domain: synthetic.ErrorInfoDomain}
	if !proto.Equal(info, want) {
		t.Errorf("ErrorInfo %v, want %v", info, want)
	}
	if got := retry.GetRetryDelay().AsDuration(); got != delay {
		t.Errorf("RetryInfo delay %v, want %v", got, delay)
	}
}

func TestFaultPlan(t *testing.T) {
	t.Parallel()
	schema := targets(t)[0].schema
	tests := []struct {
		name string
		ctx  context.Context
		code codes.Code
	}{
		{"no metadata", context.Background(), codes.OK},
		{"no call number means call 1", metadata.NewIncomingContext(context.Background(),
			metadata.Pairs(synthetic.FaultsMetadataKey, "unavailable")), codes.Unavailable},
		{"beyond the plan", withPlan("timeout,unavailable", 3), codes.OK},
		{"second entry", withPlan("timeout , unavailable", 2), codes.Unavailable},
		{"empty plan", withPlan("", 1), codes.OK},
		{"unknown entry fails every call", withPlan("ok,rate_limt", 1), codes.InvalidArgument},
		{"empty entry", withPlan("ok,,timeout", 1), codes.InvalidArgument},
		{"bad call number", withPlan("ok", 0), codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := synthetic.New().Complete(tt.ctx, request(schema, prompt))
			if got := status.Code(err); got != tt.code {
				t.Errorf("code %v (%v), want %v", got, err, tt.code)
			}
		})
	}
}

func TestFaultUnknownMessage(t *testing.T) {
	t.Parallel()
	_, err := synthetic.New().Complete(withPlan("ok, bogus", 1), request(targets(t)[0].schema, prompt))
	want := `synthetic: unknown fault "bogus"; known: ` + strings.Join(synthetic.Faults(), ", ")
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || st.Message() != want {
		t.Errorf("got %v %q, want InvalidArgument %q", st.Code(), st.Message(), want)
	}
}

// TestFaultSchemaBreaksAFieldRule proves the schema fault decodes into every
// example target (unknown fields rejected) and fails protovalidate.
func TestFaultSchemaBreaksAFieldRule(t *testing.T) {
	t.Parallel()
	v, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			for _, prompt := range prompts(20) {
				resp, err := synthetic.New().Complete(withPlan("schema", 1), request(tg.schema, prompt))
				if err != nil {
					t.Fatal(err)
				}
				msg := tg.msg()
				if err := protojson.Unmarshal([]byte(resp.GetContent()), msg); err != nil {
					t.Fatalf("protojson: %v\n%s", err, resp.GetContent())
				}
				var verr *protovalidate.ValidationError
				if err := v.Validate(msg); !errors.As(err, &verr) {
					t.Fatalf("protovalidate: %v, want a ValidationError\n%s", err, resp.GetContent())
				}
			}
		})
	}
}

// TestFaultUnknownFieldIsRejected shows the extra field is the only problem.
func TestFaultUnknownFieldIsRejected(t *testing.T) {
	t.Parallel()
	resp, err := synthetic.New().Complete(withPlan("unknown_field", 1), request(targets(t)[1].schema, prompt))
	if err != nil {
		t.Fatal(err)
	}
	if err := protojson.Unmarshal([]byte(resp.GetContent()), &examplesv1.IncidentReport{}); err == nil {
		t.Error("strict protojson accepted the unknown field")
	}
	lenient := protojson.UnmarshalOptions{DiscardUnknown: true}
	if err := lenient.Unmarshal([]byte(resp.GetContent()), &examplesv1.IncidentReport{}); err != nil {
		t.Errorf("lenient protojson: %v", err)
	}
}

// TestFaultsOverGRPC checks the plan and the status details cross a real
// gRPC transport.
func TestFaultsOverGRPC(t *testing.T) {
	t.Parallel()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	providerv1.RegisterProviderServiceServer(srv, synthetic.New())
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	client := providerv1.NewProviderServiceClient(conn)

	ctx := metadata.AppendToOutgoingContext(context.Background(),
		synthetic.FaultsMetadataKey, "rate_limit,ok", providers.CallMetadataKey, "1")
	_, err = client.Complete(ctx, request(targets(t)[0].schema, prompt))
	checkRateLimit(t, err, synthetic.DefaultRetryDelay)

	ctx = metadata.AppendToOutgoingContext(context.Background(),
		synthetic.FaultsMetadataKey, "rate_limit,ok", providers.CallMetadataKey, "2")
	resp, err := client.Complete(ctx, request(targets(t)[0].schema, prompt))
	if err != nil || resp.GetFinishReason() != providerv1.FinishReason_FINISH_REASON_STOP {
		t.Fatalf("second call: %v, %v", resp, err)
	}
}
