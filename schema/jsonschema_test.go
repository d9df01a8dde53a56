package schema

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"google.golang.org/protobuf/types/descriptorpb"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const sinkProto = `syntax = "proto3";

package kitchen.v1;

import "buf/validate/validate.proto";
import "google/protobuf/any.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/empty.proto";
import "google/protobuf/field_mask.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

// Sink exercises every mapping from protobuf and protovalidate to JSON
// Schema.
message Sink {
  option (buf.validate.message).oneof = {fields: ["a", "b"], required: true};
  option (buf.validate.message).cel = {
    id: "sink.ratio_flag"
    expression: "this.ratio < 0.5 || this.flag"
  };

  string a = 1;
  string b = 2;
  // i32 is outside 5..10.
  int32 i32 = 3 [(buf.validate.field).int32 = {gt: 10, lt: 5}];
  sint64 s64 = 4 [(buf.validate.field).sint64 = {in: [1, 2, 3]}];
  uint64 u64 = 5 [(buf.validate.field).uint64.lte = 1000];
  fixed32 f32 = 6 [(buf.validate.field).fixed32.not_in = 0];
  float ratio = 7 [(buf.validate.field).float = {gt: 0, lte: 1}];
  double d = 8 [(buf.validate.field).double.const = 2.5];
  bool flag = 9 [(buf.validate.field).bool.const = true];
  bytes blob = 10 [(buf.validate.field).bytes = {min_len: 1, max_len: 16}];
  string host = 11 [(buf.validate.field).string.hostname = true];
  string id = 12 [(buf.validate.field).string = {prefix: "id-", max_bytes: 40}];
  string tag = 13 [(buf.validate.field).string = {prefix: "t", suffix: "z", not_in: ["tz"]}];
  string ip = 14 [(buf.validate.field).string.ip = true];
  optional string nick = 15 [(buf.validate.field).string.min_len = 2];
  string note = 16 [(buf.validate.field) = {ignore: IGNORE_IF_ZERO_VALUE, string: {min_len: 5}}];
  map<int64, Sink> children = 17 [(buf.validate.field).map = {min_pairs: 1, keys: {int64: {gte: 0}}}];
  map<bool, string> switches = 18;
  repeated string tags = 19 [(buf.validate.field).repeated = {unique: true, items: {string: {min_len: 1}}}];
  google.protobuf.Duration timeout = 20 [(buf.validate.field).duration = {gte: {seconds: 1}, lte: {seconds: 60}}];
  google.protobuf.Int32Value maybe = 21 [(buf.validate.field).int32.gte = 0];
  google.protobuf.Any extra = 22 [(buf.validate.field).any = {in: ["type.googleapis.com/google.protobuf.Duration"]}];
  google.protobuf.Struct attrs = 23;
  google.protobuf.Value anything = 24;
  google.protobuf.ListValue list = 25;
  google.protobuf.FieldMask mask = 26;
  google.protobuf.Empty nothing = 27;
  oneof choice {
    string x = 28;
    int32 y = 29;
  }
  string checked = 30 [(buf.validate.field).cel = {
    id: "checked.short"
    message: "checked must be shorter than 10 characters"
    expression: "this.size() < 10"
  }];
  Kind kind = 31 [(buf.validate.field).enum = {in: [1, 2]}];
  Inner inner = 32;
  google.protobuf.Timestamp at = 33 [(buf.validate.field).timestamp.lt_now = true];
  string email = 34 [(buf.validate.field).string.email = true];
  google.protobuf.NullValue nul = 35;
  string skipped = 36 [(buf.validate.field) = {ignore: IGNORE_ALWAYS, string: {min_len: 5}}];
}

// Kind is a kind.
enum Kind {
  KIND_UNSPECIFIED = 0;
  KIND_A = 1;
  KIND_B = 2;
  KIND_C = 3;
}

// Inner points back at the root.
message Inner {
  Sink back = 1;
  repeated Inner more = 2;
}
`

// goldenTargets are the targets whose schemas are kept in testdata/.
func goldenTargets(t *testing.T) []struct {
	name string
	set  *descriptorpb.FileDescriptorSet
} {
	return []struct {
		name string
		set  *descriptorpb.FileDescriptorSet
	}{
		{"guardgen.examples.v1.TicketClassification", nil},
		{"guardgen.examples.v1.IncidentReport", nil},
		{"guardgen.examples.v1.TaskTree", nil},
		{"acme.v1.Order", orderSet(t)},
		{"kitchen.v1.Sink", compileSet(t, map[string]string{"kitchen/v1/sink.proto": sinkProto}, "kitchen/v1/sink.proto")},
	}
}

