package server_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/guardgen/guardgen/classifier"
	examplesv1 "github.com/guardgen/guardgen/gen/guardgen/examples/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
	"github.com/guardgen/guardgen/server"
)

// repairOf is the part of a report repair the output tests compare: the
// detail is prose, and offsets are checked for the text's repairs only by
// being set.
type repairOf struct {
	Kind, Path string
	AtOffset   bool
}

// TestOpenAIOutputRepairs sends the malformed outputs through the
// whole provider path (openai-go against the local OpenAI-compatible
// server, the client interceptor chain, the gRPC server): each comes back
// OK, not degraded, as the message it means, with its repairs in the
// report, in one provider call.
func TestOpenAIOutputRepairs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		target  string
		content string
		want    proto.Message
		repairs []repairOf
	}{
		{
			name:    "quote in string",
			target:  "guardgen.examples.v1.ShellStep",
			content: `{"cmd": "echo "done" > log", "n": 1}`,
			want:    &examplesv1.ShellStep{Cmd: `echo "done" > log`, N: 1},
			repairs: []repairOf{{"inner_quote", "cmd", true}, {"inner_quote", "cmd", true}},
		},
		{
			name:    "unquoted values",
			target:  "guardgen.examples.v1.Person",
			content: `{name: Ada Lovelace, born: 1815, alive: false}`,
			want:    &examplesv1.Person{Name: "Ada Lovelace", Born: 1815},
			repairs: []repairOf{
				{"unquoted_key", "", true}, {"unquoted_value", "name", true},
				{"unquoted_key", "", true}, {"unquoted_key", "", true},
			},
		},
		{
			name:    "missing comma",
			target:  ticketType,
			content: `{"category": "billing" "priority": 2, "summary": "Charged twice for one order"}`,
			want:    &examplesv1.TicketClassification{Category: "billing", Priority: 2, Summary: "Charged twice for one order"},
			repairs: []repairOf{{"missing_comma", "", true}},
		},
		{
			name:    "key with spaces",
			target:  ticketType,
			content: `{"category": "technical", " Priority ": 3, "summary": "Export button does nothing"}`,
			want:    &examplesv1.TicketClassification{Category: "technical", Priority: 3, Summary: "Export button does nothing"},
			repairs: []repairOf{{"match_key", "priority", false}},
		},
		{
			name:    "yes as bool",
			target:  "guardgen.examples.v1.Person",
			content: `{"name": "Jane Goodall", "born": 1934, "alive": "yes"}`,
			want:    &examplesv1.Person{Name: "Jane Goodall", Born: 1934, Alive: true},
			repairs: []repairOf{{"coerce_bool", "alive", false}},
		},
		{
			name:    "JSON in a string",
			target:  "guardgen.examples.v1.TicketTags",
			content: `{"tags": "[\"urgent\", \"refund\"]"}`,
			want:    &examplesv1.TicketTags{Tags: []string{"urgent", "refund"}},
			repairs: []repairOf{{"parse_json_string", "tags", false}},
		},
		{
			name:    "bare array",
			target:  "guardgen.examples.v1.TicketTags",
			content: `["urgent", "refund"]`,
			want:    &examplesv1.TicketTags{Tags: []string{"urgent", "refund"}},
			repairs: []repairOf{{"fill_list", "tags", false}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := startOpenAI(t, nil, e2eEntry{chain: quickChain("openai")})
			h.up[0].srv.Enqueue(openaitest.Reply(tc.content))
			resp, err := h.generate(t, 10*time.Second, &guardgenv1.GenerateRequest{Prompt: "Answer the question", TargetType: tc.target})
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if resp.GetDegraded() {
				t.Errorf("degraded answer: %v", resp.GetDegradation())
			}
			got := tc.want.ProtoReflect().New().Interface()
			if err := protojson.Unmarshal([]byte(resp.GetJson()), got); err != nil {
				t.Fatalf("response json: %v", err)
			}
			if diff := cmp.Diff(tc.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("message mismatch (-want +got):\n%s", diff)
			}
			var repairs []repairOf
			for _, r := range resp.GetReport().GetRepairs() {
				repairs = append(repairs, repairOf{r.GetKind(), r.GetPath(), r.Offset != nil})
			}
			if diff := cmp.Diff(tc.repairs, repairs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("report repairs mismatch (-want +got):\n%s", diff)
			}
			if n := len(resp.GetReport().GetAttempts()); n != 1 {
				t.Errorf("%d provider calls, want 1", n)
			}
		})
	}
}

// TestOpenAIStrictPerRequest: options.strict_schema_mode overrides the
// configured mode for one request, either way.
func TestOpenAIStrictPerRequest(t *testing.T) {
	t.Parallel()
	const loose = `{"category": "technical", " Priority ": 3, "summary": "Export button does nothing"}`
	tests := []struct {
		name       string
		configured bool
		request    *bool
		want       codes.Code
		wantReason string // of the FailureDetail, or of nothing
		wantKinds  []string
	}{
		{name: "configured lenient, request strict", request: proto.Bool(true), want: codes.Aborted, wantReason: "SCHEMA_MISMATCH"},
		{name: "configured strict, request lenient", configured: true, request: proto.Bool(false), want: codes.OK, wantReason: "UNSPECIFIED", wantKinds: []string{"match_key"}},
		{name: "configured strict, request silent", configured: true, want: codes.Aborted, wantReason: "SCHEMA_MISMATCH"},
		{name: "configured lenient, request silent", want: codes.OK, wantReason: "UNSPECIFIED", wantKinds: []string{"match_key"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := startOpenAI(t, func(o *server.Options) {
				o.StrictSchema = tc.configured
			}, e2eEntry{chain: quickChain("openai")})
			h.up[0].srv.SetDefault(openaitest.Reply(loose))
			req := &guardgenv1.GenerateRequest{Prompt: ticketPrompt, TargetType: ticketType,
				Options: &guardgenv1.GenerateOptions{StrictSchemaMode: tc.request}}
			resp, err := h.generate(t, 10*time.Second, req)
			fd, _ := details(err)
			var kinds []string
			for _, r := range resp.GetReport().GetRepairs() {
				kinds = append(kinds, r.GetKind())
			}
			got := struct {
				Code   codes.Code
				Reason string
				Kinds  []string
			}{status.Code(err), classifier.ReasonName(fd.GetReason()), kinds}
			want := got
			want.Code, want.Reason, want.Kinds = tc.want, tc.wantReason, tc.wantKinds
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Generate mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
