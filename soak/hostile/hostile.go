// Package hostile builds the inputs an attacker, or a careless client,
// sends to guardgen: request-defined types with expensive rules, requests
// that do not decode, oversized metadata. Regression tests and the
// adversarial soak send the same ones. Nothing here needs a server; the
// package imports no other guardgen package, so any test can use it.
package hostile

import (
	"fmt"
	"strings"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Type is a request-defined target type with its descriptor set.
type Type struct {
	// Name is the target_type to ask for.
	Name string
	// Set defines Name.
	Set *descriptorpb.FileDescriptorSet
}

// CELType returns a type in package pkg whose message-level CEL rule is
// expr, over a message with a string field "text" and a repeated string
// field "tags".
func CELType(pkg, expr string) Type {
	opts := &descriptorpb.MessageOptions{}
	proto.SetExtension(opts, validatepb.E_Message, validatepb.MessageRules_builder{
		Cel: []*validatepb.Rule{validatepb.Rule_builder{
			Id:         proto.String("hostile.rule"),
			Message:    proto.String("hostile rule"),
			Expression: proto.String(expr),
		}.Build()},
	}.Build())
	return hostileMessage(pkg, opts, nil)
}

// PatternType returns a type in package pkg whose string field "text"
// carries the pattern rule.
func PatternType(pkg, pattern string) Type {
	fopts := &descriptorpb.FieldOptions{}
	proto.SetExtension(fopts, validatepb.E_Field, validatepb.FieldRules_builder{
		String: validatepb.StringRules_builder{Pattern: proto.String(pattern)}.Build(),
	}.Build())
	return hostileMessage(pkg, nil, fopts)
}

func hostileMessage(pkg string, msgOpts *descriptorpb.MessageOptions, textOpts *descriptorpb.FieldOptions) Type {
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING
	file := &descriptorpb.FileDescriptorProto{
		Name:       proto.String(strings.ReplaceAll(pkg, ".", "/") + "/hostile.proto"),
		Package:    proto.String(pkg),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"buf/validate/validate.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name:    proto.String("Hostile"),
			Options: msgOpts,
			Field: []*descriptorpb.FieldDescriptorProto{
				{Name: proto.String("text"), JsonName: proto.String("text"), Number: proto.Int32(1), Type: &str,
					Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Options: textOpts},
				{Name: proto.String("tags"), JsonName: proto.String("tags"), Number: proto.Int32(2), Type: &str,
					Label: descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()},
			},
		}},
	}
	return Type{Name: pkg + ".Hostile", Set: &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{file}}}
}

// StringBombRule is a CEL rule of a few hundred bytes whose string grows
// eightfold per replace: evaluated, it would build a string of 8^11 bytes.
func StringBombRule() string {
	return "'a'" + strings.Repeat(".replace('a', 'aaaaaaaa')", 11) + ".size() > 0"
}

// ComprehensionBombRule is a CEL rule of nested comprehensions over a
// literal list: depth levels of 20 iterations each (20^6, 64 million, for
// depth 6).
func ComprehensionBombRule(depth int) string {
	list := "[" + strings.TrimSuffix(strings.Repeat("1,", 20), ",") + "]"
	var b strings.Builder
	for i := range depth {
		fmt.Fprintf(&b, "%s.all(x%d, ", list, i)
	}
	b.WriteString("true")
	b.WriteString(strings.Repeat(")", depth))
	return b.String()
}

// RegexBombPattern is a pattern of about 13 KB that regexp (like RE2)
// accepts and compiles to over two million instructions, about 100 MB for
// one rule: 1,100 counted repetitions in a row (nesting them is refused,
// concatenating them is not). variant makes each call's pattern, and so
// each type built from it, distinct.
func RegexBombPattern(variant int) string {
	return fmt.Sprintf("^v%d(?:", variant) + strings.Repeat("[a-y]{1,999}", 1100) + ")$"
}

// InvalidUTF8Request is the wire encoding of a guardgen.v1.GenerateRequest
// (field 1 prompt, field 2 target_type) whose prompt is not valid UTF-8:
// proto3 strings must be, and protobuf-go refuses to decode it.
func InvalidUTF8Request(target string) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte("caf\xc3\x28 \xff"))
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, target)
	return b
}
