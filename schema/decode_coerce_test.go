package schema

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// formProto has a field for every coercion: enums with the conventional
// type prefix and with another shared prefix, bools, numbers of each width,
// wrappers, lists, a map of enums, and a debug_redact field.
const formProto = `syntax = "proto3";

package coerce.v1;

import "buf/validate/validate.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/wrappers.proto";

enum Severity {
  SEVERITY_UNSPECIFIED = 0;
  SEVERITY_LOW = 1;
  SEVERITY_HIGH = 2;
  SEVERITY_VERY_HIGH = 3;
}

// Phase's values share a prefix that is not its name.
enum Phase {
  PH_UNSPECIFIED = 0;
  PH_IN_PROGRESS = 1;
  PH_DONE = 2;
}

message Form {
  Severity severity = 1;
  Phase phase = 2;
  repeated Severity severities = 3;
  bool flag = 4;
  google.protobuf.BoolValue maybe_flag = 5;
  int32 count = 6;
  uint32 minutes = 7;
  double ratio = 8;
  float f = 9;
  int64 big = 10;
  repeated string tags = 11;
  repeated Item items = 12;
  map<string, Severity> by_team = 13;
  int32 secret = 14 [debug_redact = true];
  string name = 15;
  google.protobuf.Int32Value maybe_count = 16;
  repeated int32 counts = 17;
  string category = 18 [(buf.validate.field).string = {in: ["billing", "technical", "account", "other"]}];
  string description = 19 [json_name = "descripción"];
  string due_date = 20;
  repeated string labels = 21 [(buf.validate.field).repeated.items.string = {in: ["urgent", "refund", "vip"]}];
  Item main_item = 22;
  Severity level = 23 [(buf.validate.field).enum = {not_in: [0]}];
  map<string, string> by_region = 24 [(buf.validate.field).map.values.string = {in: ["up", "down"]}];
  Bag bag = 25;
  google.protobuf.Struct attrs = 26;
  repeated Item more_items = 27;
  string secret_category = 28 [debug_redact = true, (buf.validate.field).string = {in: ["red", "blue"]}];

  message Item {
    string sku = 1;
    int32 qty = 2;
  }
}

// Bag has one repeated field, which a bare array fills.
message Bag {
  repeated string tags = 1;
  string note = 2;
}

// Twins has two fields that look alike once case and '_' are set aside.
message Twins {
  string foo_bar = 1;
  string foobar = 2;
}
`

// paintProto is proto2, where protoc lets a value name clash with another
// once the prefix is gone: "red" could be COLOR_RED or RED.
const paintProto = `syntax = "proto2";

package coerce.v1;

enum Color {
  COLOR_UNSPECIFIED = 0;
  COLOR_RED = 1;
  RED = 2;
}

enum Mood {
  option allow_alias = true;
  MOOD_UNSPECIFIED = 0;
  MOOD_OK = 1;
  OK = 1;
}

message Paint {
  optional Color color = 1;
  optional Mood mood = 2;
}
`

