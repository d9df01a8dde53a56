package synthetic_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"buf.build/go/protovalidate"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	examplesv1 "github.com/guardgen/guardgen/gen/guardgen/examples/v1"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/providers/synthetic"
)

// target is an example message type with its hand-written JSON Schema
// (testdata/*.schema.json, in the dialect guardgen derives).
type target struct {
	name   string
	schema string
	msg    func() proto.Message
}

func targets(t testing.TB) []target {
	t.Helper()
	return []target{
		{"TicketClassification", readSchema(t, "ticket_classification"), func() proto.Message { return &examplesv1.TicketClassification{} }},
		{"IncidentReport", readSchema(t, "incident_report"), func() proto.Message { return &examplesv1.IncidentReport{} }},
		{"TaskTree", readSchema(t, "task_tree"), func() proto.Message { return &examplesv1.TaskTree{} }},
	}
}

func readSchema(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func request(schema, prompt string) *providerv1.CompleteRequest {
	return &providerv1.CompleteRequest{
		Messages: []*providerv1.Message{
			{Role: providerv1.Role_ROLE_SYSTEM, Content: "Answer with JSON only."},
			{Role: providerv1.Role_ROLE_USER, Content: prompt},
		},
		OutputSchema: &providerv1.OutputSchema{Name: "target", JsonSchema: schema, Strict: true},
	}
}

// withPlan returns a context carrying a fault plan and a call number, as
// guardgen's provider client sends them.
func withPlan(plan string, call int) context.Context {
	return metadata.NewIncomingContext(context.Background(), metadata.Pairs(
		synthetic.FaultsMetadataKey, plan,
		providers.CallMetadataKey, fmt.Sprint(call),
	))
}

// prompts returns n distinct prompts, some with punctuation only, accents,
// CJK and quotes.
func prompts(n int) []string {
	subjects := []string{
		"I was charged twice for my subscription",
		"The app crashes when I upload a photo",
		"Please reset my password, I'm locked out",
		"Checkout API returns 502 for EU customers since 09:14 UTC",
		"Plan the migration of the billing database",
		"Café résumé: naïve façade — Zürich",
		"支払いが二重に請求されました",
		"\"quoted\" \\ back\\slash \t tab",
		"!!! ??? ...",
		"",
	}
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s (case %d)", subjects[i%len(subjects)], i)
	}
	return out
}

func validate(t *testing.T, v protovalidate.Validator, tg target, content string) {
	t.Helper()
	msg := tg.msg()
	if err := protojson.Unmarshal([]byte(content), msg); err != nil {
		t.Fatalf("%s: protojson: %v\n%s", tg.name, err, content)
	}
	if err := v.Validate(msg); err != nil {
		t.Fatalf("%s: protovalidate: %v\n%s", tg.name, err, content)
	}
}

func TestCompleteValidInstances(t *testing.T) {
	t.Parallel()
	v, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	p := synthetic.New()
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			for _, prompt := range prompts(200) {
				resp, err := p.Complete(context.Background(), request(tg.schema, prompt))
				if err != nil {
					t.Fatal(err)
				}
				if resp.GetFinishReason() != providerv1.FinishReason_FINISH_REASON_STOP {
					t.Fatalf("finish reason %v", resp.GetFinishReason())
				}
				validate(t, v, tg, resp.GetContent())
			}
		})
	}
}

func TestCompleteKeepsSchemaOrder(t *testing.T) {
	t.Parallel()
	resp, err := synthetic.New().Complete(context.Background(), request(targets(t)[0].schema, "my invoice is wrong"))
	if err != nil {
		t.Fatal(err)
	}
	c := resp.GetContent()
	if !(strings.Index(c, `"category"`) < strings.Index(c, `"priority"`) &&
		strings.Index(c, `"priority"`) < strings.Index(c, `"summary"`)) {
		t.Errorf("properties out of schema order: %s", c)
	}
}

func TestCompleteIsDeterministic(t *testing.T) {
	t.Parallel()
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			seen := map[string]bool{}
			for _, prompt := range prompts(50) {
				// Two providers: the answer depends on the prompt, not on state.
				a, err := synthetic.New().Complete(context.Background(), request(tg.schema, prompt))
				if err != nil {
					t.Fatal(err)
				}
				b, err := synthetic.New().Complete(context.Background(), request(tg.schema, prompt))
				if err != nil {
					t.Fatal(err)
				}
				if a.GetContent() != b.GetContent() {
					t.Fatalf("same prompt, different content:\n%s\n%s", a.GetContent(), b.GetContent())
				}
				seen[a.GetContent()] = true
			}
			if len(seen) < 40 {
				t.Errorf("50 prompts gave %d distinct instances, want at least 40", len(seen))
			}
		})
	}
}

func TestCompleteDateTimesIncrease(t *testing.T) {
	t.Parallel()
	for _, prompt := range prompts(50) {
		resp, err := synthetic.New().Complete(context.Background(), request(targets(t)[1].schema, prompt))
		if err != nil {
			t.Fatal(err)
		}
		var prev time.Time
		for _, s := range strings.Split(resp.GetContent(), `"`) {
			ts, err := time.Parse(time.RFC3339, s)
			if err != nil {
				continue
			}
			if !ts.After(prev) {
				t.Fatalf("date-time %s not after %s: %s", ts, prev, resp.GetContent())
			}
			prev = ts
		}
		if prev.IsZero() {
			t.Fatalf("no date-time in %s", resp.GetContent())
		}
	}
}

