package schema

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

// legacyProto is a proto2 type: required fields, a closed enum, a group,
// json_name, defaults and extensions, which the fast decoder must either
// decode as protojson does or leave to it.
const legacyProto = `syntax = "proto2";

package legacy.v1;

message Old {
  required string name = 1;
  optional Color color = 2;
  optional sint32 delta = 3 [default = 5];
  repeated fixed64 ids = 4;
  optional group Extra = 5 {
    optional int32 x = 6;
  }
  optional float f = 7;
  optional string display = 8 [json_name = "shown"];
  repeated Old kids = 9;
  optional bytes raw = 10;
  extensions 100 to 200;
}

enum Color {
  RED = 1;
  GREEN = 2;
}
`

// fastTargets are the targets the fast decoder is checked on: generated
// types, a proto3 type with every kind (dynamicpb) and a proto2 one.
func fastTargets(tb testing.TB) map[string]*Target {
	tb.Helper()
	r := newResolver(tb, Options{})
	return map[string]*Target{
		"ticket":   resolve(tb, r, "guardgen.examples.v1.TicketClassification", nil),
		"incident": resolve(tb, r, "guardgen.examples.v1.IncidentReport", nil),
		"tree":     resolve(tb, r, "guardgen.examples.v1.TaskTree", nil),
		"sink": resolve(tb, r, "kitchen.v1.Sink",
			compileSet(tb, map[string]string{"kitchen/v1/sink.proto": sinkProto}, "kitchen/v1/sink.proto")),
		"legacy": resolve(tb, r, "legacy.v1.Old",
			compileSet(tb, map[string]string{"legacy/v1/old.proto": legacyProto}, "legacy/v1/old.proto")),
	}
}

// checkFast fails t when the fast decoder accepts data and protojson does
// not, or decodes it to another message; it reports whether the fast
// decoder accepted data.
func checkFast(t *testing.T, tg *Target, data []byte) bool {
	t.Helper()
	fast, ok := tg.decodeFast(data)
	if !ok {
		return false
	}
	slow := tg.Type.New().Interface()
	if err := tg.unmarshal.Unmarshal(data, slow); err != nil {
		t.Fatalf("%s: fast decoder accepted %q, protojson refuses it: %v", tg.Desc.FullName(), data, err)
	}
	det := proto.MarshalOptions{Deterministic: true}
	fb, _ := det.Marshal(fast)
	sb, _ := det.Marshal(slow)
	if !proto.Equal(fast, slow) || !bytes.Equal(fb, sb) {
		t.Fatalf("%s: %q decodes to\n%v\nfast, to\n%v\nwith protojson", tg.Desc.FullName(), data, fast, slow)
	}
	return true
}