func TestDecodeCoercions(t *testing.T) {
	t.Parallel()
	set := compileSet(t, map[string]string{"coerce/v1/form.proto": formProto, "coerce/v1/paint.proto": paintProto},
		"coerce/v1/form.proto", "coerce/v1/paint.proto")
	r := newResolver(t, Options{})
	form, paint := resolve(t, r, "coerce.v1.Form", set), resolve(t, r, "coerce.v1.Paint", set)
	const strictEnumHigh = "not coerced in strict mode: an enum name in another case or without its prefix, for SEVERITY_HIGH"
	tests := []struct {
		desc   string
		target *Target
		json   string
		// want is the lenient result as protojson; changes are what
		// lenient mode reports, strictErr the error strict mode returns.
		// Strict mode reads the output as lenient mode does without
		// changes when strictErr is nil, or as strictWant when that is set:
		// strings with an "in" rule are left for validation to judge.
		want       string
		changes    []Change
		strictErr  *DecodeError
		strictWant string
	}{
		{
			desc: "enum without prefix, lower case", target: form,
			json: `{"severity":"high"}`, want: `{"severity":"SEVERITY_HIGH"}`,
			changes:   []Change{{ChangeCoerceEnum, "severity", `"high" → SEVERITY_HIGH`}},
			strictErr: &DecodeError{Path: "severity", Reason: strictEnumHigh},
		},
		{
			desc: "enum without prefix, upper case", target: form,
			json: `{"severity":"HIGH"}`, want: `{"severity":"SEVERITY_HIGH"}`,
			changes:   []Change{{ChangeCoerceEnum, "severity", `"HIGH" → SEVERITY_HIGH`}},
			strictErr: &DecodeError{Path: "severity", Reason: strictEnumHigh},
		},
		{
			desc: "enum without prefix, title case", target: form,
			json: `{"severity":"High"}`, want: `{"severity":"SEVERITY_HIGH"}`,
			changes:   []Change{{ChangeCoerceEnum, "severity", `"High" → SEVERITY_HIGH`}},
			strictErr: &DecodeError{Path: "severity", Reason: strictEnumHigh},
		},
		{
			desc: "enum full name in lower case", target: form,
			json: `{"severity":"severity_high"}`, want: `{"severity":"SEVERITY_HIGH"}`,
			changes:   []Change{{ChangeCoerceEnum, "severity", `"severity_high" → SEVERITY_HIGH`}},
			strictErr: &DecodeError{Path: "severity", Reason: strictEnumHigh},
		},
		{
			desc: "enum with spaces for underscores is not a suffix match", target: form,
			json: `{"severity":"Very high"}`, want: `{"severity":"SEVERITY_VERY_HIGH"}`,
			changes: []Change{{ChangeCoerceEnum, "severity", `"Very high" → SEVERITY_VERY_HIGH`}},
			strictErr: &DecodeError{Path: "severity",
				Reason: "not coerced in strict mode: an enum name in another case or without its prefix, for SEVERITY_VERY_HIGH"},
		},
		{
			desc: "enum whose values share a prefix other than the type name", target: form,
			json: `{"phase":"in-progress"}`, want: `{"phase":"PH_IN_PROGRESS"}`,
			changes: []Change{{ChangeCoerceEnum, "phase", `"in-progress" → PH_IN_PROGRESS`}},
			strictErr: &DecodeError{Path: "phase",
				Reason: "not coerced in strict mode: an enum name in another case or without its prefix, for PH_IN_PROGRESS"},
		},
		{
			desc: "enum list items and map values", target: form,
			json: `{"severities":["low","SEVERITY_HIGH","High"],"byTeam":{"sre":"high"}}`,
			want: `{"severities":["SEVERITY_LOW","SEVERITY_HIGH","SEVERITY_HIGH"],"byTeam":{"sre":"SEVERITY_HIGH"}}`,
			changes: []Change{
				{ChangeCoerceEnum, "severities[0]", `"low" → SEVERITY_LOW`},
				{ChangeCoerceEnum, "severities[2]", `"High" → SEVERITY_HIGH`},
				{ChangeCoerceEnum, `byTeam["sre"]`, `"high" → SEVERITY_HIGH`},
			},
			strictErr: &DecodeError{Path: "severities[0]",
				Reason: "not coerced in strict mode: an enum name in another case or without its prefix, for SEVERITY_LOW"},
		},
		{
			desc: "enum aliases of one number are one value", target: paint,
			json: `{"mood":"ok"}`, want: `{"mood":"MOOD_OK"}`,
			changes: []Change{{ChangeCoerceEnum, "mood", `"ok" → MOOD_OK`}},
			strictErr: &DecodeError{Path: "mood",
				Reason: "not coerced in strict mode: an enum name in another case or without its prefix, for MOOD_OK"},
		},
		{
			desc: "bool in a string", target: form,
			json: `{"flag":"true"}`, want: `{"flag":true}`,
			changes:   []Change{{ChangeCoerceBool, "flag", `"true" → true`}},
			strictErr: &DecodeError{Path: "flag", Reason: "not coerced in strict mode: a boolean in a string"},
		},
		{
			desc: "bool in a string, any case, in a wrapper", target: form,
			json: `{"maybeFlag":"FALSE"}`, want: `{"maybeFlag":false}`,
			changes:   []Change{{ChangeCoerceBool, "maybeFlag", `"FALSE" → false`}},
			strictErr: &DecodeError{Path: "maybeFlag", Reason: "not coerced in strict mode: a boolean in a string"},
		},
		{
			desc: "int32 in a string with spaces", target: form,
			json: `{"count":" 3 "}`, want: `{"count":3}`,
			changes:   []Change{{ChangeCoerceNumber, "count", `" 3 " → 3`}},
			strictErr: &DecodeError{Path: "count", Reason: "not coerced in strict mode: a number in a string with spaces or a plus sign"},
		},
		{
			desc: "uint32 with a plus sign", target: form,
			json: `{"minutes":"+90"}`, want: `{"minutes":90}`,
			changes:   []Change{{ChangeCoerceNumber, "minutes", `"+90" → 90`}},
			strictErr: &DecodeError{Path: "minutes", Reason: "not coerced in strict mode: a number in a string with spaces or a plus sign"},
		},
		{
			desc: "double, float, int64 and a wrapper padded", target: form,
			json: `{"ratio":" 0.25","f":"+1.5","big":"12 ","maybeCount":"\t4"}`,
			want: `{"ratio":0.25,"f":1.5,"big":"12","maybeCount":4}`,
			changes: []Change{
				{ChangeCoerceNumber, "ratio", `" 0.25" → 0.25`},
				{ChangeCoerceNumber, "f", `"+1.5" → 1.5`},
				{ChangeCoerceNumber, "big", `"12 " → 12`},
				{ChangeCoerceNumber, "maybeCount", `"\t4" → 4`},
			},
			strictErr: &DecodeError{Path: "ratio", Reason: "not coerced in strict mode: a number in a string with spaces or a plus sign"},
		},
		{
			desc: "a debug_redact field's value is not quoted", target: form,
			json: `{"secret":" 7"}`, want: `{"secret":7}`,
			changes:   []Change{{ChangeCoerceNumber, "secret", "a string → a number"}},
			strictErr: &DecodeError{Path: "secret", Reason: "not coerced in strict mode: a number in a string with spaces or a plus sign"},
		},
		{
			desc: "single string for a repeated string", target: form,
			json: `{"tags":"urgent"}`, want: `{"tags":["urgent"]}`,
			changes:   []Change{{ChangeWrapRepeated, "tags", "a single string read as a list of one"}},
			strictErr: &DecodeError{Path: "tags", Reason: "not coerced in strict mode: a single value where a list is expected"},
		},
		{
			desc: "single object for a repeated message", target: form,
			json: `{"items":{"sku":"A-1","qty":2}}`, want: `{"items":[{"sku":"A-1","qty":2}]}`,
			changes:   []Change{{ChangeWrapRepeated, "items", "a single object read as a list of one"}},
			strictErr: &DecodeError{Path: "items", Reason: "not coerced in strict mode: a single value where a list is expected"},
		},
		{
			desc: "single number for a repeated int32", target: form,
			json: `{"counts":5}`, want: `{"counts":[5]}`,
			changes:   []Change{{ChangeWrapRepeated, "counts", "a single number read as a list of one"}},
			strictErr: &DecodeError{Path: "counts", Reason: "not coerced in strict mode: a single value where a list is expected"},
		},
		{
			desc: "wrapped, then the element coerced", target: form,
			json: `{"severities":"high"}`, want: `{"severities":["SEVERITY_HIGH"]}`,
			changes: []Change{
				{ChangeWrapRepeated, "severities", "a single string read as a list of one"},
				{ChangeCoerceEnum, "severities[0]", `"high" → SEVERITY_HIGH`},
			},
			strictErr: &DecodeError{Path: "severities", Reason: "not coerced in strict mode: a single value where a list is expected"},
		},
		{
			desc: "coercions and drops in document order", target: form,
			json: `{"confidence":0.9,"severity":"high","items":[{"sku":"A","qty":"+1","color":"red"}]}`,
			want: `{"severity":"SEVERITY_HIGH","items":[{"sku":"A","qty":1}]}`,
			changes: []Change{
				drop("confidence"),
				{ChangeCoerceEnum, "severity", `"high" → SEVERITY_HIGH`},
				{ChangeCoerceNumber, "items[0].qty", `"+1" → 1`},
				drop("items[0].color"),
			},
			strictErr: &DecodeError{Path: "confidence", Reason: "unknown field"},
		},
		{
			desc: "numbers in plain strings are protojson, not coercions", target: form,
			json: `{"count":"3","ratio":"0.5","big":"9007199254740993","severity":"SEVERITY_LOW"}`,
			want: `{"count":3,"ratio":0.5,"big":"9007199254740993","severity":"SEVERITY_LOW"}`,
		},
		{
			desc: "numbers in plain strings next to a coercion are still not coercions", target: form,
			json:    `{"count":"3","severity":"low"}`,
			want:    `{"count":3,"severity":"SEVERITY_LOW"}`,
			changes: []Change{{ChangeCoerceEnum, "severity", `"low" → SEVERITY_LOW`}},
			strictErr: &DecodeError{Path: "severity",
				Reason: "not coerced in strict mode: an enum name in another case or without its prefix, for SEVERITY_LOW"},
		},
		{
			desc: "yes, no, 1 and 0 for booleans", target: form,
			json: `{"flag":"Yes","maybeFlag":0}`, want: `{"flag":true,"maybeFlag":false}`,
			changes: []Change{
				{ChangeCoerceBool, "flag", `"Yes" → true`},
				{ChangeCoerceBool, "maybeFlag", "0 → false"},
			},
			strictErr: &DecodeError{Path: "flag", Reason: "not coerced in strict mode: a boolean in a string"},
		},
		{
			desc: "no and a padded 1 in a list", target: form,
			json: `{"flag":" no "}`, want: `{"flag":false}`,
			changes:   []Change{{ChangeCoerceBool, "flag", `" no " → false`}},
			strictErr: &DecodeError{Path: "flag", Reason: "not coerced in strict mode: a boolean in a string"},
		},
		{
			desc: "thousands separators for integers", target: form,
			json: `{"count":"1,234","big":"-12,345,678"}`, want: `{"count":1234,"big":"-12345678"}`,
			changes: []Change{
				{ChangeCoerceNumber, "count", `"1,234" → 1234`},
				{ChangeCoerceNumber, "big", `"-12,345,678" → -12345678`},
			},
			strictErr: &DecodeError{Path: "count", Reason: "not coerced in strict mode: a number with thousands separators"},
		},
		{
			desc: "keys written loosely", target: form,
			json: `{" Count ":3,"DUE-DATE":"friday","descripcion":"una mesa","Main Item":{"SKU":"A"}}`,
			want: `{"count":3,"dueDate":"friday","descripción":"una mesa","mainItem":{"sku":"A"}}`,
			changes: []Change{
				{ChangeMatchKey, "count", `" Count " → count`},
				{ChangeMatchKey, "dueDate", `"DUE-DATE" → dueDate`},
				{ChangeMatchKey, "descripción", `"descripcion" → descripción`},
				{ChangeMatchKey, "mainItem", `"Main Item" → mainItem`},
				{ChangeMatchKey, "mainItem.sku", `"SKU" → sku`},
			},
			strictErr: &DecodeError{Path: `[" Count "]`, Reason: "not coerced in strict mode: a key written unlike field count"},
		},
		{
			desc: "in rule: another case, spaces", target: form,
			json: `{"category":" Billing"}`, want: `{"category":"billing"}`,
			changes:    []Change{{ChangeCoerceChoice, "category", `" Billing" → billing`}},
			strictWant: `{"category":" Billing"}`,
		},
		{
			desc: "in rule: a longer answer naming one value", target: form,
			json: `{"category":"Billing — the customer was charged twice","labels":["URGENT","vip customer"],"byRegion":{"eu":"Down since 9:00"}}`,
			want: `{"category":"billing","labels":["urgent","vip"],"byRegion":{"eu":"down"}}`,
			changes: []Change{
				{ChangePickChoice, "category", `"Billing — the customer was charged twi…" → billing`},
				{ChangeCoerceChoice, "labels[0]", `"URGENT" → urgent`},
				{ChangePickChoice, "labels[1]", `"vip customer" → vip`},
				{ChangePickChoice, `byRegion["eu"]`, `"Down since 9:00" → down`},
			},
			strictWant: `{"category":"Billing — the customer was charged twice","labels":["URGENT","vip customer"],"byRegion":{"eu":"Down since 9:00"}}`,
		},
		{
			desc: "in rule on a redacted field", target: form,
			json: `{"secretCategory":"RED"}`, want: `{"secretCategory":"red"}`,
			changes:    []Change{{ChangeCoerceChoice, "secretCategory", "→ red"}},
			strictWant: `{"secretCategory":"RED"}`,
		},
		{
			desc: "enum named in a longer answer", target: form,
			json: `{"level":"High: customers cannot pay"}`, want: `{"level":"SEVERITY_HIGH"}`,
			changes:   []Change{{ChangePickChoice, "level", `"High: customers cannot pay" → SEVERITY_HIGH`}},
			strictErr: &DecodeError{Path: "level", Reason: "not coerced in strict mode: a longer answer naming one value, SEVERITY_HIGH"},
		},
		{
			desc: "the longer value named wins over the one inside it", target: form,
			json: `{"level":"very high, since checkout is down"}`, want: `{"level":"SEVERITY_VERY_HIGH"}`,
			changes:   []Change{{ChangePickChoice, "level", `"very high, since checkout is down" → SEVERITY_VERY_HIGH`}},
			strictErr: &DecodeError{Path: "level", Reason: "not coerced in strict mode: a longer answer naming one value, SEVERITY_VERY_HIGH"},
		},
		{
			desc: "JSON in a string for a list, a map, a message and a struct", target: form,
			json: `{"tags":"[\"urgent\", \"refund\"]","byTeam":" {\"sre\": \"SEVERITY_LOW\"}","mainItem":"{\"sku\":\"A\"}","attrs":"{\"k\":1}"}`,
			want: `{"tags":["urgent","refund"],"byTeam":{"sre":"SEVERITY_LOW"},"mainItem":{"sku":"A"},"attrs":{"k":1}}`,
			changes: []Change{
				{ChangeParseJSONString, "tags", "a string holding JSON read as an array"},
				{ChangeParseJSONString, "byTeam", "a string holding JSON read as an object"},
				{ChangeParseJSONString, "mainItem", "a string holding JSON read as an object"},
				{ChangeParseJSONString, "attrs", "a string holding JSON read as an object"},
			},
			strictErr: &DecodeError{Path: "tags", Reason: "not coerced in strict mode: a string holding JSON where an array is expected"},
		},
		{
			desc: "JSON in a string is read once", target: form,
			json: `{"mainItem":"{\"sku\":\"A\"}","moreItems":"[{\"sku\":\"B\"}]"}`,
			want: `{"mainItem":{"sku":"A"},"moreItems":[{"sku":"B"}]}`,
			changes: []Change{
				{ChangeParseJSONString, "mainItem", "a string holding JSON read as an object"},
				{ChangeParseJSONString, "moreItems", "a string holding JSON read as an array"},
			},
			strictErr: &DecodeError{Path: "mainItem", Reason: "not coerced in strict mode: a string holding JSON where an object is expected"},
		},
		{
			desc: "a string that is not JSON stays a string for a list", target: form,
			json: `{"tags":"[draft] urgent"}`, want: `{"tags":["[draft] urgent"]}`,
			changes:   []Change{{ChangeWrapRepeated, "tags", "a single string read as a list of one"}},
			strictErr: &DecodeError{Path: "tags", Reason: "not coerced in strict mode: a single value where a list is expected"},
		},
		{
			desc: "lists of one for single values", target: form,
			json: `{"count":[3],"severity":["high"],"mainItem":[{"sku":"A"}],"maybeCount":[4]}`,
			want: `{"count":3,"severity":"SEVERITY_HIGH","mainItem":{"sku":"A"},"maybeCount":4}`,
			changes: []Change{
				{ChangeUnwrapList, "count", "a list of one number read as its element"},
				{ChangeUnwrapList, "severity", "a list of one string read as its element"},
				{ChangeCoerceEnum, "severity", `"high" → SEVERITY_HIGH`},
				{ChangeUnwrapList, "mainItem", "a list of one object read as its element"},
				{ChangeUnwrapList, "maybeCount", "a list of one number read as its element"},
			},
			strictErr: &DecodeError{Path: "count", Reason: "not coerced in strict mode: a list of one where a single value is expected"},
		},
		{
			desc: "a bare array fills the only list", target: form,
			json: `{"bag":["a","b"]}`, want: `{"bag":{"tags":["a","b"]}}`,
			changes:   []Change{{ChangeFillList, "bag.tags", "a bare array read as tags"}},
			strictErr: &DecodeError{Path: "bag.tags", Reason: "not coerced in strict mode: a bare array for the list field tags"},
		},
		{
			desc: "the one element that fits", target: form,
			json:      `{"mainItem":[{"note":"see below"},{"sku":"A","qty":2},"x"]}`,
			want:      `{"mainItem":{"sku":"A","qty":2}}`,
			changes:   []Change{{ChangePickElement, "mainItem", "element 1 of an array of 3, the only one that fits"}},
			strictErr: &DecodeError{Path: "mainItem", Reason: "not coerced in strict mode: one object of an array where an object is expected"},
		},
		{
			desc: "a wrapper written as its message", target: form,
			json: `{"maybeCount":{"Value":4}}`, want: `{"maybeCount":4}`,
			changes:   []Change{{ChangeUnwrapValue, "maybeCount", "an object holding only value read as the value"}},
			strictErr: &DecodeError{Path: "maybeCount", Reason: "not coerced in strict mode: an object holding only value where the value is expected"},
		},
		{
			desc: "a long value is quoted cut short", target: form,
			json:    `{"severity":"          very          high                    "}`,
			want:    `{"severity":"SEVERITY_VERY_HIGH"}`,
			changes: []Change{{ChangeCoerceEnum, "severity", `"          very          high            …" → SEVERITY_VERY_HIGH`}},
			strictErr: &DecodeError{Path: "severity",
				Reason: "not coerced in strict mode: an enum name in another case or without its prefix, for SEVERITY_VERY_HIGH"},
		},
	}
	for _, tt := range tests {
		want := tt.target.Type.New().Interface()
		if err := protojson.Unmarshal([]byte(tt.want), want); err != nil {
			t.Fatalf("%s: bad want: %v", tt.desc, err)
		}
		strictWant := want
		if tt.strictWant != "" {
			strictWant = tt.target.Type.New().Interface()
			if err := protojson.Unmarshal([]byte(tt.strictWant), strictWant); err != nil {
				t.Fatalf("%s: bad strictWant: %v", tt.desc, err)
			}
		}
		t.Run(tt.desc+"/lenient", func(t *testing.T) {
			t.Parallel()
			got, changes, err := tt.target.Decode([]byte(tt.json), DecodeOptions{})
			if err != nil {
				t.Fatalf("Decode() error = %v", err)
			}
			if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
				t.Errorf("Decode() message mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.changes, changes); diff != "" {
				t.Errorf("Decode() changes mismatch (-want +got):\n%s", diff)
			}
		})
		t.Run(tt.desc+"/strict", func(t *testing.T) {
			t.Parallel()
			got, changes, err := tt.target.Decode([]byte(tt.json), DecodeOptions{Strict: true})
			if tt.strictErr == nil { // nothing to coerce: strict reads it as lenient does
				if err != nil || !proto.Equal(strictWant, got) || changes != nil {
					t.Errorf("Decode(strict) = %v, %v, %v; want %v", got, changes, err, strictWant)
				}
				return
			}
			if diff := cmp.Diff(error(tt.strictErr), err); diff != "" || got != nil || changes != nil {
				t.Errorf("Decode(strict) = %v, %v, error mismatch (-want +got):\n%s", got, changes, diff)
			}
		})
	}
}

