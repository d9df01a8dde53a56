package semantic_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/descriptorpb"

	examplesv1 "github.com/guardgen/guardgen/gen/guardgen/examples/v1"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/semantic"
)

func TestFromDescriptor(t *testing.T) {
	t.Parallel()
	c := checksOf(t, ticket)
	fields, msg := c.Describe()
	want := []*guardgenv1.SemanticField{
		{Path: "priority", Semantics: &guardgenv1.FieldSemantics{Critical: true, MinConfidence: 0.7, Verify: "Is this priority justified by the ticket?"}},
		{Path: "summary", Semantics: &guardgenv1.FieldSemantics{MinConfidence: 0.3}},
	}
	if diff := cmp.Diff(want, fields, protocmp.Transform()); diff != "" {
		t.Errorf("Describe (-want +got):\n%s", diff)
	}
	if msg != nil || c.VerifierRoute() != "" || !c.NeedsLogprobs() || !c.Verifies() {
		t.Errorf("message %v route %q logprobs %v verifies %v", msg, c.VerifierRoute(), c.NeedsLogprobs(), c.Verifies())
	}
	plain := checksOf(t, (&examplesv1.TicketClassification{}).ProtoReflect().Descriptor())
	if plain.NeedsLogprobs() || plain.Verifies() {
		t.Error("TicketClassification has no marks, but its checks ask for logprobs or verification")
	}
}