func TestDecodeFastAgreesWithProtojson(t *testing.T) {
	t.Parallel()
	targets := fastTargets(t)
	long := strings.Repeat("A long summary, ", 20)
	huge := strings.Repeat("x", 20000)
	deep := strings.Repeat(`{"subtasks":[`, 40) + strings.Repeat(`]}`, 40)
	tests := []struct {
		target, json string
		fast         bool // whether the fast decoder takes it
	}{
		// What models answer, as it is: the fast decoder's work.
		{"ticket", `{"category":"billing","priority":3,"summary":"Customer was charged twice"}`, true},
		{"ticket", " {\n  \"category\": \"billing\",\n  \"priority\": 3,\n  \"summary\": \"Charged twice\"\n}\n", true},
		{"ticket", `{"summary":"` + long + `","priority":-0,"category":"other"}`, true},
		{"ticket", `{"category":"billing","priority":3,"summary":"He said \"twice\"\n\tand left \u00e9 \u2028 \/ \\"}`, true},
		{"ticket", `{"category":"billing","priority":null,"summary":"é ünïcödé 😀"}`, true},
		{"ticket", `{}`, true},
		{"tree", `{"title":"t","estimateMinutes":30,"subtasks":[{"title":"u","estimate_minutes":4294967295,"subtasks":[]}]}`, true},
		{"incident", `{"title":"Outage","severity":"SEVERITY_HIGH","team":"sre","services":[{"name":"api","region":"eu-west-1","errorRatePercent":12.5}],"customerImpactCount":9223372036854775807}`, true},
		{"incident", `{"title":"Outage","oncall_email":"a@example.com","team":null}`, true},
		{"sink", `{"i32":-2147483648,"s64":-9223372036854775808,"u64":18446744073709551615,"f32":4294967295,` +
			`"ratio":0.1,"d":2.5e0,"flag":true,"host":"h","tags":["a","b"],"kind":"KIND_A","x":"one",` +
			`"inner":{"more":[{},{"back":{"a":"y","nick":""}}]},"nick":"","note":null}`, true},
		{"sink", `{"ratio":-0.0,"d":-1E-7,"s64":-1,"f32":0}`, true},
		{"sink", `{"a":"` + long + `","inner":{"more":[{"back":{"checked":"` + huge + `"}}]}}`, true},
		{"legacy", `{"name":"n","color":"GREEN","delta":-3,"ids":[1,18446744073709551615],"f":1.5,"shown":"s","kids":[{"name":"k"}]}`, true},
		{"legacy", `{"name":"n","display":"by its proto name"}`, true},

		// Left to protojson: it may accept them, refuse them, or read them
		// its own way; the fast decoder does not guess.
		{"ticket", `{"category":"billing","priority":"3","summary":"s"}`, false},
		{"ticket", `{"category":"billing","priority":3.0,"summary":"s"}`, false},
		{"ticket", `{"category":"billing","priority":3e0,"summary":"s"}`, false},
		{"ticket", `{"category":"billing","priority":03,"summary":"s"}`, false},
		{"ticket", `{"category":"billing","priority":2147483648,"summary":"s"}`, false},
		{"ticket", `{"category":"billing","category":"other"}`, false},
		{"ticket", `{"category":"billing","Category":"other"}`, false},
		{"ticket", `{"categ\u006fry":"billing"}`, false},
		{"ticket", `{"category":"billing",}`, false},
		{"ticket", `{"category":"billing"} {}`, false},
		{"ticket", `{"category":"billing"`, false},
		{"ticket", `{"category":"\ud83d\ude00"}`, false},
		{"ticket", "{\"category\":\"bad \xff utf-8\"}", false},
		{"ticket", "{\"category\":\"raw\nnewline\"}", false},
		{"ticket", `{"category":'single'}`, false},
		{"ticket", `{"priority":true}`, false},
		{"ticket", `[{"category":"billing"}]`, false},
		{"tree", deep, false},
		{"tree", `{"estimateMinutes":-1}`, false},
		{"tree", `{"estimateMinutes":-0}`, false},
		{"tree", `{"subtasks":[null]}`, false},
		{"tree", `{"subtasks":{"title":"not a list"}}`, false},
		{"incident", `{"title":"t","detectedAt":"2024-05-01T10:00:00Z","resolvedAt":null}`, true},
		{"incident", `{"detectedAt":"2024-05-01T10:00:00.123456789+02:00","timeline":[{"at":"1970-01-01T00:00:00Z","event":"paged"},{"at":"9999-12-31T23:59:59.5+01:30"}]}`, true},
		{"incident", `{"detectedAt":"0001-01-01T00:00:00Z"}`, true},
		{"incident", `{"detectedAt":"2024-05-01T10:00:00.1234567891Z"}`, false},
		{"incident", `{"detectedAt":"9999-12-31T23:59:59-01:00"}`, false}, // year 10000 in UTC
		{"incident", `{"detectedAt":"2024-05-01 10:00:00Z"}`, false},
		{"incident", `{"detectedAt":"2024-05-01T10:00:00"}`, false},
		{"incident", `{"detectedAt":"\u0032024-05-01T10:00:00Z"}`, false},
		{"incident", `{"detectedAt":1714557600}`, false},
		{"incident", `{"detectedAt":{"seconds":1}}`, false},
		{"incident", `{"labels":{"team":"sre"}}`, false},
		{"incident", `{"team":"sre","oncallEmail":"a@example.com"}`, false},
		{"incident", `{"severity":"high"}`, false},
		{"incident", `{"severity":3}`, false},
		{"sink", `{"blob":"AQ=="}`, false},
		{"sink", `{"ratio":1e40}`, false},
		{"sink", `{"ratio":"NaN"}`, false},
		{"sink", `{"u64":-0}`, false},
		{"sink", `{"u64":18446744073709551616}`, false},
		{"sink", `{"nul":null}`, false},
		{"sink", `{"anything":null}`, false},
		{"sink", `{"timeout":"1s"}`, false},
		{"sink", `{"flag":True}`, false},
		{"sink", `{"flag":truex}`, false},
		{"legacy", `{"color":"GREEN"}`, false}, // required name missing
		{"legacy", `{"name":"n","extra":{"x":1}}`, false},
		{"legacy", `{"name":"n","raw":"AQ=="}`, false},
		{"legacy", `{"name":"n","[legacy.v1.ext]":1}`, false},
	}
	for _, tt := range tests {
		tg := targets[tt.target]
		if got := checkFast(t, tg, []byte(tt.json)); got != tt.fast {
			t.Errorf("%s %.80q: fast decoder took it: %v, want %v", tt.target, tt.json, got, tt.fast)
		}
	}
}