// TestDecodeRefusals lists what looks coercible but has no single reading:
// both modes fail with the same error.
func TestDecodeRefusals(t *testing.T) {
	t.Parallel()
	set := compileSet(t, map[string]string{"coerce/v1/form.proto": formProto, "coerce/v1/paint.proto": paintProto},
		"coerce/v1/form.proto", "coerce/v1/paint.proto")
	r := newResolver(t, Options{})
	form, paint := resolve(t, r, "coerce.v1.Form", set), resolve(t, r, "coerce.v1.Paint", set)
	twins := resolve(t, r, "coerce.v1.Twins", set)
	const int32Range = "expected an integer in the int32 range"
	notSeverity := "not a value of coerce.v1.Severity; expected one of SEVERITY_UNSPECIFIED, SEVERITY_LOW, SEVERITY_HIGH, SEVERITY_VERY_HIGH"
	tests := []struct {
		desc   string
		target *Target
		json   string
		want   *DecodeError
	}{
		{"prefixless name matching two values", paint, `{"color":"red"}`,
			&DecodeError{Path: "color", Reason: "ambiguous name for coerce.v1.Color: it could be COLOR_RED, RED"}},
		{"fraction for an integer", form, `{"count":"3.5"}`, &DecodeError{Path: "count", Reason: int32Range}},
		{"fraction for an integer, with a plus sign", form, `{"count":"+3.5"}`, &DecodeError{Path: "count", Reason: int32Range}},
		{"fraction for an integer, as a number", form, `{"count":3.5}`, &DecodeError{Path: "count", Reason: int32Range}},
		{"out of range", form, `{"count":"3000000000"}`, &DecodeError{Path: "count", Reason: int32Range}},
		{"out of range, padded", form, `{"count":" 3000000000"}`, &DecodeError{Path: "count", Reason: int32Range}},
		{"negative for uint32", form, `{"minutes":" -1"}`,
			&DecodeError{Path: "minutes", Reason: "expected an integer in the uint32 range"}},
		{"double out of range", form, `{"ratio":" 1e400"}`, &DecodeError{Path: "ratio", Reason: "expected a number"}},
		{"thousands separators out of place", form, `{"count":"12,34"}`, &DecodeError{Path: "count", Reason: int32Range}},
		{"a decimal comma", form, `{"count":"1,5"}`, &DecodeError{Path: "count", Reason: int32Range}},
		{"thousands separators for a double", form, `{"ratio":"1,000"}`, &DecodeError{Path: "ratio", Reason: "expected a number"}},
		{"hex", form, `{"count":"0x10"}`, &DecodeError{Path: "count", Reason: int32Range}},
		{"plus and minus", form, `{"count":"+-3"}`, &DecodeError{Path: "count", Reason: int32Range}},
		{"a word for a number", form, `{"count":"three"}`, &DecodeError{Path: "count", Reason: int32Range}},
		{"maybe for a bool", form, `{"flag":"maybe"}`, &DecodeError{Path: "flag", Reason: "expected true or false"}},
		{"2 for a bool", form, `{"flag":2}`, &DecodeError{Path: "flag", Reason: "expected true or false"}},
		{"a key naming two fields", twins, `{"FooBar":"x"}`, &DecodeError{Path: "FooBar", Reason: "the key could name several fields"}},
		{"two elements fit", form, `{"mainItem":[{"sku":"A"},{"sku":"B"}]}`,
			&DecodeError{Path: "mainItem", Reason: "expected an object; an array holds several that fit"}},
		{"no element fits", form, `{"mainItem":[{"name":"A"},{"sku":5}]}`, &DecodeError{Path: "mainItem", Reason: "expected an object"}},
		{"a long list where one value belongs", form, `{"count":[1,2]}`, &DecodeError{Path: "count", Reason: int32Range}},
		{"enum answer naming two values", form, `{"level":"low to high"}`, &DecodeError{Path: "level",
			Reason: "not a value of coerce.v1.Severity; expected one of SEVERITY_UNSPECIFIED, SEVERITY_LOW, SEVERITY_HIGH, SEVERITY_VERY_HIGH"}},
		{"unknown enum name", form, `{"severity":"urgent"}`, &DecodeError{Path: "severity", Reason: notSeverity}},
		{"enum number in a string", form, `{"severity":"2"}`, &DecodeError{Path: "severity", Reason: notSeverity}},
		{"enum prefix alone", form, `{"severity":"severity"}`, &DecodeError{Path: "severity", Reason: notSeverity}},
		{"enum suffix of a longer name only", form, `{"phase":"progress"}`,
			&DecodeError{Path: "phase", Reason: "not a value of coerce.v1.Phase; expected one of PH_UNSPECIFIED, PH_IN_PROGRESS, PH_DONE"}},
		{"number for a string", form, `{"name":5}`, &DecodeError{Path: "name", Reason: "expected a string"}},
		{"object for a repeated string", form, `{"tags":{"a":1}}`, &DecodeError{Path: "tags", Reason: "expected an array"}},
		{"string for a repeated message", form, `{"items":"A-1"}`, &DecodeError{Path: "items", Reason: "expected an array"}},
	}
	for _, tt := range tests {
		for _, strict := range []bool{false, true} {
			t.Run(tt.desc, func(t *testing.T) {
				t.Parallel()
				got, changes, err := tt.target.Decode([]byte(tt.json), DecodeOptions{Strict: strict})
				if diff := cmp.Diff(error(tt.want), err); diff != "" || got != nil || changes != nil {
					t.Errorf("Decode(strict=%v) = %v, %v, error mismatch (-want +got):\n%s", strict, got, changes, diff)
				}
			})
		}
	}
}

