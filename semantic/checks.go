package semantic

import (
	"fmt"
	"strings"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/internal/wellknown"
)

// Bounds on the marks of one type. A request may define its own types, so
// how much verification one answer can ask for is bounded here, before
// anything runs.
const (
	// MaxMarkedFields bounds the fields of one type (and the types it
	// contains) that carry marks.
	MaxMarkedFields = 256
	// MaxVerifiedFields bounds the fields with a verify question.
	MaxVerifiedFields = 32
)

// Mark is the semantic marks of one field (guardgen.v1.FieldSemantics).
type Mark struct {
	// Critical makes a failed check fail the answer rather than warn.
	Critical bool
	// MinConfidence is the least confidence of the field's values; 0 means
	// none.
	MinConfidence float64
	// Verify is the verifier's question; empty means no verification.
	Verify string
}

func (m Mark) zero() bool { return m == Mark{} }

func markOf(fs *guardgenv1.FieldSemantics) Mark {
	return Mark{Critical: fs.GetCritical(), MinConfidence: fs.GetMinConfidence(), Verify: fs.GetVerify()}
}

func (m Mark) proto() *guardgenv1.FieldSemantics {
	return &guardgenv1.FieldSemantics{Critical: m.Critical, MinConfidence: m.MinConfidence, Verify: m.Verify}
}

// Checks are the semantic checks of one target type: the marks of its
// fields, by field, and its verifier route. A Checks is immutable and safe
// for concurrent use; the zero value (and nil) checks nothing.
type Checks struct {
	// marks are keyed by the descriptors of the type the checks were made
	// from: Measure, With and Items take that same descriptor.
	marks map[protoreflect.FieldDescriptor]Mark
	// route is the verifier route; empty means the request's.
	route string
	// described lists the marked fields by the first path they appear
	// under, in field order, for DescribeTarget.
	described []*guardgenv1.SemanticField
	logprobs  bool // some field has a min_confidence
	verifies  bool // some field has a verify question
}

// Override is a configuration's marks for one type; see
// guardgen.config.v1.TargetSemantics.
type Override struct {
	// VerifierRoute replaces the type's own when not empty.
	VerifierRoute string
	// Fields maps a field path (dot-separated JSON or proto names) to the
	// marks that replace the field's own; an all-zero entry removes them.
	Fields map[string]*guardgenv1.FieldSemantics
}

// FromDescriptor reads the (guardgen.v1.field) options of every field of md
// and the types it contains, and md's (guardgen.v1.message) option. Options
// that break the rules in options.proto, or more marks than the bounds
// allow, are an error naming the field and the reason.
func FromDescriptor(md protoreflect.MessageDescriptor) (*Checks, error) {
	marks := make(map[protoreflect.FieldDescriptor]Mark)
	var err error
	visitPaths(md, func(_ string, fd protoreflect.FieldDescriptor) {
		if err != nil {
			return
		}
		var fs *guardgenv1.FieldSemantics
		if fs, err = fieldOption(fd); err != nil {
			return
		}
		if m := markOf(fs); !m.zero() {
			if err = protovalidate.Validate(fs); err != nil {
				err = fmt.Errorf("field %s: (guardgen.v1.field): %w", fd.FullName(), err)
				return
			}
			marks[fd] = m
		}
	})
	if err != nil {
		return nil, err
	}
	ms, err := messageOption(md)
	if err != nil {
		return nil, err
	}
	if err := protovalidate.Validate(ms); err != nil {
		return nil, fmt.Errorf("message %s: (guardgen.v1.message): %w", md.FullName(), err)
	}
	return build(md, marks, ms.GetVerifierRoute())
}

// With returns c with ov applied to md, the descriptor c was made from. A
// path that names no field of md is an error.
func (c *Checks) With(md protoreflect.MessageDescriptor, ov Override) (*Checks, error) {
	marks := make(map[protoreflect.FieldDescriptor]Mark, len(ov.Fields)+len(c.all()))
	for k, v := range c.all() {
		marks[k] = v
	}
	for path, fs := range ov.Fields {
		fd, err := fieldAt(md, path)
		if err != nil {
			return nil, err
		}
		if m := markOf(fs); m.zero() {
			delete(marks, fd)
		} else {
			marks[fd] = m
		}
	}
	route := c.VerifierRoute()
	if ov.VerifierRoute != "" {
		route = ov.VerifierRoute
	}
	return build(md, marks, route)
}

