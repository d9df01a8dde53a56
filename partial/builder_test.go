package partial_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"buf.build/go/protovalidate"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/guardgen/guardgen/classifier"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	"github.com/guardgen/guardgen/partial"
	"github.com/guardgen/guardgen/providers/synthetic"
	"github.com/guardgen/guardgen/schema"
)

var resolver = func() *schema.Resolver {
	r, err := schema.NewResolver(schema.Options{RequestTypesOff: true}) // compiled-in targets only
	if err != nil {
		panic(err)
	}
	return r
}()

func target(t testing.TB, name string) *schema.Target {
	t.Helper()
	tg, err := resolver.Resolve(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

const ticket = "guardgen.examples.v1.TicketClassification"

// paths returns the paths of fields.
func paths(fields []partial.Field) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.Path
	}
	return out
}

// violated returns the field paths and rule ids Check reports.
func violated(t *testing.T, b *partial.Builder) []string {
	t.Helper()
	err := b.Check()
	if err == nil {
		return nil
	}
	var ve *protovalidate.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Check: %v", err)
	}
	var out []string
	for _, v := range ve.Violations {
		out = append(out, classifier.FieldPath(v.Proto)+" "+v.Proto.GetRuleId())
	}
	return out
}

// TestTicket: values complete one by one, each as the text proves it, and
// the partial message holds exactly the complete ones.
func TestTicket(t *testing.T) {
	t.Parallel()
	b := partial.New(target(t, ticket), partial.Options{})
	steps := []struct {
		chunk     string
		completed []string
		json      string
	}{
		{`{"category": "bill`, nil, `{}`},
		{`ing", "prio`, []string{"category"}, `{"category":"billing"}`},
		{`rity": 3`, nil, `{"category":"billing"}`},
		{`, "summary": "Charged twice"`, []string{"priority"}, `{"category":"billing","priority":3}`},
		{`}`, []string{"summary", ""}, `{"category":"billing","priority":3,"summary":"Charged twice"}`},
	}
	var text strings.Builder
	for i, st := range steps {
		text.WriteString(st.chunk)
		got := paths(b.Write(text.String()))
		if diff := cmp.Diff(st.completed, got, cmpEmpty); diff != "" {
			t.Errorf("step %d: completed (-want +got):\n%s", i, diff)
		}
		msg, growing := b.Message()
		js, _ := protojson.MarshalOptions{}.Marshal(msg)
		if compact(string(js)) != compact(st.json) || growing != "" {
			t.Errorf("step %d: message %s (growing %q), want %s", i, js, growing, st.json)
		}
		if v := violated(t, b); v != nil {
			t.Errorf("step %d: violations %v on a valid ticket", i, v)
		}
	}
	if b.Err() != nil || !b.Done() || !b.Anchored() {
		t.Errorf("Err %v, Done %v, Anchored %v", b.Err(), b.Done(), b.Anchored())
	}
}

