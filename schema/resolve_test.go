package schema

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	examplesv1 "github.com/guardgen/guardgen/gen/guardgen/examples/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

func TestResolveCompiledIn(t *testing.T) {
	t.Parallel()
	r := newResolver(t, Options{})
	tests := []struct {
		name     string
		wantType proto.Message
		wantName string
	}{
		{"guardgen.examples.v1.TicketClassification", &examplesv1.TicketClassification{}, "guardgen_examples_v1_TicketClassification"},
		{"guardgen.examples.v1.IncidentReport", &examplesv1.IncidentReport{}, "guardgen_examples_v1_IncidentReport"},
		{"guardgen.examples.v1.TaskTree", &examplesv1.TaskTree{}, "guardgen_examples_v1_TaskTree"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tg := resolve(t, r, tt.name, nil)
			if tg.Type != tt.wantType.ProtoReflect().Type() {
				t.Errorf("Type = %v, want the generated type", tg.Type)
			}
			if tg.Name != tt.wantName {
				t.Errorf("Name = %q, want %q", tg.Name, tt.wantName)
			}
			want := &guardgenv1.Target{
				FullName: tt.name,
				Source:   guardgenv1.TargetSource_TARGET_SOURCE_COMPILED_IN,
				File:     "guardgen/examples/v1/examples.proto",
			}
			if diff := cmp.Diff(want, tg.Info(), protocmp.Transform()); diff != "" {
				t.Errorf("Info() mismatch (-want +got):\n%s", diff)
			}
			if again := resolve(t, r, tt.name, &descriptorpb.FileDescriptorSet{}); again != tg {
				t.Error("an empty set did not resolve to the compiled-in target")
			}
		})
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	r := newResolver(t, Options{})
	const file = "guardgen/examples/v1/examples.proto"
	compiled := guardgenv1.TargetSource_TARGET_SOURCE_COMPILED_IN
	const structs, wrappers = "google/protobuf/struct.proto", "google/protobuf/wrappers.proto"
	want := []*guardgenv1.Target{
		{FullName: "guardgen.examples.v1.AffectedService", Source: compiled, File: file},
		{FullName: "guardgen.examples.v1.IncidentReport", Source: compiled, File: file},
		{FullName: "guardgen.examples.v1.Person", Source: compiled, File: file},
		{FullName: "guardgen.examples.v1.Producto", Source: compiled, File: file},
		{FullName: "guardgen.examples.v1.ShellStep", Source: compiled, File: file},
		{FullName: "guardgen.examples.v1.TaskTree", Source: compiled, File: file},
		{FullName: "guardgen.examples.v1.TicketClassification", Source: compiled, File: file},
		{FullName: "guardgen.examples.v1.TicketTags", Source: compiled, File: file},
		{FullName: "guardgen.examples.v1.TimelineEntry", Source: compiled, File: file},
		{FullName: "guardgen.examples.v1.VerifiedTicketClassification", Source: compiled, File: file},
		{FullName: "google.protobuf.BoolValue", Source: compiled, File: wrappers},
		{FullName: "google.protobuf.BytesValue", Source: compiled, File: wrappers},
		{FullName: "google.protobuf.DoubleValue", Source: compiled, File: wrappers},
		{FullName: "google.protobuf.FloatValue", Source: compiled, File: wrappers},
		{FullName: "google.protobuf.Int32Value", Source: compiled, File: wrappers},
		{FullName: "google.protobuf.Int64Value", Source: compiled, File: wrappers},
		{FullName: "google.protobuf.ListValue", Source: compiled, File: structs},
		{FullName: "google.protobuf.StringValue", Source: compiled, File: wrappers},
		{FullName: "google.protobuf.Struct", Source: compiled, File: structs},
		{FullName: "google.protobuf.UInt32Value", Source: compiled, File: wrappers},
		{FullName: "google.protobuf.UInt64Value", Source: compiled, File: wrappers},
		{FullName: "google.protobuf.Value", Source: compiled, File: structs},
	}
	if diff := cmp.Diff(want, r.List(), protocmp.Transform()); diff != "" {
		t.Errorf("List() mismatch (-want +got):\n%s", diff)
	}
}

