package schema

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/reflect/protoreflect"

	examplesv1 "github.com/guardgen/guardgen/gen/guardgen/examples/v1"
)

// TestReads: the fields a rule reads are those it selects from this; any
// other use of this, or a name that is not a field, means unknown (nil).
func TestReads(t *testing.T) {
	md := (&examplesv1.IncidentReport{}).ProtoReflect().Descriptor()
	for _, tt := range []struct {
		expr string
		want []protoreflect.Name
	}{
		{"this.severity != 4 || this.customer_impact_count > 0", []protoreflect.Name{"severity", "customer_impact_count"}},
		{"!has(this.resolved_at) || this.resolved_at >= this.detected_at", []protoreflect.Name{"resolved_at", "resolved_at", "detected_at"}},
		{"this.services.all(s, s.name != '')", []protoreflect.Name{"services"}},
		{"size(this.labels) < 3 && this.title.startsWith('x')", []protoreflect.Name{"labels", "title"}},
		{"this == this", nil},
		{"dyn(this).title != ''", nil},
		{"this.no_such_field > 0", nil},
		{"1 < 2", nil},
		{"this.(", nil},
	} {
		if diff := cmp.Diff(tt.want, reads(md, tt.expr)); diff != "" {
			t.Errorf("reads(%q) (-want +got):\n%s", tt.expr, diff)
		}
	}
}