// build checks the bounds and indexes marks for the walks.
func build(md protoreflect.MessageDescriptor, marks map[protoreflect.FieldDescriptor]Mark, route string) (*Checks, error) {
	c := &Checks{marks: marks, route: route}
	verified := 0
	for _, m := range marks {
		c.logprobs = c.logprobs || m.MinConfidence > 0
		if m.Verify != "" {
			c.verifies = true
			verified++
		}
	}
	switch {
	case len(marks) > MaxMarkedFields:
		return nil, fmt.Errorf("%s: %d fields carry semantic marks; at most %d may", md.FullName(), len(marks), MaxMarkedFields)
	case verified > MaxVerifiedFields:
		return nil, fmt.Errorf("%s: %d fields have a verify question; at most %d may", md.FullName(), verified, MaxVerifiedFields)
	}
	if len(marks) > 0 {
		visitPaths(md, func(path string, fd protoreflect.FieldDescriptor) {
			if m, ok := marks[fd]; ok {
				c.described = append(c.described, &guardgenv1.SemanticField{Path: path, Semantics: m.proto()})
			}
		})
	}
	return c, nil
}

func (c *Checks) all() map[protoreflect.FieldDescriptor]Mark {
	if c == nil {
		return nil
	}
	return c.marks
}

// Mark returns the marks of fd, if it has any.
func (c *Checks) Mark(fd protoreflect.FieldDescriptor) (Mark, bool) {
	m, ok := c.all()[fd]
	return m, ok
}

// VerifierRoute is the route that answers verify questions; empty means the
// request's route.
func (c *Checks) VerifierRoute() string {
	if c == nil {
		return ""
	}
	return c.route
}

// NeedsLogprobs reports whether some field has a min_confidence, so the
// provider must be asked for token log-probabilities.
func (c *Checks) NeedsLogprobs() bool { return c != nil && c.logprobs }

// Verifies reports whether some field has a verify question.
func (c *Checks) Verifies() bool { return c != nil && c.verifies }

// Describe returns the marked fields by path and the message's marks, as
// DescribeTarget shows them. The results are the caller's.
func (c *Checks) Describe() ([]*guardgenv1.SemanticField, *guardgenv1.MessageSemantics) {
	if c == nil {
		return nil, nil
	}
	out := make([]*guardgenv1.SemanticField, len(c.described))
	for i, f := range c.described {
		out[i] = proto.CloneOf(f)
	}
	var ms *guardgenv1.MessageSemantics
	if c.route != "" {
		ms = &guardgenv1.MessageSemantics{VerifierRoute: c.route}
	}
	return out, ms
}

// visitPaths calls fn for every field reachable from md with the first
// path (JSON names, no indices) it appears under, depth first in field
// order, entering each message type once.
func visitPaths(md protoreflect.MessageDescriptor, fn func(path string, fd protoreflect.FieldDescriptor)) {
	seen := map[protoreflect.FullName]bool{}
	var walk func(md protoreflect.MessageDescriptor, prefix string)
	walk = func(md protoreflect.MessageDescriptor, prefix string) {
		if seen[md.FullName()] || wellKnown(md) {
			return
		}
		seen[md.FullName()] = true
		fields := md.Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			path := fd.JSONName()
			if prefix != "" {
				path = prefix + "." + path
			}
			fn(path, fd)
			if child := elementMessage(fd); child != nil {
				walk(child, path)
			}
		}
	}
	walk(md, "")
}

// elementMessage is the message type of fd's values (a map's values), or
// nil for scalars.
func elementMessage(fd protoreflect.FieldDescriptor) protoreflect.MessageDescriptor {
	if fd.IsMap() {
		return fd.MapValue().Message()
	}
	return fd.Message()
}

