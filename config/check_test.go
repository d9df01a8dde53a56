package config

import (
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	configv1 "github.com/guardgen/guardgen/gen/guardgen/config/v1"
)

// Every locator belongs to a CEL rule of config.proto, so a renamed rule
// cannot leave its locator behind unnoticed.
func TestLocatorsNameRules(t *testing.T) {
	t.Parallel()
	ids := map[string]bool{}
	var collect func(md protoreflect.MessageDescriptor)
	seen := map[protoreflect.FullName]bool{}
	collect = func(md protoreflect.MessageDescriptor) {
		if seen[md.FullName()] {
			return
		}
		seen[md.FullName()] = true
		if rules, ok := proto.GetExtension(md.Options(), validate.E_Message).(*validate.MessageRules); ok {
			for _, r := range rules.GetCel() {
				ids[r.GetId()] = true
			}
		}
		for i := range md.Fields().Len() {
			fd := md.Fields().Get(i)
			if rules, ok := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules); ok {
				for _, r := range rules.GetCel() {
					ids[r.GetId()] = true
				}
			}
			if fd.IsMap() {
				fd = fd.MapValue()
			}
			if fd.Message() != nil {
				collect(fd.Message())
			}
		}
	}
	collect((&configv1.Config{}).ProtoReflect().Descriptor())
	for id := range locators {
		if !ids[id] {
			t.Errorf("locator %q names no CEL rule in config.proto", id)
		}
	}
}