func TestCompleteRecursionEnds(t *testing.T) {
	t.Parallel()
	for _, prompt := range prompts(50) {
		resp, err := synthetic.New().Complete(context.Background(), request(targets(t)[2].schema, prompt))
		if err != nil {
			t.Fatal(err)
		}
		var tree examplesv1.TaskTree
		if err := protojson.Unmarshal([]byte(resp.GetContent()), &tree); err != nil {
			t.Fatal(err)
		}
		if d := depth(&tree); d < 2 || d > 5 {
			t.Fatalf("tree depth %d, want 2..5: %s", d, resp.GetContent())
		}
	}
}

func depth(t *examplesv1.TaskTree) int {
	d := 0
	for _, s := range t.GetSubtasks() {
		d = max(d, depth(s))
	}
	return d + 1
}

func TestCompleteModelAndUsage(t *testing.T) {
	t.Parallel()
	schema := targets(t)[0].schema
	req := request(schema, "twelve chars")
	resp, err := synthetic.New().Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetModel() != synthetic.Model {
		t.Errorf("model %q, want %q", resp.GetModel(), synthetic.Model)
	}
	u := resp.GetUsage()
	wantIn := int64(len("Answer with JSON only.")+len("twelve chars")) / 4
	wantOut := int64(len(resp.GetContent()) / 4)
	if u.GetInputTokens() != wantIn || u.GetOutputTokens() != wantOut || u.GetTotalTokens() != wantIn+wantOut {
		t.Errorf("usage %v, want input %d output %d", u, wantIn, wantOut)
	}

	req.Model = "custom-model"
	resp, err = synthetic.New().Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetModel() != "custom-model" {
		t.Errorf("model %q, want the request's", resp.GetModel())
	}
}

// TestCompleteStopsAtTokenLimit: an answer longer than the request's
// token limit is cut there with finish reason LENGTH; one within it is
// whole.
func TestCompleteStopsAtTokenLimit(t *testing.T) {
	t.Parallel()
	req := request(targets(t)[0].schema, "twelve chars")
	whole, err := synthetic.New().Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	req.Sampling = &providerv1.SamplingOptions{MaxOutputTokens: 1}
	cut, err := synthetic.New().Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if cut.GetFinishReason() != providerv1.FinishReason_FINISH_REASON_LENGTH || cut.GetContent() != whole.GetContent()[:4] {
		t.Errorf("limit 1: %s %q, want LENGTH and the first 4 characters of %q", cut.GetFinishReason(), cut.GetContent(), whole.GetContent())
	}
	req.Sampling.MaxOutputTokens = uint32(len(whole.GetContent()))
	if resp, err := synthetic.New().Complete(context.Background(), req); err != nil || resp.GetContent() != whole.GetContent() ||
		resp.GetFinishReason() != providerv1.FinishReason_FINISH_REASON_STOP {
		t.Errorf("ample limit: %v, %v; want the whole answer", resp, err)
	}
}

func TestCompleteRejectsBadSchemas(t *testing.T) {
	t.Parallel()
	for name, schema := range map[string]string{
		"empty":       "",
		"not JSON":    "{",
		"not object":  "[]",
		"bad ref":     `{"type":"object","properties":{"a":{"$ref":"#/$defs/missing"}}}`,
		"bad pattern": `{"type":"object","properties":{"a":{"type":"string","pattern":"("}}}`,
		"trailing":    `{} {}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := synthetic.New().Complete(context.Background(), request(schema, "x"))
			if code := statusCode(err); code != "InvalidArgument" {
				t.Errorf("code %s (%v), want InvalidArgument", code, err)
			}
		})
	}
}

// TestCompleteDialect covers keywords the example targets do not use.
func TestCompleteDialect(t *testing.T) {
	t.Parallel()
	schema := `{
	  "type": "object",
	  "properties": {
	    "id": {"type": "string", "format": "uuid"},
	    "host": {"type": "string", "format": "hostname"},
	    "v4": {"type": "string", "format": "ipv4"},
	    "v6": {"type": "string", "format": "ipv6"},
	    "site": {"type": "string", "format": "uri"},
	    "day": {"type": "string", "format": "date"},
	    "blob": {"type": "string", "contentEncoding": "base64"},
	    "ratio": {"type": ["number", "null"], "exclusiveMinimum": 0, "exclusiveMaximum": 1},
	    "neg": {"type": "integer", "maximum": -5},
	    "big": {"type": "integer", "minimum": 1000},
	    "kind": {"const": "fixed"},
	    "flag": {"type": "boolean"},
	    "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]}, "minItems": 2, "maxItems": 3, "uniqueItems": true},
	    "code": {"type": "string", "pattern": "^[A-Z]{3}-\\d{2,4}(x|y)?$", "maxLength": 9},
	    "next": {"anyOf": [{"$ref": "#"}, {"type": "null"}]}
	  },
	  "required": ["id", "next"],
	  "additionalProperties": false
	}`
	for _, prompt := range prompts(30) {
		resp, err := synthetic.New().Complete(context.Background(), request(schema, prompt))
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(resp.GetContent()), &got); err != nil {
			t.Fatalf("%v: %s", err, resp.GetContent())
		}
		ratio := got["ratio"].(float64)
		tags := got["tags"].([]any)
		if ratio <= 0 || ratio >= 1 || got["neg"].(float64) > -5 || got["big"].(float64) < 1000 ||
			got["kind"] != "fixed" || len(tags) < 2 || tags[0] == tags[1] {
			t.Fatalf("bounds not kept: %s", resp.GetContent())
		}
	}
}