// fdp builds a small file descriptor by hand, for sets no compiler would
// produce.
func fdp(name, pkg string, deps []string, messages ...*descriptorpb.DescriptorProto) *descriptorpb.FileDescriptorProto {
	return &descriptorpb.FileDescriptorProto{
		Name:        proto.String(name),
		Package:     proto.String(pkg),
		Dependency:  deps,
		MessageType: messages,
		Syntax:      proto.String("proto3"),
	}
}

func msg(name string, fields ...*descriptorpb.FieldDescriptorProto) *descriptorpb.DescriptorProto {
	return &descriptorpb.DescriptorProto{Name: proto.String(name), Field: fields}
}

func nested(depth int) *descriptorpb.DescriptorProto {
	m := msg("Level")
	if depth > 1 {
		m.NestedType = []*descriptorpb.DescriptorProto{nested(depth - 1)}
	}
	return m
}

func set(files ...*descriptorpb.FileDescriptorProto) *descriptorpb.FileDescriptorSet {
	return &descriptorpb.FileDescriptorSet{File: files}
}

func TestResolveErrors(t *testing.T) {
	t.Parallel()
	bigFile := fdp("big.proto", "big", nil, msg("Big"))
	bigFile.SourceCodeInfo = &descriptorpb.SourceCodeInfo{Location: []*descriptorpb.SourceCodeInfo_Location{
		{LeadingComments: proto.String(strings.Repeat("x", 3<<20))},
	}}
	badRules := compileSet(t, map[string]string{"bad.proto": `syntax = "proto3";
package bad.v1;
import "buf/validate/validate.proto";
message Bad {
  int32 count = 1 [(buf.validate.field).string.min_len = 1];
}
`}, "bad.proto")
	redefine := compileSet(t, map[string]string{"evil.proto": `syntax = "proto3";
package guardgen.examples.v1;
message TicketClassification { string category = 1; }
`}, "evil.proto")
	unresolvable := fdp("c.proto", "c", nil, msg("C", &descriptorpb.FieldDescriptorProto{
		Name:     proto.String("x"),
		Number:   proto.Int32(1),
		Label:    descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
		Type:     descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(),
		TypeName: proto.String(".nope.Nope"),
		JsonName: proto.String("x"),
	}))
	tests := []struct {
		desc       string
		opts       Options
		target     string
		set        *descriptorpb.FileDescriptorSet
		wantErr    error
		wantField  string
		wantReason string // a prefix of the reason
	}{
		{
			desc:       "unknown type",
			target:     "x.Y",
			wantErr:    ErrUnknownTarget,
			wantField:  FieldTargetType,
			wantReason: `unknown type "x.Y"; known: guardgen.examples.v1.AffectedService, guardgen.examples.v1.IncidentReport, guardgen.examples.v1.Person, guardgen.examples.v1.Producto, guardgen.examples.v1.ShellStep, guardgen.examples.v1.TaskTree, guardgen.examples.v1.TicketClassification, guardgen.examples.v1.TicketTags, guardgen.examples.v1.TimelineEntry, guardgen.examples.v1.VerifiedTicketClassification, google.protobuf.BoolValue, google.protobuf.BytesValue, google.protobuf.DoubleValue, google.protobuf.FloatValue, google.protobuf.Int32Value, google.protobuf.Int64Value, google.protobuf.ListValue, google.protobuf.StringValue, google.protobuf.Struct, google.protobuf.UInt32Value, and 2 more`,
		},
		{
			desc:       "set does not define the target",
			target:     "acme.v1.Missing",
			set:        orderSet(t),
			wantErr:    ErrInvalidDescriptorSet,
			wantField:  FieldDescriptorSet,
			wantReason: `does not define "acme.v1.Missing"`,
		},
		{
			desc:       "target is an enum",
			target:     "acme.v1.Status",
			set:        orderSet(t),
			wantErr:    ErrInvalidDescriptorSet,
			wantField:  FieldDescriptorSet,
			wantReason: `"acme.v1.Status" is not a message type`,
		},
		{
			desc:       "set redefines a known type",
			target:     "guardgen.examples.v1.TicketClassification",
			set:        redefine,
			wantErr:    ErrInvalidDescriptorSet,
			wantField:  FieldDescriptorSet,
			wantReason: `file "evil.proto" redefines known type "guardgen.examples.v1.TicketClassification"`,
		},
		{
			desc:       "dependency missing",
			target:     "a.A",
			set:        set(fdp("a.proto", "a", []string{"b.proto"}, msg("A"))),
			wantErr:    ErrInvalidDescriptorSet,
			wantField:  FieldDescriptorSet,
			wantReason: `file "a.proto" imports "b.proto", which is neither in the set nor known`,
		},
		{
			desc:       "import cycle",
			target:     "a.A",
			set:        set(fdp("a.proto", "a", []string{"b.proto"}, msg("A")), fdp("b.proto", "b", []string{"a.proto"})),
			wantErr:    ErrInvalidDescriptorSet,
			wantField:  FieldDescriptorSet,
			wantReason: `file "a.proto" imports itself through "b.proto"`,
		},
		{
			desc:       "unresolvable field type",
			target:     "c.C",
			set:        set(unresolvable),
			wantErr:    ErrInvalidDescriptorSet,
			wantField:  FieldDescriptorSet,
			wantReason: `file "c.proto": `,
		},
		{
			desc:       "file without a name",
			target:     "a.A",
			set:        set(fdp("", "a", nil, msg("A"))),
			wantErr:    ErrInvalidDescriptorSet,
			wantField:  FieldDescriptorSet,
			wantReason: `file #1 has no name`,
		},
		{
			desc:       "file twice",
			target:     "a.A",
			set:        set(fdp("a.proto", "a", nil, msg("A")), fdp("a.proto", "a", nil, msg("A"))),
			wantErr:    ErrInvalidDescriptorSet,
			wantField:  FieldDescriptorSet,
			wantReason: `file "a.proto" appears twice`,
		},
		{
			desc:       "rules that do not compile",
			target:     "bad.v1.Bad",
			set:        badRules,
			wantErr:    ErrInvalidDescriptorSet,
			wantField:  FieldDescriptorSet,
			wantReason: `rule "string" on bad.v1.Bad.count: rules do not apply to a field of this type`,
		},
		{
			desc:       "too large",
			target:     "big.Big",
			set:        set(bigFile),
			wantErr:    ErrInvalidDescriptorSet,
			wantField:  FieldDescriptorSet,
			wantReason: `3.0 MiB exceeds the 1 MiB limit`,
		},
		{
			desc:       "too many files",
			opts:       Options{MaxFiles: 1},
			target:     "a.A",
			set:        set(fdp("a.proto", "a", nil, msg("A")), fdp("b.proto", "b", nil)),
			wantErr:    ErrInvalidDescriptorSet,
			wantField:  FieldDescriptorSet,
			wantReason: `2 files exceed the limit of 1`,
		},
		{
			desc:       "too many messages",
			opts:       Options{MaxMessages: 1},
			target:     "acme.v1.Order",
			set:        orderSet(t),
			wantErr:    ErrInvalidDescriptorSet,
			wantField:  FieldDescriptorSet,
			wantReason: `more than 1 message types`,
		},
		{
			desc:       "nested too deep",
			target:     "d.Level",
			set:        set(fdp("d.proto", "d", nil, nested(33))),
			wantErr:    ErrInvalidDescriptorSet,
			wantField:  FieldDescriptorSet,
			wantReason: `message types nest more than 32 deep`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			r := newResolver(t, tt.opts)
			_, err := r.Resolve(tt.target, tt.set)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Resolve() error = %v, want %v", err, tt.wantErr)
			}
			var rerr *ResolveError
			if !errors.As(err, &rerr) {
				t.Fatalf("Resolve() error is %T, want *ResolveError", err)
			}
			if rerr.Field != tt.wantField || !strings.HasPrefix(rerr.Reason, tt.wantReason) {
				t.Errorf("Resolve() error = %q, want %s: %s…", err, tt.wantField, tt.wantReason)
			}
		})
	}
}

