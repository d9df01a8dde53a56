package synthetic_test

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/encoding/protojson"

	examplesv1 "github.com/guardgen/guardgen/gen/guardgen/examples/v1"
	"github.com/guardgen/guardgen/providers/synthetic"
)

// dateTime matches the RFC 3339 date-times the provider writes.
var dateTime = regexp.MustCompile(`"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"`)

// TestFaultBusinessRuleBreaksOnlyTheOrdering proves the business_rule fault
// is the valid instance with its date-times reversed in order: it decodes
// strictly, passes every field rule, and fails exactly the message-level
// rule incident.resolved_after_detected.
func TestFaultBusinessRuleBreaksOnlyTheOrdering(t *testing.T) {
	t.Parallel()
	v, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	schema := targets(t)[1].schema
	for _, prompt := range prompts(20) {
		ok, err := synthetic.New().Complete(context.Background(), request(schema, prompt))
		if err != nil {
			t.Fatal(err)
		}
		bad, err := synthetic.New().Complete(withPlan("business_rule", 1), request(schema, prompt))
		if err != nil {
			t.Fatal(err)
		}
		content := bad.GetContent()
		if a, b := dateTime.ReplaceAllString(ok.GetContent(), "T"), dateTime.ReplaceAllString(content, "T"); a != b {
			t.Fatalf("business_rule changed more than date-times:\n%s\n%s", ok.GetContent(), content)
		}
		var prev time.Time
		for i, s := range dateTime.FindAllString(content, -1) {
			ts, err := time.Parse(`"`+time.RFC3339+`"`, s)
			if err != nil {
				t.Fatal(err)
			}
			if i > 0 && !ts.Before(prev) {
				t.Fatalf("date-time %s not before %s: %s", ts, prev, content)
			}
			prev = ts
		}
		var report examplesv1.IncidentReport
		if err := protojson.Unmarshal([]byte(content), &report); err != nil {
			t.Fatalf("protojson: %v\n%s", err, content)
		}
		var verr *protovalidate.ValidationError
		if err := v.Validate(&report); !errors.As(err, &verr) {
			t.Fatalf("protovalidate: %v, want a ValidationError\n%s", err, content)
		}
		if len(verr.Violations) != 1 || verr.Violations[0].Proto.GetRuleId() != "incident.resolved_after_detected" {
			t.Errorf("violations = %v, want only incident.resolved_after_detected", verr.Violations)
		}
	}
}
