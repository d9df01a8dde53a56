package app_test

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	configv1 "github.com/guardgen/guardgen/gen/guardgen/config/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
)

// TestSizeSettings: each size bound of server takes the configured value:
// a request or answer over it fails as config.proto says, and the same
// call passes under config.Default's bound.
func TestSizeSettings(t *testing.T) {
	t.Parallel()
	note := &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{{
		Name:    proto.String("sizes/v1/note.proto"),
		Package: proto.String("sizes.v1"),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("Note"),
			Field: []*descriptorpb.FieldDescriptorProto{{
				Name: proto.String("text"), JsonName: proto.String("text"), Number: proto.Int32(1),
				Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
			}},
		}},
	}}}
	ticketReq := &guardgenv1.GenerateRequest{Prompt: "I was charged twice this month", TargetType: ticket}
	for _, tt := range []struct {
		setting string
		bound   string // the server setting's YAML
		req     *guardgenv1.GenerateRequest
		answer  openaitest.Step
		code    codes.Code
		reason  string // the FailureDetail's reason
	}{
		{"max_prompt_bytes", "max_prompt_bytes: 16", ticketReq, openaitest.Step{Content: validTicket}, codes.InvalidArgument, "INVALID_REQUEST"},
		{"max_descriptor_set_bytes", "max_descriptor_set_bytes: 16",
			&guardgenv1.GenerateRequest{Prompt: "A note", TargetType: "sizes.v1.Note", DescriptorSet: note},
			openaitest.Step{Content: `{"text":"a note"}`}, codes.InvalidArgument, "INVALID_DESCRIPTOR_SET"},
		{"max_output_bytes", "max_output_bytes: 40", ticketReq, openaitest.Step{Content: validTicket}, codes.Aborted, "OUTPUT_TOO_LARGE"},
		{"max_output_values", "max_output_values: 2", ticketReq, openaitest.Step{Content: validTicket}, codes.Aborted, "OUTPUT_TOO_LARGE"},
		{"max_provider_response_bytes", "max_provider_response_bytes: 1024", ticketReq, openaitest.Step{Content: validTicket, PadContent: 4096}, codes.Aborted, "OUTPUT_TOO_LARGE"},
	} {
		t.Run(tt.setting, func(t *testing.T) {
			t.Parallel()
			for _, bounded := range []bool{false, true} {
				up := upstream(t)
				up.SetDefault(tt.answer)
				cfg := openAIConfig(t, up)
				if bounded {
					setOnly(cfg.GetServer(), parse(t, "server: {"+tt.bound+"}\n").GetServer(), tt.setting)
				}
				_, err := generatePlan(t, client(t, cfg), "", tt.req)
				switch {
				case bounded && (status.Code(err) != tt.code || !strings.Contains(classifierReason(err), tt.reason)):
					t.Errorf("%s: %v (detail %v), want %v %s", tt.bound, err, detail(err), tt.code, tt.reason)
				case !bounded && err != nil:
					t.Errorf("under config.Default's %s: %v", tt.setting, err)
				}
			}
		})
	}
}

// setOnly copies the one field named setting from src to dst, leaving
// the rest of dst as openAIConfig made it.
func setOnly(dst, src *configv1.Server, setting string) {
	f := src.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(setting))
	if f == nil {
		panic(fmt.Sprintf("server has no field %s", setting))
	}
	dst.ProtoReflect().Set(f, src.ProtoReflect().Get(f))
}