func TestResolveNesting(t *testing.T) {
	t.Parallel()
	r := newResolver(t, Options{MaxDepth: 3})
	if _, err := r.Resolve("d.Level", set(fdp("d.proto", "d", nil, nested(3)))); err != nil {
		t.Errorf("three levels: %v", err)
	}
	if _, err := r.Resolve("d.Level", set(fdp("d.proto", "d", nil, nested(4)))); !errors.Is(err, ErrInvalidDescriptorSet) {
		t.Errorf("four levels: error = %v, want ErrInvalidDescriptorSet", err)
	}
}

// violations lists "field path: rule id" for each violation in err.
func violations(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var verr *protovalidate.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Validate() error = %v, want *protovalidate.ValidationError", err)
	}
	var out []string
	for _, v := range verr.ToProto().GetViolations() {
		out = append(out, protovalidate.FieldPathString(v.GetField())+": "+v.GetRuleId())
	}
	return out
}

func TestResolveRequestSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		set  *descriptorpb.FileDescriptorSet
	}{
		{"options parsed", orderSet(t)},
		{"options as unknown fields", withUnknownOptions(t, orderSet(t))},
		{"set repeats known files", func() *descriptorpb.FileDescriptorSet {
			s := orderSet(t)
			s.File = append([]*descriptorpb.FileDescriptorProto{
				protodesc.ToFileDescriptorProto(timestamppb.File_google_protobuf_timestamp_proto),
				protodesc.ToFileDescriptorProto(validatepb.File_buf_validate_validate_proto),
			}, s.File...)
			return s
		}()},
	}
	const invalid = `{"id":"not-a-uuid","items":[{"sku":"bad","quantity":0}],"totalCents":"0",` +
		`"placedAt":"2024-01-01T00:00:00Z","status":"STATUS_OPEN"}`
	const valid = `{"id":"9b2f0b1e-4a8e-4a3c-9a57-0c1f2b3d4e5f","items":[{"sku":"ABC-1234","quantity":2}],` +
		`"totalCents":"1999","placedAt":"2024-01-01T00:00:00Z","status":"STATUS_SHIPPED"}`
	wantViolations := []string{
		": order.total_covers_items",
		"id: string.uuid",
		"items[0].sku: string.pattern",
		"items[0].quantity: uint32.gte_lte",
		"total_cents: int64.gt",
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			r := newResolver(t, Options{})
			tg := resolve(t, r, "acme.v1.Order", tt.set)
			if tg.Source != guardgenv1.TargetSource_TARGET_SOURCE_REQUEST {
				t.Errorf("Source = %v, want REQUEST", tg.Source)
			}
			if got := tg.Desc.Fields().ByName("placed_at").Message(); got != timestamppb.File_google_protobuf_timestamp_proto.Messages().Get(0) {
				t.Errorf("placed_at is %v, want the server's own Timestamp", got.FullName())
			}
			m, _, err := tg.Decode([]byte(invalid), DecodeOptions{Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wantViolations, violations(t, tg.Validate(m))); diff != "" {
				t.Errorf("violations mismatch (-want +got):\n%s", diff)
			}
			m, _, err = tg.Decode([]byte(valid), DecodeOptions{Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := tg.Validate(m); err != nil {
				t.Errorf("Validate(valid) = %v", err)
			}
			fields, rules := tg.Rules()
			var paths []string
			for _, f := range fields {
				paths = append(paths, f.GetPath())
			}
			wantPaths := []string{"id", "items", "items.sku", "items.quantity", "totalCents", "placedAt", "status"}
			if diff := cmp.Diff(wantPaths, paths); diff != "" {
				t.Errorf("Rules() paths mismatch (-want +got):\n%s", diff)
			}
			if len(rules) != 1 || rules[0].GetId() != "order.total_covers_items" {
				t.Errorf("Rules() message rules = %v, want order.total_covers_items", rules)
			}
		})
	}
}

