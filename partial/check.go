package partial

import (
	"errors"
	"strings"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/guardgen/guardgen/classifier"
)

// Check returns the violations found on complete ground since the last
// Check, as a *protovalidate.ValidationError, or nil. Each is reported
// once. A rule that cannot run on the partial message is left for the
// check of the final answer.
func (b *Builder) Check() error {
	for _, u := range b.closed {
		var ve *protovalidate.ValidationError
		if errors.As(b.t.Validate(b.msg, protovalidate.WithFilter(b.closeRules(u))), &ve) {
			for _, v := range ve.Violations {
				if b.onComplete(v.Proto) {
					b.add(v)
				}
			}
		}
	}
	b.closed = b.closed[:0]
	if len(b.pending) == 0 {
		return nil
	}
	err := &protovalidate.ValidationError{Violations: b.pending}
	b.pending = nil
	return err
}

// checkUnit validates msg, which holds only the unit u, and keeps the
// violations on u itself, at u's place (the message holds an element at
// index 0).
func (b *Builder) checkUnit(u unit, msg proto.Message) {
	var ve *protovalidate.ValidationError
	if !errors.As(b.t.Validate(msg, protovalidate.WithFilter(unitRules(msg, u))), &ve) {
		return
	}
	at := u.proto
	last := u.hops[len(u.hops)-1]
	if last.kind == hopElement {
		at = at[:strings.LastIndexByte(at, '[')] + "[0]"
	}
	for _, v := range ve.Violations {
		if !Within(classifier.FieldPath(v.Proto), at) {
			continue
		}
		if last.kind == hopElement {
			if elems := v.Proto.GetField().GetElements(); len(elems) >= len(u.hops) {
				elems[len(u.hops)-1].SetIndex(uint64(last.index))
			}
		}
		b.add(v)
	}
}

// unitRules lets only the rules of u's value run on msg, which holds only
// it: of the messages that lead to it (the path), the fields on the way,
// and inside it, everything. The rules of the path's messages and of the
// fields not yet written would only report what is not written yet.
func unitRules(msg proto.Message, u unit) protovalidate.Filter {
	path := make(map[proto.Message]protoreflect.FieldDescriptor, len(u.hops))
	m := msg.ProtoReflect()
	for i, h := range u.hops {
		path[m.Interface()] = h.fd
		if i == len(u.hops)-1 || !m.Has(h.fd) {
			break
		}
		m = m.Get(h.fd).Message()
	}
	return protovalidate.FilterFunc(func(m protoreflect.Message, d protoreflect.Descriptor) bool {
		fd, onPath := path[m.Interface()]
		if !onPath {
			return true
		}
		return d == fd
	})
}

// closeRules lets run on the partial message the rules that the close of
// container u made checkable: a closed list's or map's own rules
// (min_items, unique, max_pairs), or a closed message's rules and its
// fields' (message-level CEL, a required oneof, a required field that
// never came). Below the container nothing runs again: its values were
// checked as they completed.
func (b *Builder) closeRules(u unit) protovalidate.Filter {
	path := make(map[proto.Message]protoreflect.FieldDescriptor, len(u.hops))
	m := b.msg.ProtoReflect()
	var closed proto.Message // the closed message; nil for a list or map
	for i, h := range u.hops {
		path[m.Interface()] = h.fd
		if i == len(u.hops)-1 {
			if nested(h.fd) && m.Has(h.fd) {
				closed = m.Get(h.fd).Message().Interface()
			}
			break
		}
		m = m.Get(h.fd).Message()
	}
	if len(u.hops) == 0 {
		closed = b.msg
	}
	return protovalidate.FilterFunc(func(m protoreflect.Message, d protoreflect.Descriptor) bool {
		if fd, onPath := path[m.Interface()]; onPath {
			return d == fd
		}
		return closed != nil && m.Interface() == closed
	})
}

// Within reports whether path is prefix or a path inside it (a field,
// element or entry below it); every path is within the root, "".
func Within(path, prefix string) bool {
	if prefix == "" || path == prefix {
		return true
	}
	return strings.HasPrefix(path, prefix) && (path[len(prefix)] == '.' || path[len(prefix)] == '[')
}

// onComplete reports whether v is on complete ground: on a complete value
// or inside one (the root once closed holds everything).
func (b *Builder) onComplete(v *validatepb.Violation) bool {
	if b.complete[""] {
		return true
	}
	elems := v.GetField().GetElements()
	for n := 1; n <= len(elems); n++ {
		prefix := validatepb.Violation_builder{Field: validatepb.FieldPath_builder{Elements: elems[:n]}.Build()}.Build()
		if b.complete[classifier.FieldPath(prefix)] {
			return true
		}
	}
	return false
}

// add keeps v unless it was reported before.
func (b *Builder) add(v *protovalidate.Violation) {
	key := classifier.FieldPath(v.Proto) + "\x00" + v.Proto.GetRuleId()
	if b.seen[key] {
		return
	}
	b.seen[key] = true
	b.pending = append(b.pending, v)
}
