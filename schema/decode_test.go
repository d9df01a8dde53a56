package schema

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	examplesv1 "github.com/guardgen/guardgen/gen/guardgen/examples/v1"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	r := newResolver(t, Options{})
	const (
		ticket   = "guardgen.examples.v1.TicketClassification"
		incident = "guardgen.examples.v1.IncidentReport"
	)
	detected := &timestamppb.Timestamp{Seconds: 1714557600} // 2024-05-01T10:00:00Z
	tests := []struct {
		desc        string
		target      string
		json        string
		strict      bool
		want        proto.Message
		wantChanges []Change
		wantErr     *DecodeError
	}{
		{
			desc:   "fast path",
			target: ticket,
			json:   `{"category":"billing","priority":3,"summary":"Customer was charged twice"}`,
			want:   &examplesv1.TicketClassification{Category: "billing", Priority: 3, Summary: "Customer was charged twice"},
		},
		{
			desc:   "proto field names",
			target: incident,
			json:   `{"detected_at":"2024-05-01T10:00:00Z","customer_impact_count":"7"}`,
			want:   &examplesv1.IncidentReport{DetectedAt: detected, CustomerImpactCount: 7},
		},
		{
			desc:        "unknown field dropped",
			target:      ticket,
			json:        `{"category":"billing","confidence":0.9,"priority":3,"summary":"s"}`,
			want:        &examplesv1.TicketClassification{Category: "billing", Priority: 3, Summary: "s"},
			wantChanges: []Change{drop("confidence")},
		},
		{
			desc:   "nested unknown fields dropped in document order",
			target: incident,
			json: `{"title":"Outage","services":[{"name":"api"},{"name":"db","foo":{"x":[1]}}],` +
				`"timeline":[{"event":"paged","by":"bot"}],"extra key":1}`,
			want: &examplesv1.IncidentReport{
				Title:    "Outage",
				Services: []*examplesv1.AffectedService{{Name: "api"}, {Name: "db"}},
				Timeline: []*examplesv1.TimelineEntry{{Event: "paged"}},
			},
			wantChanges: []Change{drop("services[1].foo"), drop("timeline[0].by"), drop(`["extra key"]`)},
		},
		{
			desc:    "unknown field is an error when strict",
			target:  ticket,
			json:    `{"category":"billing","priority":3,"summary":"s","confidence":0.9}`,
			strict:  true,
			wantErr: &DecodeError{Path: "confidence", Reason: "unknown field"},
		},
		{
			desc:    "wrong type",
			target:  ticket,
			json:    `{"category":"billing","priority":"high","summary":"s"}`,
			wantErr: &DecodeError{Path: "priority", Reason: "expected an integer in the int32 range"},
		},
		{
			desc:    "wrong type wins over an unknown field",
			target:  incident,
			json:    `{"foo":1,"services":[{"name":"api","errorRatePercent":"lots"}]}`,
			wantErr: &DecodeError{Path: "services[0].errorRatePercent", Reason: "expected a number"},
		},
		{
			desc:    "int32 out of range",
			target:  ticket,
			json:    `{"priority":3000000000}`,
			wantErr: &DecodeError{Path: "priority", Reason: "expected an integer in the int32 range"},
		},
		{
			desc:        "integers as strings and in exponent form",
			target:      incident,
			json:        `{"customerImpactCount":"9007199254740993","timeline":[],"foo":null}`,
			want:        &examplesv1.IncidentReport{CustomerImpactCount: 9007199254740993},
			wantChanges: []Change{drop("foo")},
		},
		{
			desc:   "64-bit integer as a number",
			target: incident,
			json:   `{"customerImpactCount":12e1}`,
			want:   &examplesv1.IncidentReport{CustomerImpactCount: 120},
		},
		{
			desc:    "64-bit integer with a fraction",
			target:  incident,
			json:    `{"customerImpactCount":"1.5","bar":1}`,
			wantErr: &DecodeError{Path: "customerImpactCount", Reason: "expected an integer (a decimal string) in the int64 range"},
		},
		{
			desc:   "enum by name and by number",
			target: incident,
			json:   `{"severity":"SEVERITY_HIGH"}`,
			want:   &examplesv1.IncidentReport{Severity: examplesv1.Severity_SEVERITY_HIGH},
		},
		{
			desc:   "enum by number",
			target: incident,
			json:   `{"severity":2}`,
			want:   &examplesv1.IncidentReport{Severity: examplesv1.Severity_SEVERITY_MEDIUM},
		},
		{
			desc:   "unknown enum name is an error, not a silent zero",
			target: incident,
			json:   `{"severity":"URGENT","extra":true}`,
			wantErr: &DecodeError{Path: "severity", Reason: "not a value of guardgen.examples.v1.Severity; expected one of " +
				"SEVERITY_UNSPECIFIED, SEVERITY_LOW, SEVERITY_MEDIUM, SEVERITY_HIGH, SEVERITY_CRITICAL"},
		},
		{
			desc:   "timestamp",
			target: incident,
			json:   `{"detectedAt":"2024-05-01T12:00:00+02:00","labels":{"team":"payments"}}`,
			want:   &examplesv1.IncidentReport{DetectedAt: detected, Labels: map[string]string{"team": "payments"}},
		},
		{
			desc:    "bad timestamp",
			target:  incident,
			json:    `{"timeline":[{"at":"yesterday"}]}`,
			wantErr: &DecodeError{Path: "timeline[0].at", Reason: "expected an RFC 3339 timestamp such as 2024-01-02T15:04:05Z"},
		},
		{
			desc:    "map value of the wrong type",
			target:  incident,
			json:    `{"labels":{"team":5}}`,
			wantErr: &DecodeError{Path: `labels["team"]`, Reason: "expected a string"},
		},
		{
			desc:    "two members of a oneof",
			target:  incident,
			json:    `{"team":"sre","oncallEmail":"a@example.com"}`,
			wantErr: &DecodeError{Path: "oncallEmail", Reason: "only one of team, oncallEmail may be set"},
		},
		{
			desc:    "duplicate field",
			target:  ticket,
			json:    `{"priority":1,"priority":2}`,
			wantErr: &DecodeError{Path: "priority", Reason: "duplicate field"},
		},
		{
			desc:    "list expected",
			target:  incident,
			json:    `{"services":"api"}`,
			wantErr: &DecodeError{Path: "services", Reason: "expected an array"},
		},
		{
			desc:    "a single value is wrapped in a list before it is checked",
			target:  incident,
			json:    `{"services":{"name":5}}`,
			wantErr: &DecodeError{Path: "services[0].name", Reason: "expected a string"},
		},
		{
			desc:    "not an object",
			target:  ticket,
			json:    `["billing"]`,
			wantErr: &DecodeError{Reason: "expected an object"},
		},
		{
			desc:    "malformed JSON",
			target:  ticket,
			json:    `{"category":"billing",}`,
			wantErr: &DecodeError{Reason: "malformed JSON at byte 22"},
		},
		{
			desc:    "truncated JSON",
			target:  ticket,
			json:    `{"category":"bil`,
			wantErr: &DecodeError{Reason: "the JSON ends early"},
		},
		{
			desc:    "data after the value",
			target:  ticket,
			json:    `{"category":"billing"} {}`,
			wantErr: &DecodeError{Reason: "unexpected data after the JSON value"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			tg := resolve(t, r, tt.target, nil)
			got, changes, err := tg.Decode([]byte(tt.json), DecodeOptions{Strict: tt.strict})
			var derr *DecodeError
			if err != nil {
				derr, _ = err.(*DecodeError)
			}
			if diff := cmp.Diff(tt.wantErr, derr); diff != "" || (err != nil && derr == nil) {
				t.Fatalf("Decode() error = %v, mismatch (-want +got):\n%s", err, diff)
			}
			if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("Decode() message mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantChanges, changes); diff != "" {
				t.Errorf("Decode() changes mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeRequestTarget(t *testing.T) {
	t.Parallel()
	tg := resolve(t, newResolver(t, Options{}), "acme.v1.Order", orderSet(t))
	got, changes, err := tg.Decode([]byte(`{"items":[{"sku":"ABC-1234","quantity":2,"color":"red"}],"status":"STATUS_OPEN"}`), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Change{drop("items[0].color")}, changes); diff != "" {
		t.Errorf("changes mismatch (-want +got):\n%s", diff)
	}
	items := got.ProtoReflect().Get(tg.Desc.Fields().ByName("items")).List()
	if items.Len() != 1 {
		t.Errorf("decoded %d items, want 1", items.Len())
	}
	_, _, err = tg.Decode([]byte(`{"status":"STATUS_LOST"}`), DecodeOptions{})
	want := &DecodeError{Path: "status", Reason: "not a value of acme.v1.Status; expected one of STATUS_UNSPECIFIED, STATUS_OPEN, STATUS_SHIPPED"}
	if diff := cmp.Diff(error(want), err); diff != "" {
		t.Errorf("Decode() error mismatch (-want +got):\n%s", diff)
	}
}

func TestDecodeWellKnownAndScalars(t *testing.T) {
	t.Parallel()
	sink := compileSet(t, map[string]string{"kitchen/v1/sink.proto": sinkProto}, "kitchen/v1/sink.proto")
	tg := resolve(t, newResolver(t, Options{}), "kitchen.v1.Sink", sink)
	tests := []struct {
		desc        string
		json        string
		wantChanges []Change
		wantErr     *DecodeError
	}{
		{desc: "durations, wrappers, struct, value, list, mask, empty, null", json: `{"timeout":"1.5s","maybe":7,` +
			`"attrs":{"k":[1,{"x":null}]},"anything":null,"list":[1,"a",null],"mask":"a,b.c","nothing":{},"nul":null}`},
		{desc: "any holding a well-known type", json: `{"extra":{"@type":"type.googleapis.com/google.protobuf.Duration","value":"2s"}}`},
		{desc: "any holding a message, with an unknown field", json: `{"extra":{"@type":"type.googleapis.com/kitchen.v1.Inner","more":[{}],"zzz":1}}`,
			wantChanges: []Change{drop("extra.zzz")}},
		{desc: "floats as strings", json: `{"ratio":"NaN","d":"-Infinity","extra2":0}`, wantChanges: []Change{drop("extra2")}},
		{desc: "map keys", json: `{"children":{"12":{},"-3":{"a":"x"}},"switches":{"true":"on"}}`},
		{desc: "bad duration", json: `{"timeout":"90 minutes","x1":0}`,
			wantErr: &DecodeError{Path: "timeout", Reason: `expected a duration in seconds such as "1.5s"`}},
		{desc: "bad wrapper", json: `{"maybe":"seven","x1":0}`,
			wantErr: &DecodeError{Path: "maybe", Reason: "expected an integer in the int32 range"}},
		{desc: "bad struct", json: `{"attrs":[],"x1":0}`, wantErr: &DecodeError{Path: "attrs", Reason: "expected an object"}},
		{desc: "bad list value", json: `{"list":{},"x1":0}`, wantErr: &DecodeError{Path: "list", Reason: "expected an array"}},
		{desc: "bad field mask", json: `{"mask":1,"x1":0}`,
			wantErr: &DecodeError{Path: "mask", Reason: "expected a string of comma-separated field paths"}},
		{desc: "any with an unknown type", json: `{"extra":{"@type":"type.googleapis.com/x.Y"}}`,
			wantErr: &DecodeError{Path: `extra["@type"]`, Reason: "unknown type URL"}},
		{desc: "any without a type", json: `{"extra":{"value":"2s"}}`,
			wantErr: &DecodeError{Path: `extra["@type"]`, Reason: "expected a type URL string"}},
		{desc: "bad base64", json: `{"blob":"***","x1":0}`, wantErr: &DecodeError{Path: "blob", Reason: "expected base64 text"}},
		{desc: "bad bool", json: `{"flag":"maybe","x1":0}`, wantErr: &DecodeError{Path: "flag", Reason: "expected true or false"}},
		{desc: "negative uint64", json: `{"u64":"-1","x1":0}`,
			wantErr: &DecodeError{Path: "u64", Reason: "expected an integer (a decimal string) in the uint64 range"}},
		{desc: "int map key", json: `{"children":{"abc":{}},"x1":0}`,
			wantErr: &DecodeError{Path: `children["abc"]`, Reason: "map key is not a int64"}},
		{desc: "bool map key", json: `{"switches":{"yes":"on"},"x1":0}`,
			wantErr: &DecodeError{Path: `switches["yes"]`, Reason: "map key is not a bool"}},
		{desc: "null in a list", json: `{"tags":["a",null],"x1":0}`,
			wantErr: &DecodeError{Path: "tags[1]", Reason: "null is not allowed in a list"}},
		{desc: "recursion", json: `{"inner":{"back":{"children":{"1":{"i32":"x"}}}}}`,
			wantErr: &DecodeError{Path: `inner.back.children["1"].i32`, Reason: "expected an integer in the int32 range"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			_, changes, err := tg.Decode([]byte(tt.json), DecodeOptions{})
			var derr *DecodeError
			if err != nil {
				derr, _ = err.(*DecodeError)
			}
			if diff := cmp.Diff(tt.wantErr, derr); diff != "" || (err != nil && derr == nil) {
				t.Fatalf("Decode() error = %v, mismatch (-want +got):\n%s", err, diff)
			}
			if diff := cmp.Diff(tt.wantChanges, changes); diff != "" {
				t.Errorf("Decode() changes mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// drop is the change an unknown field at path makes.
func drop(path string) Change {
	return Change{Kind: ChangeDropUnknownField, Path: path, Detail: "no field has this name: dropped"}
}
