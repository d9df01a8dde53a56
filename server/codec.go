package server

import (
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/guardgen/guardgen/classifier"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// requestCodec is grpc-go's proto codec with one difference, for guardgen's
// own request messages: a request that does not decode (a string field
// that is not UTF-8, bytes that are not protobuf) or that is larger than
// the server's message limit is not an error to grpc-go, which would answer
// INTERNAL or RESOURCE_EXHAUSTED with no details before any interceptor
// runs. The codec records the failure against the message instead, and
// edge (rejectUndecodableStream for streams) answers it with a
// FailureDetail. Other messages (health, reflection) decode as usual.
type requestCodec struct {
	encoding.CodecV2
	maxBytes int
	// failed maps a request message to why it did not decode; edge takes
	// each entry out.
	failed sync.Map
}

func newRequestCodec(maxBytes int) *requestCodec {
	return &requestCodec{CodecV2: encoding.GetCodecV2(protocodec.Name), maxBytes: maxBytes}
}

// ownRequest reports whether v is a guardgen.v1 request message.
func ownRequest(v any) (proto.Message, bool) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, false
	}
	return m, m.ProtoReflect().Descriptor().ParentFile().Package() == "guardgen.v1"
}

// Unmarshal implements encoding.CodecV2.
func (c *requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ours := ownRequest(v)
	if !ours {
		return c.CodecV2.Unmarshal(data, v)
	}
	if n := data.Len(); n > c.maxBytes {
		f := classifier.New(guardgenv1.FailureReason_FAILURE_REASON_REQUEST_TOO_LARGE,
			"the request is %d bytes, over the server's limit of %d", n, c.maxBytes)
		c.failed.Store(m, f.With("limit_bytes", strconv.Itoa(c.maxBytes)))
		return nil
	}
	if err := c.CodecV2.Unmarshal(data, v); err != nil {
		c.failed.Store(m, undecodable(data, m))
		proto.Reset(m)
	}
	return nil
}

// take returns, and forgets, why req did not decode; nil when it did.
func (c *requestCodec) take(req any) *classifier.Failure {
	f, ok := c.failed.LoadAndDelete(req)
	if !ok {
		return nil
	}
	return f.(*classifier.Failure)
}

// undecodable says why data is not a valid m, naming the first string
// field that is not UTF-8 when that is the reason.
func undecodable(data mem.BufferSlice, m proto.Message) *classifier.Failure {
	b := data.Materialize()
	if path := invalidUTF8(b, m.ProtoReflect().Descriptor()); path != nil {
		return classifier.New(guardgenv1.FailureReason_FAILURE_REASON_INVALID_REQUEST,
			"%s: not valid UTF-8 (protobuf string fields must be)", strings.Join(path, ".")).
			WithViolations([]*validatepb.Violation{fieldViolation(path, "string.utf8", "value must be valid UTF-8")}).
			With("field", strings.Join(path, "."))
	}
	return classifier.New(guardgenv1.FailureReason_FAILURE_REASON_INVALID_REQUEST,
		"the request is not a valid %s in the protobuf wire format", m.ProtoReflect().Descriptor().FullName())
}

// invalidUTF8 returns the path of the first string field in b that is not
// UTF-8, looking into nested messages, or nil.
func invalidUTF8(b []byte, md protoreflect.MessageDescriptor) []string {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil
		}
		b = b[n:]
		if typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return nil
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return nil
		}
		b = b[n:]
		fd := md.Fields().ByNumber(num)
		switch {
		case fd == nil:
		case fd.Kind() == protoreflect.StringKind && !utf8.Valid(v):
			return []string{string(fd.Name())}
		case fd.Message() != nil && !fd.IsMap():
			if sub := invalidUTF8(v, fd.Message()); sub != nil {
				return append([]string{string(fd.Name())}, sub...)
			}
		}
	}
	return nil
}

// fieldViolation is a violation of the request on the field at path
// (proto field names from the request's root).
func fieldViolation(path []string, ruleID, message string) *validatepb.Violation {
	elems := make([]*validatepb.FieldPathElement, len(path))
	for i, name := range path {
		elems[i] = validatepb.FieldPathElement_builder{FieldName: proto.String(name)}.Build()
	}
	return validatepb.Violation_builder{
		Field:   validatepb.FieldPath_builder{Elements: elems}.Build(),
		RuleId:  proto.String(ruleID),
		Message: proto.String(message),
	}.Build()
}

// rejectUndecodableStream is edge's undecodable-request step for streaming
// calls: each message the handler receives is checked as it arrives.
func (s *Server) rejectUndecodableStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, &checkedStream{ServerStream: ss, codec: s.codec})
}

// checkedStream turns a message the codec could not decode into the
// status that says why.
type checkedStream struct {
	grpc.ServerStream
	codec *requestCodec
}

// RecvMsg implements grpc.ServerStream.
func (c *checkedStream) RecvMsg(m any) error {
	if err := c.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if f := c.codec.take(m); f != nil {
		return statusOf(f)
	}
	return nil
}