func TestJSONSchemaGolden(t *testing.T) {
	t.Parallel()
	r := newResolver(t, Options{})
	for _, tt := range goldenTargets(t) {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tg := resolve(t, r, tt.name, tt.set)
			var got bytes.Buffer
			if err := json.Indent(&got, tg.JSONSchema, "", "  "); err != nil {
				t.Fatalf("JSONSchema is not JSON: %v", err)
			}
			got.WriteByte('\n')
			path := filepath.Join("testdata", tt.name+".schema.json")
			if *update {
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if diff := cmp.Diff(string(want), got.String()); diff != "" {
				t.Errorf("JSONSchema mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// compileJSONSchema compiles a derived schema with a draft 2020-12
// validator that asserts formats, failing on a schema that is not well
// formed.
func compileJSONSchema(t *testing.T, tg *Target) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(tg.JSONSchema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("schema.json")
	if err != nil {
		t.Fatalf("schema does not compile: %v", err)
	}
	return sch
}

func TestJSONSchemaWellFormed(t *testing.T) {
	t.Parallel()
	r := newResolver(t, Options{})
	for _, tt := range goldenTargets(t) {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			compileJSONSchema(t, resolve(t, r, tt.name, tt.set))
		})
	}
}

// TestJSONSchemaAgreesWithValidation checks instances against both the
// derived schema and Decode+Validate: what the schema promises, the
// validator must accept, and for field-level mistakes both must refuse.
func TestJSONSchemaAgreesWithValidation(t *testing.T) {
	t.Parallel()
	r := newResolver(t, Options{})
	const (
		ticket   = "guardgen.examples.v1.TicketClassification"
		incident = "guardgen.examples.v1.IncidentReport"
		tree     = "guardgen.examples.v1.TaskTree"
	)
	validIncident := `{"title":"Checkout down","severity":"SEVERITY_CRITICAL","detectedAt":"2024-05-01T10:00:00Z",` +
		`"resolvedAt":"2024-05-01T11:30:00.5Z","services":[{"name":"checkout","region":"eu-west-1","errorRatePercent":87.5}],` +
		`"labels":{"team":"payments"},"oncallEmail":"oncall@example.com","customerImpactCount":"1200",` +
		`"timeline":[{"at":"2024-05-01T10:05:00Z","event":"paged"}]}`
	tests := []struct {
		desc       string
		target     string
		set        *descriptorpb.FileDescriptorSet
		json       string
		wantSchema bool
		wantValid  bool
	}{
		{"ticket", ticket, nil, `{"category":"billing","priority":3,"summary":"Customer was charged twice"}`, true, true},
		{"ticket priority too high", ticket, nil, `{"category":"billing","priority":9,"summary":"s"}`, false, false},
		{"ticket category not listed", ticket, nil, `{"category":"sales","priority":1,"summary":"s"}`, false, false},
		{"ticket summary missing", ticket, nil, `{"category":"other","priority":1}`, false, false},
		{"incident", incident, nil, validIncident, true, true},
		{"incident without owner", incident, nil, `{"title":"Disk full","severity":"SEVERITY_LOW",` +
			`"detectedAt":"2024-05-01T10:00:00Z","services":[{"name":"db","region":"us-east-1"}]}`, false, false},
		{"incident with unspecified severity", incident, nil, `{"title":"Disk full","severity":"SEVERITY_UNSPECIFIED",` +
			`"detectedAt":"2024-05-01T10:00:00Z","services":[{"name":"db","region":"us-east-1"}],"team":"sre"}`, false, false},
		{"incident bad label key", incident, nil, `{"title":"Disk full","severity":"SEVERITY_LOW",` +
			`"detectedAt":"2024-05-01T10:00:00Z","services":[{"name":"db","region":"us-east-1"}],"team":"sre",` +
			`"labels":{"Team":"x"}}`, false, false},
		// The business rule cannot be expressed in JSON Schema: only the
		// description carries it.
		{"incident breaking the business rule", incident, nil, `{"title":"Disk full","severity":"SEVERITY_CRITICAL",` +
			`"detectedAt":"2024-05-01T10:00:00Z","services":[{"name":"db","region":"us-east-1"}],"team":"sre"}`, true, false},
		{"tree", tree, nil, `{"title":"Ship","estimateMinutes":60,"subtasks":[{"title":"Build","subtasks":[{"title":"Test"}]}]}`, true, true},
		{"tree nested title empty", tree, nil, `{"title":"Ship","subtasks":[{"title":""}]}`, false, false},
		{"order", "acme.v1.Order", orderSet(t), `{"id":"9b2f0b1e-4a8e-4a3c-9a57-0c1f2b3d4e5f",` +
			`"items":[{"sku":"ABC-1234","quantity":2}],"totalCents":"1999","placedAt":"2024-01-01T00:00:00Z","status":"STATUS_OPEN"}`, true, true},
		{"order without items", "acme.v1.Order", orderSet(t), `{"id":"9b2f0b1e-4a8e-4a3c-9a57-0c1f2b3d4e5f",` +
			`"items":[],"totalCents":"1999","placedAt":"2024-01-01T00:00:00Z","status":"STATUS_OPEN"}`, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			tg := resolve(t, r, tt.target, tt.set)
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(tt.json)))
			if err != nil {
				t.Fatal(err)
			}
			schemaErr := compileJSONSchema(t, tg).Validate(inst)
			if (schemaErr == nil) != tt.wantSchema {
				t.Errorf("schema accepts = %v, want %v (%v)", schemaErr == nil, tt.wantSchema, schemaErr)
			}
			m, _, err := tg.Decode([]byte(tt.json), DecodeOptions{Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			validateErr := tg.Validate(m)
			if (validateErr == nil) != tt.wantValid {
				t.Errorf("validator accepts = %v, want %v (%v)", validateErr == nil, tt.wantValid, validateErr)
			}
		})
	}
}
