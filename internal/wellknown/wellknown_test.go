package wellknown_test

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/guardgen/guardgen/internal/wellknown"
)

// TestJSONForm: every type protojson has a form of its own for is in the
// list, the wrappers are exactly wrappers.proto's messages, and a
// descriptor type (written by protojson as its fields) or a user type
// named like a well-known one is not.
func TestJSONForm(t *testing.T) {
	t.Parallel()
	own := []proto.Message{
		&anypb.Any{}, &timestamppb.Timestamp{}, &durationpb.Duration{}, &fieldmaskpb.FieldMask{},
		&structpb.Struct{}, &structpb.Value{}, &structpb.ListValue{}, &emptypb.Empty{},
		&wrapperspb.DoubleValue{}, &wrapperspb.FloatValue{}, &wrapperspb.Int64Value{}, &wrapperspb.UInt64Value{},
		&wrapperspb.Int32Value{}, &wrapperspb.UInt32Value{}, &wrapperspb.BoolValue{}, &wrapperspb.StringValue{},
		&wrapperspb.BytesValue{},
	}
	for _, m := range own {
		name := m.ProtoReflect().Descriptor().FullName()
		if !wellknown.JSONForm(name) {
			t.Errorf("%s: JSONForm false, but protojson writes it its own way", name)
		}
		if got, want := wellknown.Wrapper(name), m.ProtoReflect().Descriptor().ParentFile().Path() == "google/protobuf/wrappers.proto"; got != want {
			t.Errorf("%s: Wrapper %v, want %v", name, got, want)
		}
	}
	// A descriptor type is a plain message: its fields, by their JSON names.
	fd := &descriptorpb.FieldDescriptorProto{JsonName: proto.String("x")}
	b, err := protojson.Marshal(fd)
	if err != nil || string(b) != `{"jsonName":"x"}` && string(b) != `{"jsonName": "x"}` {
		t.Fatalf("protojson wrote a FieldDescriptorProto as %s (%v)", b, err)
	}
	for _, name := range []protoreflect.FullName{"google.protobuf.FieldDescriptorProto", "google.protobuf.FileOptions", "acme.v1.Timestamp"} {
		if wellknown.JSONForm(name) {
			t.Errorf("%s: JSONForm true for a message written as its fields", name)
		}
	}
}