func TestResolveCache(t *testing.T) {
	t.Parallel()
	r := newResolver(t, Options{CacheSize: 1})
	first := resolve(t, r, "acme.v1.Order", orderSet(t))
	if again := resolve(t, r, "acme.v1.Order", orderSet(t)); again != first {
		t.Error("the same set resolved to a new *Target")
	}
	item := resolve(t, r, "acme.v1.Order.Item", orderSet(t))
	if item == first {
		t.Error("another name in the same set resolved to the same *Target")
	}
	if n, _ := r.cache.stats(); n != 1 {
		t.Errorf("cache holds %d targets, want 1", n)
	}
	if again := resolve(t, r, "acme.v1.Order", orderSet(t)); again == first {
		t.Error("an evicted target was still returned")
	}
	if first.Hash != resolve(t, newResolver(t, Options{}), "acme.v1.Order", orderSet(t)).Hash {
		t.Error("Hash differs between resolvers")
	}
}

func TestResolveConcurrent(t *testing.T) {
	t.Parallel()
	r := newResolver(t, Options{})
	const n = 8
	got := make([]*Target, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i] = resolve(t, r, "acme.v1.Order", orderSet(t)) })
	}
	wg.Wait()
	for i := range n {
		if got[i] != got[0] {
			t.Fatalf("concurrent resolves built %d distinct targets", i+1)
		}
	}
}