var cmpEmpty = cmp.Comparer(func(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") })

func compact(s string) string { return strings.NewReplacer(" ", "", "\n", "").Replace(s) }

// TestRuleBrokenWhenComplete: a field's rule is checked as soon as the
// field is complete, and only then; a rule on a field not yet written is
// not broken yet.
func TestRuleBrokenWhenComplete(t *testing.T) {
	t.Parallel()
	b := partial.New(target(t, ticket), partial.Options{})
	b.Write(`{"category": "billing", "priority": 9`)
	if v := violated(t, b); v != nil {
		t.Fatalf("violations %v before priority is complete", v)
	}
	b.Write(`{"category": "billing", "priority": 9,`)
	if diff := cmp.Diff([]string{"priority int32.gte_lte"}, violated(t, b)); diff != "" {
		t.Errorf("violations once priority is complete (-want +got):\n%s", diff)
	}
	b.Write(`{"category": "billing", "priority": 9, "summary": ""}`)
	if diff := cmp.Diff([]string{"summary string.min_len"}, violated(t, b)); diff != "" {
		t.Errorf("violations at the end, each reported once (-want +got):\n%s", diff)
	}
}

// TestIncidentReport: nested messages field by field, list elements whole
// with their own index, map entries, and rules across fields (a
// message-level CEL rule, a required oneof) only once the message closed.
func TestIncidentReport(t *testing.T) {
	t.Parallel()
	text := `{"title": "Payments down", "severity": "SEVERITY_HIGH", "detected_at": "2024-05-01T10:00:00Z",
 "resolved_at": "2024-05-01T09:00:00Z",
 "services": [{"name": "payments", "region": "eu-west-1"}, {"name": "ledger", "region": "EU"}],
 "labels": {"team": "payments"},
 "customer_impact_count": 12}`
	b := partial.New(target(t, "guardgen.examples.v1.IncidentReport"), partial.Options{})
	var got []string
	var broken [][]string
	for i := 1; i <= len(text); i++ {
		for _, f := range b.Write(text[:i]) {
			got = append(got, f.Path)
		}
		if v := violated(t, b); v != nil {
			broken = append(broken, append([]string{text[i-6 : i]}, v...))
		}
	}
	want := []string{"title", "severity", "detectedAt", "resolvedAt", "services[0]", "services[1]", "services",
		`labels["team"]`, "labels", "customerImpactCount", ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("completed (-want +got):\n%s", diff)
	}
	wantBroken := [][]string{
		// The resolved-after-detected rule reads detected_at and
		// resolved_at: it is checked once both are complete.
		{`:00Z",`, " incident.resolved_after_detected"},
		// services[1].region breaks its pattern as the element closes.
		{` "EU"}`, "services[1].region string.pattern"},
		// The required owner only once the report closed.
		{`": 12}`, "owner required"},
	}
	if diff := cmp.Diff(wantBroken, broken); diff != "" {
		t.Errorf("violations, with the text that revealed them (-want +got):\n%s", diff)
	}
}

// TestBusinessRuleWhenItsFieldsComplete: a message-level rule is checked
// as soon as the fields it reads are complete, long before its message
// closes, and only once; a rule whose fields never all arrive waits for
// the close.
func TestBusinessRuleWhenItsFieldsComplete(t *testing.T) {
	t.Parallel()
	text := `{"severity": "SEVERITY_CRITICAL", "title": "Checkout down", "customer_impact_count": 0,
 "detected_at": "2024-05-01T10:00:00Z", "team": "payments", "services": [{"name": "checkout", "region": "eu-west-1"}]}`
	b := partial.New(target(t, "guardgen.examples.v1.IncidentReport"), partial.Options{})
	var broken [][]string
	for i := 1; i <= len(text); i++ {
		b.Write(text[:i])
		if v := violated(t, b); v != nil {
			broken = append(broken, append([]string{text[i-6 : i]}, v...))
		}
	}
	want := [][]string{
		// severity and customer_impact_count are complete at the count's
		// comma; resolved_at never comes, so its rule waits for the close,
		// where it holds (no resolved_at).
		{`t": 0,`, " incident.critical_needs_impact"},
	}
	if diff := cmp.Diff(want, broken); diff != "" {
		t.Errorf("violations, with the text that revealed them (-want +got):\n%s", diff)
	}
}

// TestGrowingStrings: with Options.Strings a string field shows as it
// grows; a string limited to a list (category's "in" rule) does not.
func TestGrowingStrings(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ text, json, growing string }{
		{`{"category": "bil`, `{}`, ""},
		{`{"category": "billing", "summary": "Charged tw`, `{"category":"billing","summary":"Charged tw"}`, "summary"},
		{`{"category": "billing", "summary": "Charged \"tw\u00`, `{"category":"billing","summary":"Charged \"tw"}`, "summary"},
		{`{"category": "billing", "summary": "Charged \\`, `{"category":"billing","summary":"Charged \\"}`, "summary"},
		{`{"category": "billing", "summary": "Charged \`, `{"category":"billing","summary":"Charged "}`, "summary"},
	} {
		b := partial.New(target(t, ticket), partial.Options{Strings: true})
		b.Write(tt.text)
		msg, growing := b.Message()
		js, _ := protojson.Marshal(msg)
		if compact(string(js)) != compact(tt.json) || growing != tt.growing {
			t.Errorf("%s: message %s growing %q, want %s %q", tt.text, js, growing, tt.json, tt.growing)
		}
	}
}

// TestStops: a complete value that does not read as its field's stops the
// builder; the whole answer will say.
func TestStops(t *testing.T) {
	t.Parallel()
	b := partial.New(target(t, ticket), partial.Options{})
	b.Write(`{"category": "billing", "priority": "very high",`)
	if !errors.Is(b.Err(), partial.ErrUnreadable) {
		t.Fatalf("Err = %v, want ErrUnreadable", b.Err())
	}
	if got := b.Write(`{"category": "billing", "priority": "very high", "summary": "x"}`); got != nil {
		t.Errorf("completed %v after stopping", paths(got))
	}
	if b := partial.New(target(t, "google.protobuf.Value"), partial.Options{}); !errors.Is(b.Err(), partial.ErrWhole) {
		t.Errorf("Value target: Err = %v, want ErrWhole", b.Err())
	}
}

func TestWellKnownRoots(t *testing.T) {
	t.Parallel()
	b := partial.New(target(t, "google.protobuf.ListValue"), partial.Options{})
	got := paths(b.Write(`Colors: ["red", {"hex": "#0f0"}, 3]`))
	if diff := cmp.Diff([]string{"[0]", "[1]", "[2]", ""}, got); diff != "" {
		t.Errorf("ListValue completed (-want +got):\n%s", diff)
	}
	b = partial.New(target(t, "google.protobuf.Struct"), partial.Options{})
	got = paths(b.Write(`{"a": [1, 2], "b c": {"d": null}}`))
	if diff := cmp.Diff([]string{`"a"`, `"b c"`, ""}, got); diff != "" {
		t.Errorf("Struct completed (-want +got):\n%s", diff)
	}
}

// TestEndsAsTheAnswer: for generated answers of every example type,
// written byte by byte, the partial message at the end is the message the
// whole answer decodes to, and no prefix shows a field the answer does not
// end with.
func TestEndsAsTheAnswer(t *testing.T) {
	t.Parallel()
	for _, name := range []string{ticket, "guardgen.examples.v1.IncidentReport", "guardgen.examples.v1.TaskTree", "google.protobuf.ListValue"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tg := target(t, name)
			for _, prompt := range []string{"I was charged twice", "The app crashes on upload", "Résumé: 50% off, “quoted”"} {
				resp, err := synthetic.New().Complete(context.Background(), &providerv1.CompleteRequest{
					Messages:     []*providerv1.Message{{Role: providerv1.Role_ROLE_USER, Content: prompt}},
					OutputSchema: &providerv1.OutputSchema{JsonSchema: tg.JSONSchemaText},
				})
				if err != nil {
					t.Fatal(err)
				}
				text := resp.GetContent()
				want, _, err := tg.Decode([]byte(text), schema.DecodeOptions{})
				if err != nil {
					t.Fatal(err)
				}
				b := partial.New(tg, partial.Options{})
				for i := 1; i <= len(text); i++ {
					b.Write(text[:i])
					msg, _ := b.Message()
					if !contained(msg, want) {
						t.Fatalf("after %d bytes the partial %v is not part of the answer %v", i, msg, want)
					}
				}
				msg, _ := b.Message()
				if b.Err() != nil || !proto.Equal(msg, want) {
					t.Errorf("final partial (Err %v):\n%s", b.Err(), cmp.Diff(want, msg, protocmp.Transform()))
				}
			}
		})
	}
}

// contained reports whether every field set in part is set in whole to
// the same value: a nested message as far as part goes, a list's
// elements as a prefix of whole's, a map's entries among whole's.
func contained(part, whole proto.Message) bool {
	return containedIn(part.ProtoReflect(), whole.ProtoReflect())
}

func containedIn(part, whole protoreflect.Message) bool {
	ok := true
	part.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if !whole.Has(fd) {
			ok = false
			return false
		}
		w := whole.Get(fd)
		switch {
		case fd.IsList():
			pl, wl := v.List(), w.List()
			if pl.Len() > wl.Len() {
				ok = false
			}
			for i := 0; ok && i < pl.Len(); i++ {
				ok = equalValue(fd, pl.Get(i), wl.Get(i))
			}
		case fd.IsMap():
			wm := w.Map()
			v.Map().Range(func(k protoreflect.MapKey, pv protoreflect.Value) bool {
				ok = wm.Has(k) && equalValue(fd.MapValue(), pv, wm.Get(k))
				return ok
			})
		case fd.Message() != nil && fd.Message().FullName().Parent() != "google.protobuf":
			ok = containedIn(v.Message(), w.Message())
		default:
			ok = equalValue(fd, v, w)
		}
		return ok
	})
	return ok
}

func equalValue(fd protoreflect.FieldDescriptor, a, b protoreflect.Value) bool {
	if fd.Message() != nil {
		return proto.Equal(a.Message().Interface(), b.Message().Interface())
	}
	return a.Equal(b)
}
