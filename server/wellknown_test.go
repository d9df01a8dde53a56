package server_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/structpb"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// TestWellKnownTargets asks for every JSON shape: each well-known JSON type
// is a target, answers OK packed as itself, and DescribeTarget shows the
// JSON Schema providers get for it.
func TestWellKnownTargets(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	tests := []struct {
		target string
		schema string // the JSON Schema without $schema and title
	}{
		{"google.protobuf.Struct", `{"type":"object"}`},
		{"google.protobuf.Value", `{}`},
		{"google.protobuf.ListValue", `{"type":"array"}`},
		{"google.protobuf.StringValue", `{"type":"string"}`},
		{"google.protobuf.Int64Value", `{"type":"string","pattern":"^-?[0-9]+$"}`},
		{"google.protobuf.UInt32Value", `{"type":"integer","minimum":0,"maximum":4294967295}`},
		{"google.protobuf.DoubleValue", `{"type":"number"}`},
		{"google.protobuf.BoolValue", `{"type":"boolean"}`},
		{"google.protobuf.BytesValue", `{"type":"string","contentEncoding":"base64"}`},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			t.Parallel()
			resp, err := generate(t, h, "", &guardgenv1.GenerateRequest{Prompt: "anything", TargetType: tc.target})
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if got, want := resp.GetMessage().GetTypeUrl(), "type.googleapis.com/"+tc.target; got != want {
				t.Errorf("type URL = %q, want %q", got, want)
			}
			d, err := h.targets.DescribeTarget(context.Background(), &guardgenv1.DescribeTargetRequest{TargetType: tc.target})
			if err != nil {
				t.Fatalf("DescribeTarget: %v", err)
			}
			want := &structpb.Struct{}
			if err := want.UnmarshalJSON([]byte(tc.schema)); err != nil {
				t.Fatal(err)
			}
			got := proto.CloneOf(d.GetJsonSchema())
			delete(got.Fields, "$schema")
			delete(got.Fields, "title")
			if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
				t.Errorf("JSON Schema mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// structsProto is a request-defined type that imports the well-known JSON
// types.
var structsProto = &descriptorpb.FileDescriptorProto{
	Name:       proto.String("survey/v1/answer.proto"),
	Package:    proto.String("survey.v1"),
	Syntax:     proto.String("proto3"),
	Dependency: []string{"google/protobuf/struct.proto", "google/protobuf/wrappers.proto"},
	MessageType: []*descriptorpb.DescriptorProto{{
		Name: proto.String("Answer"),
		Field: []*descriptorpb.FieldDescriptorProto{
			{Name: proto.String("extra"), Number: proto.Int32(1), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
				Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".google.protobuf.Struct"), JsonName: proto.String("extra")},
			{Name: proto.String("choices"), Number: proto.Int32(2), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
				Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".google.protobuf.ListValue"), JsonName: proto.String("choices")},
			{Name: proto.String("score"), Number: proto.Int32(3), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
				Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".google.protobuf.DoubleValue"), JsonName: proto.String("score")},
		},
	}},
}

// TestWellKnownTypesFromDescriptorSet: a request's descriptor set may
// import the well-known JSON types, for its own type's fields and as the
// target itself.
func TestWellKnownTypesFromDescriptorSet(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	set := &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{structsProto}}
	for _, target := range []string{"survey.v1.Answer", "google.protobuf.ListValue"} {
		resp, err := generate(t, h, "", &guardgenv1.GenerateRequest{Prompt: "Pick two", TargetType: target, DescriptorSet: set})
		if err != nil {
			t.Fatalf("Generate(%s): %v", target, err)
		}
		if got, want := resp.GetMessage().GetTypeUrl(), "type.googleapis.com/"+target; got != want {
			t.Errorf("type URL = %q, want %q", got, want)
		}
	}
}