// fieldAt resolves a dot-separated path of JSON or proto names from md.
func fieldAt(md protoreflect.MessageDescriptor, path string) (protoreflect.FieldDescriptor, error) {
	var fd protoreflect.FieldDescriptor
	cur := md
	for name := range strings.SplitSeq(path, ".") {
		if cur == nil || wellKnown(cur) {
			return nil, fmt.Errorf("%s: path %q: %s has no fields to mark", md.FullName(), path, fd.FullName())
		}
		if fd = byName(cur, name); fd == nil {
			return nil, fmt.Errorf("%s: path %q: %s has no field %q", md.FullName(), path, cur.FullName(), name)
		}
		cur = elementMessage(fd)
	}
	return fd, nil
}

// byName finds a field by JSON name, then by proto name, as protojson does.
func byName(md protoreflect.MessageDescriptor, name string) protoreflect.FieldDescriptor {
	fields := md.Fields()
	if fd := fields.ByJSONName(name); fd != nil {
		return fd
	}
	return fields.ByTextName(name)
}

// wellKnown reports a type whose JSON form is not its fields (Timestamp,
// Struct, wrappers, ...): its values are marked as a whole.
func wellKnown(md protoreflect.MessageDescriptor) bool {
	return wellknown.JSONForm(md.FullName())
}

// optionTypes resolves guardgen's options when they arrived as unknown
// fields (a descriptor parsed without them registered).
var optionTypes = func() *protoregistry.Types {
	t := new(protoregistry.Types)
	_ = t.RegisterExtension(guardgenv1.E_Field)   // fresh registry: cannot conflict
	_ = t.RegisterExtension(guardgenv1.E_Message) // fresh registry: cannot conflict
	return t
}()

func fieldOption(fd protoreflect.FieldDescriptor) (*guardgenv1.FieldSemantics, error) {
	out := new(guardgenv1.FieldSemantics)
	if err := option(fd.Options(), new(descriptorpb.FieldOptions), guardgenv1.E_Field, out); err != nil {
		return nil, fmt.Errorf("field %s: (guardgen.v1.field): %w", fd.FullName(), err)
	}
	return out, nil
}

func messageOption(md protoreflect.MessageDescriptor) (*guardgenv1.MessageSemantics, error) {
	out := new(guardgenv1.MessageSemantics)
	if err := option(md.Options(), new(descriptorpb.MessageOptions), guardgenv1.E_Message, out); err != nil {
		return nil, fmt.Errorf("message %s: (guardgen.v1.message): %w", md.FullName(), err)
	}
	return out, nil
}

// option reads extension xt of opts into out. The value may be the
// generated type, a dynamic message (a descriptor set that brought its own
// copy of options.proto), or still unknown fields (a descriptor parsed
// without the extension registered); the last two are re-read through
// their wire form. fresh is an empty message of opts' type.
func option(opts, fresh proto.Message, xt protoreflect.ExtensionType, out proto.Message) error {
	if opts == nil || !opts.ProtoReflect().IsValid() {
		return nil
	}
	if proto.HasExtension(opts, xt) {
		v, ok := proto.GetExtension(opts, xt).(proto.Message)
		if !ok {
			return nil
		}
		if v.ProtoReflect().Descriptor() == out.ProtoReflect().Descriptor() {
			proto.Merge(out, v)
			return nil
		}
		wire, err := proto.Marshal(v)
		if err != nil {
			return err
		}
		return proto.Unmarshal(wire, out)
	}
	if len(opts.ProtoReflect().GetUnknown()) == 0 {
		return nil
	}
	wire, err := proto.Marshal(opts)
	if err != nil {
		return err
	}
	if err := (proto.UnmarshalOptions{Resolver: optionTypes}).Unmarshal(wire, fresh); err != nil {
		return err
	}
	if v, ok := proto.GetExtension(fresh, xt).(proto.Message); ok && proto.HasExtension(fresh, xt) {
		proto.Merge(out, v)
	}
	return nil
}
