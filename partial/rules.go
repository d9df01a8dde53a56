package partial

import (
	"errors"
	"strings"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/guardgen/guardgen/classifier"
)

// A message-level CEL rule (a business rule such as "a critical incident
// states its impact") is checked as soon as every field it reads is
// complete (schema.Target.MessageRules), rather than when its message
// closes; a rule whose reads cannot be told waits for the close.

// ruleAt is a rule of the message at a proto path.
type ruleAt struct{ at, id string }

// checkReadyRules checks the message-level CEL rules of the message that
// holds u's field that u's completion made checkable: those whose fields
// are now all complete. Each runs once; the close of the message checks
// the rest.
func (b *Builder) checkReadyRules(u unit) {
	if len(u.hops) == 0 || u.kind != hopField {
		return // the root, or an element or entry: its field is not complete yet
	}
	parentHops := u.hops[:len(u.hops)-1]
	md := u.fd.ContainingMessage()
	rules := b.t.MessageRules(md)
	if len(rules) == 0 {
		return
	}
	at := ""
	if len(parentHops) > 0 {
		at = u.proto[:strings.LastIndexByte(u.proto, '.')]
	}
	var ready map[string]bool
	for _, r := range rules {
		key := ruleAt{at, r.ID}
		if r.Reads == nil || b.ruleRun[key] || !b.allComplete(at, r.Reads) {
			continue
		}
		b.ruleRun[key] = true
		if ready == nil {
			ready = make(map[string]bool, len(rules))
		}
		ready[r.ID] = true
	}
	if len(ready) == 0 {
		return
	}
	// Run the message's own rules on the partial message (the fields on
	// the way to it, and nothing else), and keep those that are ready.
	path := make(map[proto.Message]protoreflect.FieldDescriptor, len(parentHops))
	m := b.msg.ProtoReflect()
	for _, h := range parentHops {
		path[m.Interface()] = h.fd
		m = m.Get(h.fd).Message()
	}
	holder := m.Interface()
	filter := protovalidate.FilterFunc(func(m protoreflect.Message, d protoreflect.Descriptor) bool {
		if fd, onPath := path[m.Interface()]; onPath {
			return d == fd
		}
		return m.Interface() == holder && d == m.Descriptor()
	})
	var ve *protovalidate.ValidationError
	if !errors.As(b.t.Validate(b.msg, protovalidate.WithFilter(filter)), &ve) {
		return
	}
	for _, v := range ve.Violations {
		if ready[v.Proto.GetRuleId()] && classifier.FieldPath(v.Proto) == at {
			b.add(v)
		}
	}
}

// allComplete reports whether the fields names of the message at the
// proto path at are all complete.
func (b *Builder) allComplete(at string, names []protoreflect.Name) bool {
	for _, n := range names {
		if at == "" {
			if !b.complete[string(n)] {
				return false
			}
		} else if !b.complete[at+"."+string(n)] {
			return false
		}
	}
	return true
}