// file builds a message "t.v1.M" with one field per FieldOptions given,
// each carrying (guardgen.v1.field) as set; wire re-encodes the options so
// they arrive as unknown fields, as they do from a parser that lacks
// options.proto.
func file(t *testing.T, route string, wire bool, opts ...*guardgenv1.FieldSemantics) protoreflect.MessageDescriptor {
	t.Helper()
	msg := &descriptorpb.DescriptorProto{Name: proto.String("M")}
	for i, fs := range opts {
		fo := &descriptorpb.FieldOptions{}
		proto.SetExtension(fo, guardgenv1.E_Field, fs)
		if wire {
			b, err := proto.Marshal(fo)
			if err != nil {
				t.Fatal(err)
			}
			fo = &descriptorpb.FieldOptions{}
			if err := (proto.UnmarshalOptions{Resolver: new(protoregistry.Types)}).Unmarshal(b, fo); err != nil {
				t.Fatal(err)
			}
		}
		msg.Field = append(msg.Field, &descriptorpb.FieldDescriptorProto{
			Name:     proto.String(fmt.Sprintf("f%d", i)),
			Number:   proto.Int32(int32(i + 1)),
			Type:     descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
			Label:    descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
			JsonName: proto.String(fmt.Sprintf("f%d", i)),
			Options:  fo,
		})
	}
	if route != "" {
		msg.Options = &descriptorpb.MessageOptions{}
		proto.SetExtension(msg.Options, guardgenv1.E_Message, &guardgenv1.MessageSemantics{VerifierRoute: route})
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name: proto.String("t/v1/m.proto"), Package: proto.String("t.v1"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{msg},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Messages().Get(0)
}

func TestFromDescriptorReadsUnknownOptions(t *testing.T) {
	t.Parallel()
	md := file(t, "cheap", true, &guardgenv1.FieldSemantics{Critical: true, Verify: "Is it so?"})
	c := checksOf(t, md)
	if m, ok := c.Mark(md.Fields().Get(0)); !ok || m != (semantic.Mark{Critical: true, Verify: "Is it so?"}) {
		t.Errorf("mark = %+v, %v", m, ok)
	}
	if c.VerifierRoute() != "cheap" {
		t.Errorf("route = %q, want cheap", c.VerifierRoute())
	}
}

func TestFromDescriptorRejects(t *testing.T) {
	t.Parallel()
	many := make([]*guardgenv1.FieldSemantics, semantic.MaxVerifiedFields+1)
	for i := range many {
		many[i] = &guardgenv1.FieldSemantics{Verify: "?"}
	}
	tests := []struct {
		name string
		md   protoreflect.MessageDescriptor
		want string
	}{
		{"min_confidence above 1", file(t, "", false, &guardgenv1.FieldSemantics{MinConfidence: 1.5}), "t.v1.M.f0: (guardgen.v1.field)"},
		{"a long question", file(t, "", true, &guardgenv1.FieldSemantics{Verify: strings.Repeat("?", 501)}), "verify"},
		{"a bad route", file(t, "no route!", false), "verifier_route"},
		{"too many questions", file(t, "", false, many...), "at most 32"},
	}
	for _, tt := range tests {
		_, err := semantic.FromDescriptor(tt.md)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error naming %q", tt.name, err, tt.want)
		}
	}
}

func TestWith(t *testing.T) {
	t.Parallel()
	c := checksOf(t, ticket)
	got, err := c.With(ticket, semantic.Override{
		VerifierRoute: "cheap",
		Fields: map[string]*guardgenv1.FieldSemantics{
			"summary":  {}, // removes summary's own marks
			"category": {Verify: "Does the ticket concern this?"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	fields, msg := got.Describe()
	var paths []string
	for _, f := range fields {
		paths = append(paths, f.GetPath())
	}
	if diff := cmp.Diff([]string{"category", "priority"}, paths); diff != "" || msg.GetVerifierRoute() != "cheap" {
		t.Errorf("fields (-want +got):\n%s; message %v", diff, msg)
	}
	if _, err := c.With(ticket, semantic.Override{Fields: map[string]*guardgenv1.FieldSemantics{"priority.level": {Critical: true}}}); err == nil ||
		!strings.Contains(err.Error(), `"priority.level"`) {
		t.Errorf("a path through a scalar: %v", err)
	}
	if _, err := c.With(ticket, semantic.Override{Fields: map[string]*guardgenv1.FieldSemantics{"urgency": {Critical: true}}}); err == nil ||
		!strings.Contains(err.Error(), `no field "urgency"`) {
		t.Errorf("an unknown field: %v", err)
	}
	if _, ok := c.Mark(ticket.Fields().ByName("summary")); !ok {
		t.Error("With changed the checks it was called on")
	}
}

func TestItems(t *testing.T) {
	t.Parallel()
	incident := (&examplesv1.IncidentReport{}).ProtoReflect().Descriptor()
	c, err := checksOf(t, incident).With(incident, semantic.Override{Fields: map[string]*guardgenv1.FieldSemantics{
		"severity":      {Critical: true, Verify: "Is the severity right?"},
		"services":      {Verify: "Were these services affected?"},
		"services.name": {Verify: "Is this a real service?"},
		"labels":        {Verify: "Do these labels fit?"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	msg := &examplesv1.IncidentReport{
		Severity: examplesv1.Severity_SEVERITY_HIGH,
		Services: []*examplesv1.AffectedService{{Name: "api"}, {Name: "db"}},
		Labels:   map[string]string{"team": "payments"},
	}
	items, dropped := c.Items(msg, 4)
	want := []semantic.Item{
		{Path: "severity", Question: "Is the severity right?", Value: `"SEVERITY_HIGH"`, Critical: true},
		{Path: "services", Question: "Were these services affected?", Value: `[{"name":"api"},{"name":"db"}]`},
		{Path: "services[0].name", Question: "Is this a real service?", Value: `"api"`},
		{Path: "services[1].name", Question: "Is this a real service?", Value: `"db"`},
	}
	if diff := cmp.Diff(want, items, jsonValues); diff != "" || dropped != 1 {
		t.Errorf("Items (-want +got):\n%s\ndropped %d, want 1 (labels)", diff, dropped)
	}
}

// jsonValues compares Item values as JSON, whatever protojson's spacing.
var jsonValues = cmp.Transformer("json", func(it semantic.Item) semantic.Item {
	var v any
	if json.Unmarshal([]byte(it.Value), &v) == nil {
		b, _ := json.Marshal(v)
		it.Value = string(b)
	}
	return it
})

func TestVerifierMessages(t *testing.T) {
	t.Parallel()
	items := []semantic.Item{
		{Path: "priority", Question: "Is this priority justified by the ticket?", Value: "5"},
		{Path: "summary", Question: "Is this what the ticket says?", Value: `"` + strings.Repeat("x", 3000) + `"`},
	}
	msgs := semantic.VerifierMessages("The site is down for everyone", `{"priority":5}`, items, "guardgen_v1_Verdict")
	if len(msgs) != 2 || msgs[0].GetRole() != providerv1.Role_ROLE_SYSTEM || !strings.Contains(msgs[0].GetContent(), "guardgen_v1_Verdict") {
		t.Fatalf("messages = %v", msgs)
	}
	user := msgs[1].GetContent()
	for _, want := range []string{"The site is down for everyone", `{"priority":5}`, `"field": "priority"`, `"value": 5`, "Is this priority justified by the ticket?", "(cut short)"} {
		if !strings.Contains(user, want) {
			t.Errorf("verifier prompt lacks %q:\n%s", want, user)
		}
	}
	if len(user) > 4000 {
		t.Errorf("a 3000-byte value made a %d-byte prompt", len(user))
	}
}