// TestDecodeNothingKept: an object whose members are all unknown is a
// schema mismatch, never an empty message; strict mode already refuses
// its first unknown key.
func TestDecodeNothingKept(t *testing.T) {
	t.Parallel()
	set := compileSet(t, map[string]string{"coerce/v1/form.proto": formProto}, "coerce/v1/form.proto")
	form := resolve(t, newResolver(t, Options{}), "coerce.v1.Form", set)
	tests := []struct {
		desc string
		json string
		want *DecodeError
	}{
		{"the answer under another key", `{"result":{"count":1}}`,
			&DecodeError{Reason: "none of its 1 keys is a field of coerce.v1.Form"}},
		{"a nested object of unknown keys", `{"mainItem":{"name":"x","price":1}}`,
			&DecodeError{Path: "mainItem", Reason: "none of its 2 keys is a field of coerce.v1.Form.Item"}},
		{"in a list", `{"moreItems":[{"sku":"A"},{"title":"B"}]}`,
			&DecodeError{Path: "moreItems[1]", Reason: "none of its 1 keys is a field of coerce.v1.Form.Item"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got, changes, err := form.Decode([]byte(tt.json), DecodeOptions{})
			if diff := cmp.Diff(error(tt.want), err); diff != "" || got != nil || changes != nil {
				t.Errorf("Decode() = %v, %v, error mismatch (-want +got):\n%s", got, changes, diff)
			}
		})
	}
}

