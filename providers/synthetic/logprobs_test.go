package synthetic_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/providers/synthetic"
)

// TestLogprobs checks that the tokens spell the content, that a confident
// answer stays confident, and that low_confidence:FIELD lowers tokens only
// when the target has that field.
func TestLogprobs(t *testing.T) {
	t.Parallel()
	p := synthetic.New()
	ts := targets(t)
	tests := []struct {
		target  target
		plan    string
		wantLow bool
	}{
		{ts[0], "ok", false},
		{ts[0], "low_confidence:priority", true},
		{ts[0], "low_confidence:services.name", false},
		{ts[1], "low_confidence:services.name", true},
		{ts[1], "low_confidence:priority", false},
		{ts[2], "low_confidence", true},
	}
	for _, tt := range tests {
		t.Run(tt.target.name+"/"+tt.plan, func(t *testing.T) {
			t.Parallel()
			req := request(tt.target.schema, prompt)
			req.Logprobs = true
			resp, err := p.Complete(withPlan(tt.plan, 1), req)
			if err != nil {
				t.Fatal(err)
			}
			var spelled strings.Builder
			low, confident := 0, 0
			for _, tok := range resp.GetLogprobs() {
				spelled.Write(tok.GetToken())
				if tok.GetLogprob() == math.Log(synthetic.LowConfidence) {
					low++
				}
				if lp := tok.GetLogprob(); lp <= 0 && lp >= math.Log(0.998) {
					confident++
				}
			}
			if spelled.String() != resp.GetContent() {
				t.Fatalf("tokens spell\n%s\nnot the content\n%s", spelled.String(), resp.GetContent())
			}
			if low+confident != len(resp.GetLogprobs()) || (low > 0) != tt.wantLow {
				t.Errorf("%d low and %d confident of %d tokens; want low tokens: %v", low, confident, len(resp.GetLogprobs()), tt.wantLow)
			}
		})
	}
}

func TestLogprobsLowerOnlyTheField(t *testing.T) {
	t.Parallel()
	req := request(targets(t)[0].schema, prompt)
	req.Logprobs = true
	resp, err := synthetic.New().Complete(withPlan("low_confidence:priority", 1), req)
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Priority json.Number }
	if err := json.Unmarshal([]byte(resp.GetContent()), &v); err != nil {
		t.Fatal(err)
	}
	var lowText strings.Builder
	for _, tok := range resp.GetLogprobs() {
		if tok.GetLogprob() == math.Log(synthetic.LowConfidence) {
			lowText.Write(tok.GetToken())
		}
	}
	if lowText.String() != string(v.Priority) {
		t.Errorf("low-confidence tokens spell %q, want the priority %q", lowText.String(), v.Priority)
	}
}

func TestVerification(t *testing.T) {
	t.Parallel()
	verdictSchema := `{"type":"object","properties":{"supported":{"type":"boolean"},"reason":{"type":"string"}}}`
	p := synthetic.New()
	tests := []struct {
		plan      string
		supported bool
		reason    string
	}{
		{"ok", true, synthetic.SupportedReason},
		{"verify_reject", false, synthetic.RejectedReason},
	}
	for _, tt := range tests {
		req := request(verdictSchema, prompt)
		req.Purpose = providerv1.Purpose_PURPOSE_VERIFICATION
		resp, err := p.Complete(withPlan(tt.plan, 1), req)
		if err != nil {
			t.Fatalf("%s: %v", tt.plan, err)
		}
		var v struct {
			Supported bool
			Reason    string
		}
		if err := json.Unmarshal([]byte(resp.GetContent()), &v); err != nil || v.Supported != tt.supported || v.Reason != tt.reason {
			t.Errorf("%s: verdict %s (%v), want supported %v, reason %q", tt.plan, resp.GetContent(), err, tt.supported, tt.reason)
		}
	}
	if _, err := p.Complete(withPlan("low_confidence:x:y,ok:arg", 2), request(verdictSchema, prompt)); statusCode(err) != "InvalidArgument" {
		t.Errorf("an argument to ok: %v, want InvalidArgument", err)
	}
}