func TestResolveSetRepeatingKnownTarget(t *testing.T) {
	t.Parallel()
	r := newResolver(t, Options{})
	known := resolve(t, r, "guardgen.examples.v1.TicketClassification", nil)
	s := set(protodesc.ToFileDescriptorProto(examplesv1.File_guardgen_examples_v1_examples_proto))
	if got := resolve(t, r, "guardgen.examples.v1.TicketClassification", s); got != known {
		t.Error("a set repeating the examples file did not resolve to the compiled-in target")
	}
}

func TestDescriptorFiles(t *testing.T) {
	t.Parallel()
	data, err := proto.Marshal(orderSet(t))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "order.binpb")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r := newResolver(t, Options{DescriptorFiles: []string{path}})
	fromFile := guardgenv1.TargetSource_TARGET_SOURCE_DESCRIPTOR_FILE
	var got []*guardgenv1.Target
	for _, info := range r.List() {
		if info.GetSource() == fromFile {
			got = append(got, info)
		}
	}
	want := []*guardgenv1.Target{
		{FullName: "acme.v1.Order", Source: fromFile, File: "acme/v1/order.proto"},
		{FullName: "acme.v1.Order.Item", Source: fromFile, File: "acme/v1/order.proto"},
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("List() mismatch (-want +got):\n%s", diff)
	}
	tg := resolve(t, r, "acme.v1.Order", nil)
	m, _, err := tg.Decode([]byte(`{"totalCents":"0"}`), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(violations(t, tg.Validate(m))) == 0 {
		t.Error("Validate() found no violations in an empty order")
	}
	_, err = r.Resolve("acme.v1.Order", compileSet(t, map[string]string{"other/order.proto": orderProto}, "other/order.proto"))
	if !errors.Is(err, ErrInvalidDescriptorSet) {
		t.Errorf("redefining a start-file type: error = %v, want ErrInvalidDescriptorSet", err)
	}
}

func TestNewResolverErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.binpb")
	if err := os.WriteFile(garbage, []byte("\xff\xff\xff"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc string
		opts Options
	}{
		{"missing file", Options{DescriptorFiles: []string{filepath.Join(dir, "missing.binpb")}}},
		{"not a descriptor set", Options{DescriptorFiles: []string{garbage}}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			if _, err := NewResolver(tt.opts); err == nil {
				t.Error("NewResolver() succeeded")
			}
		})
	}
}

func TestProviderName(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a.", 40) + "Message"
	tests := []struct {
		full string
		want string
	}{
		{"guardgen.examples.v1.TaskTree", "guardgen_examples_v1_TaskTree"},
		{"Top", "Top"},
		{long, strings.Repeat("a_", 27) + "a_2a8c646a"},
	}
	for _, tt := range tests {
		t.Run(tt.full, func(t *testing.T) {
			t.Parallel()
			if got := providerName(protoreflect.FullName(tt.full)); got != tt.want {
				t.Errorf("providerName(%q) = %q, want %q", tt.full, got, tt.want)
			}
		})
	}
}

// TestResolveWellKnown: the well-known JSON types are compiled-in targets
// whatever CompiledIn says, a request's set that imports their file names
// them too, and each answers in its JSON form.
func TestResolveWellKnown(t *testing.T) {
	t.Parallel()
	r := newResolver(t, Options{})
	set := compileSet(t, map[string]string{"poll/v1/poll.proto": `syntax = "proto3";
package poll.v1;
import "google/protobuf/struct.proto";
message Poll { google.protobuf.ListValue options = 1; }
`}, "poll/v1/poll.proto")
	tests := []struct {
		name string
		want Form
	}{
		{"google.protobuf.Struct", FormObject},
		{"google.protobuf.ListValue", FormArray},
		{"google.protobuf.Value", FormAny},
		{"google.protobuf.StringValue", FormScalar},
		{"google.protobuf.BoolValue", FormScalar},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tg := resolve(t, r, tt.name, nil)
			if got := tg.Form(); got != tt.want {
				t.Errorf("Form() = %v, want %v", got, tt.want)
			}
			if got := tg.Info().GetSource(); got != guardgenv1.TargetSource_TARGET_SOURCE_COMPILED_IN {
				t.Errorf("source = %v, want compiled in", got)
			}
		})
	}
	if got := resolve(t, r, "google.protobuf.ListValue", set); got != resolve(t, r, "google.protobuf.ListValue", nil) {
		t.Error("a set importing struct.proto did not resolve ListValue to the compiled-in target")
	}
	if _, err := r.Resolve("google.protobuf.Duration", set); err == nil {
		t.Error("Duration resolved from a set that neither defines nor imports it")
	}
}

// TestRequestBoundsRequired: a resolver that serves request-defined types
// has no defaults of its own for their bounds; with request types off it
// needs none.
func TestRequestBoundsRequired(t *testing.T) {
	t.Parallel()
	for _, clear := range []func(*Options){
		func(o *Options) { o.MaxDescriptorSetBytes = 0 },
		func(o *Options) { o.CacheSize = 0 },
		func(o *Options) { o.CacheBytes = 0 },
		func(o *Options) { o.MaxCELCost = 0 },
		func(o *Options) { o.MaxRegexInstructions = 0 },
		func(o *Options) { o.MaxValueBytes = 0 },
	} {
		opts := withBounds(Options{})
		clear(&opts)
		if _, err := NewResolver(opts); err == nil {
			t.Errorf("NewResolver(%+v) succeeded without a bound", opts)
		}
	}
	if _, err := NewResolver(Options{RequestTypesOff: true}); err != nil {
		t.Errorf("NewResolver with request types off: %v", err)
	}
}