// FuzzDecode checks that the modes agree: strict accepts exactly what
// lenient accepts without changes, and every change is well formed.
//
//	go test -run '^$' -fuzz FuzzDecode -fuzztime 30s ./schema/
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"title":"Checkout down","severity":"high","services":{"name":"api","errorRatePercent":" 12.5"}}`,
		`{"severity":"Very-High","labels":{"team":"sre"},"timeline":{"at":"2024-05-01T10:00:00Z","event":"paged"}}`,
		`{"severity":"SEVERITY_LOW","customerImpactCount":"+7","extra":[1,{"a":null}]}`,
		`{"title":"t","subtasks":{"title":"u","estimateMinutes":"+30","subtasks":[{"title":"v"}]}}`,
		`{"severity":2,"services":[],"team":"sre","oncallEmail":"a@example.com"}`,
		`{"category":"Billing issue","Priority":["2"],"summary":"s","extra":{}}`,
		`[{"category":"billing","priority":"1,000"},{"note":"x"}]`,
		`{"title":"t","subtasks":"[{\"title\":\"u\"}]","Estimate Minutes":"1_0"}`,
	} {
		f.Add(seed)
	}
	r := newResolver(f, Options{})
	incident := resolve(f, r, "guardgen.examples.v1.IncidentReport", nil)
	tree := resolve(f, r, "guardgen.examples.v1.TaskTree", nil)
	ticket := resolve(f, r, "guardgen.examples.v1.TicketClassification", nil)
	kinds := map[string]bool{ChangeDropUnknownField: true, ChangeCoerceEnum: true, ChangeCoerceNumber: true,
		ChangeCoerceBool: true, ChangeWrapRepeated: true, ChangeMatchKey: true, ChangeCoerceChoice: true,
		ChangePickChoice: true, ChangeParseJSONString: true, ChangeUnwrapList: true, ChangeFillList: true,
		ChangePickElement: true, ChangeUnwrapValue: true}
	// Strings with an "in" rule are left alone in strict mode, for
	// validation to judge: those changes do not make the modes disagree.
	choice := func(c Change) bool { return c.Kind == ChangeCoerceChoice || c.Kind == ChangePickChoice }
	f.Fuzz(func(t *testing.T, data string) {
		for _, tg := range []*Target{incident, tree, ticket} {
			lenient, changes, lerr := tg.Decode([]byte(data), DecodeOptions{})
			strict, _, serr := tg.Decode([]byte(data), DecodeOptions{Strict: true})
			if lerr == nil && len(changes) == 0 && serr != nil {
				t.Fatalf("strict refused what lenient accepted unchanged: %v", serr)
			}
			others := slices.DeleteFunc(slices.Clone(changes), choice)
			if serr == nil && (lerr != nil || len(others) > 0 || len(changes) == 0 && !proto.Equal(strict, lenient)) {
				t.Fatalf("strict accepted what lenient changed: %v, %v", changes, lerr)
			}
			for _, c := range changes {
				if !kinds[c.Kind] || len(c.Detail) > 2*maxQuoted+64 {
					t.Fatalf("bad change %+v", c)
				}
			}
		}
	})
}

// FuzzBuild checks the builder against protojson: for any JSON the walk
// accepts, building the message from the tree gives what protojson gives
// for the tree written out, and the builder fails only where protojson
// does.
//
//	go test -run '^$' -fuzz FuzzBuild -fuzztime 30s ./schema/
func FuzzBuild(f *testing.F) {
	for _, seed := range []string{
		`{"title":"t","severity":"SEVERITY_LOW","detectedAt":"2024-05-01T10:00:00.123456789+02:00","customerImpactCount":"12e1",` +
			`"labels":{"a":"b"},"services":[{"name":"x","errorRatePercent":"NaN"}],"timeline":[{"at":"2024-05-01T10:00:00Z"}]}`,
		`{"timeout":"1.5s","maybe":7,"attrs":{"k":[1,{"x":null}]},"anything":null,"list":[1,"a",null],"mask":"a,b.c","nothing":{}}`,
		`{"extra":{"@type":"type.googleapis.com/google.protobuf.Duration","value":"2s"},"blob":"aGk","u64":"18446744073709551615"}`,
		`{"children":{"12":{},"-3":{"a":"x"}},"switches":{"true":"on"},"ratio":"-Infinity","f":3.4e38,"nul":null}`,
		`{"attrs":{"n":1e400}}`, `{"children":{"1":{},"01":{}}}`, `{"title":"\ud800"}`, "{\"title\":\"\xff\"}",
	} {
		f.Add(seed)
	}
	r := newResolver(f, Options{})
	sink := resolve(f, r, "kitchen.v1.Sink", compileSet(f, map[string]string{"kitchen/v1/sink.proto": sinkProto}, "kitchen/v1/sink.proto"))
	incident := resolve(f, r, "guardgen.examples.v1.IncidentReport", nil)
	f.Fuzz(func(t *testing.T, data string) {
		for _, tg := range []*Target{sink, incident} {
			root, err := parseTree([]byte(data))
			if err != nil {
				return
			}
			w := walker{types: tg.types, align: tg.align}
			if w.root(tg.Desc, root) != nil {
				continue
			}
			want := tg.Type.New().Interface()
			werr := tg.discard.Unmarshal(root.appendJSON(nil), want)
			got, gerr := tg.build(root)
			if (werr == nil) != (gerr == nil) || werr == nil && !proto.Equal(want, got) {
				t.Fatalf("build = %v, %v; protojson = %v, %v", got, gerr, want, werr)
			}
		}
	})
}