// FuzzDecodeFast checks the fast decoder against protojson: whatever it
// accepts, protojson accepts and decodes to the same message.
//
//	go test -run '^$' -fuzz FuzzDecodeFast -fuzztime 100000x ./schema/
func FuzzDecodeFast(f *testing.F) {
	for _, seed := range []string{
		`{"category":"billing","priority":3,"summary":"Customer was charged twice"}`,
		`{"title":"t","estimateMinutes":30,"subtasks":[{"title":"u","estimate_minutes":5}]}`,
		`{"title":"Outage","severity":"SEVERITY_HIGH","team":"sre","services":[{"name":"api","errorRatePercent":12.5}]}`,
		`{"i32":-5,"s64":-9,"u64":7,"f32":1,"ratio":0.25,"d":2.5,"flag":false,"tags":["a"],"kind":"KIND_B","y":3}`,
		`{"inner":{"more":[{},{"back":{"a":"y\u00e9\n","nick":"","ratio":1e-3}}]}}`,
		`{"name":"n","color":"RED","delta":-3,"ids":[1,2],"f":1.5,"shown":"s","kids":[{"name":"k"}]}`,
		`{"detectedAt":"2024-05-01T10:00:00.5+02:00","timeline":[{"at":"1970-01-01T00:00:00Z","event":"paged"}]}`,
	} {
		f.Add(seed)
	}
	targets := fastTargets(f)
	f.Fuzz(func(t *testing.T, data string) {
		for _, tg := range targets {
			checkFast(t, tg, []byte(data))
		}
	})
}

// BenchmarkDecodeIncident is a clean IncidentReport — timestamps, enums, a
// oneof, lists of nested messages — through Decode (the fast decoder
// takes it) against protojson alone.
//
//	go test -run '^$' -bench DecodeIncident -benchmem ./schema/
func BenchmarkDecodeIncident(b *testing.B) {
	tg := fastTargets(b)["incident"]
	data := []byte(`{"title":"Checkout API returned 503s in eu-west-1","severity":"SEVERITY_HIGH",` +
		`"detectedAt":"2024-05-01T09:12:00Z","resolvedAt":"2024-05-01T10:05:00Z","team":"payments",` +
		`"services":[{"name":"checkout-api","region":"eu-west-1","errorRatePercent":87.5},` +
		`{"name":"payments-worker","region":"eu-west-1","errorRatePercent":12}],"customerImpactCount":1840,` +
		`"timeline":[{"at":"2024-05-01T09:12:00Z","event":"alert fired"},{"at":"2024-05-01T09:20:00Z","event":"rollback started"},` +
		`{"at":"2024-05-01T10:05:00Z","event":"error rate back to normal"}]}`)
	if _, ok := tg.decodeFast(data); !ok {
		b.Fatal("the fast decoder does not take the benchmark's answer")
	}
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := tg.Decode(data, DecodeOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("protojson", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := tg.unmarshal.Unmarshal(data, tg.Type.New().Interface()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
