package schema

import (
	"testing"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

func TestRules(t *testing.T) {
	t.Parallel()
	r := newResolver(t, Options{})
	fieldRules := func(path string, b validatepb.FieldRules_builder) *guardgenv1.FieldRules {
		return &guardgenv1.FieldRules{Path: path, Rules: b.Build()}
	}
	str := func(minLen, maxLen uint64) *validatepb.StringRules {
		return validatepb.StringRules_builder{MinLen: proto.Uint64(minLen), MaxLen: proto.Uint64(maxLen)}.Build()
	}
	tests := []struct {
		target    string
		wantField []*guardgenv1.FieldRules
		wantRules []*validatepb.Rule
	}{
		{
			target: "guardgen.examples.v1.TaskTree",
			wantField: []*guardgenv1.FieldRules{
				fieldRules("title", validatepb.FieldRules_builder{String: str(1, 200)}),
				fieldRules("estimateMinutes", validatepb.FieldRules_builder{
					Uint32: validatepb.UInt32Rules_builder{Lte: proto.Uint32(10080)}.Build(),
				}),
				fieldRules("subtasks", validatepb.FieldRules_builder{
					Repeated: validatepb.RepeatedRules_builder{MaxItems: proto.Uint64(10)}.Build(),
				}),
			},
		},
		{
			target: "guardgen.examples.v1.IncidentReport",
			wantField: []*guardgenv1.FieldRules{
				fieldRules("title", validatepb.FieldRules_builder{String: str(3, 200)}),
				fieldRules("severity", validatepb.FieldRules_builder{
					Enum: validatepb.EnumRules_builder{DefinedOnly: proto.Bool(true), NotIn: []int32{0}}.Build(),
				}),
				fieldRules("detectedAt", validatepb.FieldRules_builder{Required: proto.Bool(true)}),
				fieldRules("services", validatepb.FieldRules_builder{
					Repeated: validatepb.RepeatedRules_builder{MinItems: proto.Uint64(1), MaxItems: proto.Uint64(20)}.Build(),
				}),
				fieldRules("services.name", validatepb.FieldRules_builder{String: str(1, 100)}),
				fieldRules("services.region", validatepb.FieldRules_builder{
					String: validatepb.StringRules_builder{Pattern: proto.String("^[a-z]{2}-[a-z]+-[0-9]$")}.Build(),
				}),
				fieldRules("services.errorRatePercent", validatepb.FieldRules_builder{
					Double: validatepb.DoubleRules_builder{Gte: proto.Float64(0), Lte: proto.Float64(100)}.Build(),
				}),
				fieldRules("labels", validatepb.FieldRules_builder{
					Map: validatepb.MapRules_builder{
						MaxPairs: proto.Uint64(16),
						Keys: validatepb.FieldRules_builder{
							String: validatepb.StringRules_builder{Pattern: proto.String("^[a-z][a-z0-9_]{0,31}$")}.Build(),
						}.Build(),
						Values: validatepb.FieldRules_builder{
							String: validatepb.StringRules_builder{MaxLen: proto.Uint64(64)}.Build(),
						}.Build(),
					}.Build(),
				}),
				fieldRules("team", validatepb.FieldRules_builder{String: str(2, 64)}),
				fieldRules("oncallEmail", validatepb.FieldRules_builder{
					String: validatepb.StringRules_builder{Email: proto.Bool(true)}.Build(),
				}),
				fieldRules("customerImpactCount", validatepb.FieldRules_builder{
					Int64: validatepb.Int64Rules_builder{Gte: proto.Int64(0)}.Build(),
				}),
				fieldRules("timeline", validatepb.FieldRules_builder{
					Repeated: validatepb.RepeatedRules_builder{MaxItems: proto.Uint64(50)}.Build(),
				}),
				fieldRules("timeline.at", validatepb.FieldRules_builder{Required: proto.Bool(true)}),
				fieldRules("timeline.event", validatepb.FieldRules_builder{String: str(1, 500)}),
			},
			wantRules: []*validatepb.Rule{
				validatepb.Rule_builder{
					Id:         proto.String("incident.resolved_after_detected"),
					Message:    proto.String("resolved_at must not be before detected_at"),
					Expression: proto.String("!has(this.resolved_at) || this.resolved_at >= this.detected_at"),
				}.Build(),
				validatepb.Rule_builder{
					Id:         proto.String("incident.critical_needs_impact"),
					Message:    proto.String("a critical incident must state its customer impact"),
					Expression: proto.String("this.severity != 4 || this.customer_impact_count > 0"),
				}.Build(),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			t.Parallel()
			fields, rules := resolve(t, r, tt.target, nil).Rules()
			if diff := cmp.Diff(tt.wantField, fields, protocmp.Transform()); diff != "" {
				t.Errorf("field rules mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRules, rules, protocmp.Transform()); diff != "" {
				t.Errorf("message rules mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRulesAreCopies(t *testing.T) {
	t.Parallel()
	tg := resolve(t, newResolver(t, Options{}), "guardgen.examples.v1.TicketClassification", nil)
	fields, _ := tg.Rules()
	fields[0].GetRules().GetString().SetIn(nil)
	again, _ := tg.Rules()
	if len(again[0].GetRules().GetString().GetIn()) != 4 {
		t.Error("changing the result of Rules() changed the target's rules")
	}
}
