package schema

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/semantic"
)

// Target is a resolved target type: everything needed to ask a model for
// one and to check its answer. A Target is immutable and safe for
// concurrent use.
type Target struct {
	// Desc describes the message type.
	Desc protoreflect.MessageDescriptor
	// Type creates messages: the generated type for compiled-in targets,
	// a dynamicpb type otherwise.
	Type protoreflect.MessageType
	// Source says where the type was found.
	Source guardgenv1.TargetSource
	// Name is the schema name for providers: the full name with '.'
	// replaced by '_', shortened with a hash suffix beyond 64 characters, so
	// that it always matches ^[a-zA-Z0-9_-]{1,64}$.
	Name string
	// JSONSchema is the compact JSON Schema (draft 2020-12) of the type's
	// protojson form, derived once at resolution. Do not modify it.
	JSONSchema []byte
	// JSONSchemaText is JSONSchema as a string, for messages that carry the
	// schema as text (the provider contract), made once rather than per
	// request.
	JSONSchemaText string
	// Hash is a stable hex SHA-256 of the full name and the descriptor
	// files the type depends on, for use in cache keys.
	Hash string
	// Semantics are the semantic checks the type's own options declare
	// ((guardgen.v1.field), (guardgen.v1.message)), read and bounded once
	// at resolution.
	Semantics *semantic.Checks

	validator protovalidate.Validator
	types     typeResolver
	align     *alignment
	// weight is the estimated memory of a request-defined target, for the
	// type cache; zero for the others.
	weight int64
	// guard runs a request-defined type's CEL rules under a runtime cost
	// limit before protovalidate does; nil when it has none.
	guard     *celGuard
	rules     *ruleReads                 // message-level rules and what they read
	fast      *fastMsg                   // fastest path: see decodeFast; nil when off
	enc       *encMsg                    // Encode's fast path; nil when off
	unmarshal protojson.UnmarshalOptions // fast path: unknown fields fail
	discard   protojson.UnmarshalOptions // slow path: unknown fields skipped
}

// typeResolver finds message and extension types, as protojson needs for
// google.protobuf.Any and extensions.
type typeResolver interface {
	protoregistry.MessageTypeResolver
	protoregistry.ExtensionTypeResolver
}

// DecodeOptions tune [Target.Decode].
type DecodeOptions struct {
	// Strict makes an unknown field and every coercion an error instead
	// of a [Change].
	Strict bool
}

// Decode parses protojson data into a new message of the target type.
//
// Plain protojson is tried first, after a faster decoder for the plain
// objects it is sure protojson would decode alike (decodeFast). Only when
// protojson refuses data does Decode walk the JSON against the
// descriptor; there, in non-strict mode, unknown
// fields are left out and values with exactly one reading are coerced —
// enum names in another case or without their prefix, "true" and "false"
// in strings, numbers in strings with spaces or a plus sign, a single value
// for a repeated field — and each is reported as a [Change], in document
// order. In strict mode the first of them is a *[DecodeError] instead.
// Anything ambiguous (a name matching two enum values, 3.5 for an integer,
// a number out of range) fails in both modes. Every failure is a
// *DecodeError naming the JSON path and the reason, never the offending
// text.
func (t *Target) Decode(data []byte, opts DecodeOptions) (proto.Message, []Change, error) {
	m, ok := t.decodeFast(data)
	var changes []Change
	if !ok {
		m = t.Type.New().Interface()
		if err := t.unmarshal.Unmarshal(data, m); err != nil {
			if m, changes, err = t.decodeSlow(data, opts); err != nil {
				return nil, nil, err
			}
		}
	}
	if !opts.Strict && t.align.inStrings[t.Desc.FullName()] != nil {
		changes = t.alignInStrings(m.ProtoReflect(), "", changes)
	}
	return m, changes, nil
}

// Validate is [Target.ValidateContext] without a deadline.
func (t *Target) Validate(m proto.Message, opts ...protovalidate.ValidationOption) error {
	return t.ValidateContext(context.Background(), m, opts...)
}

// ValidateContext checks m against the target's protovalidate rules (opts
// may filter them). Violations come back as a
// *protovalidate.ValidationError. The CEL rules of a request-defined type
// first run under their runtime cost limit and ctx: past the limit the
// error is [ErrRuleCostExceeded] and nothing is validated.
func (t *Target) ValidateContext(ctx context.Context, m proto.Message, opts ...protovalidate.ValidationOption) error {
	if t.guard != nil {
		if err := t.guard.check(ctx, m.ProtoReflect()); err != nil {
			return err
		}
	}
	return t.validator.Validate(m, opts...)
}

// Info describes the target for the TargetService API.
func (t *Target) Info() *guardgenv1.Target {
	return &guardgenv1.Target{
		FullName: string(t.Desc.FullName()),
		Source:   t.Source,
		File:     t.Desc.ParentFile().Path(),
	}
}

// newRequestTarget makes the target of a request-defined type. Its
// validator is compiled (protovalidate.New builds the evaluators of the
// descriptors it is given) but, unlike the server's own targets', not
// warmed: warming runs the rules on a message, and the rules of a
// request-defined type run only on answers, within their checked bounds.
func newRequestTarget(
	md protoreflect.MessageDescriptor,
	v protovalidate.Validator,
	types typeResolver,
	hashFile func(protoreflect.FileDescriptor) [sha256.Size]byte,
) (*Target, error) {
	return assemble(md, dynamicpb.NewMessageType(md), guardgenv1.TargetSource_TARGET_SOURCE_REQUEST, v, types, hashFile)
}

// Estimated memory of a request-defined target's parts, measured with
// TestFootprintCoversHeap: linked descriptors and their validator per
// encoded descriptor byte, each compiled CEL rule (its program and the
// CEL environment protovalidate extends for it), each regular expression
// instruction (regexp's Inst and its one-pass copy), and a fixed part.
const (
	bytesPerDescriptorByte = 40
	bytesPerCELRule        = 64 << 10
	bytesPerRegexInst      = 64
	bytesPerTarget         = 512 << 10 // most of it the validator's CEL environment
)

// weigh estimates the memory a request-defined target keeps: its
// descriptors and validator, its JSON Schema (held as bytes and as text)
// and its compiled rules.
func weigh(setBytes, schemaBytes int, stats ruleStats) int64 {
	return bytesPerTarget +
		int64(setBytes)*bytesPerDescriptorByte +
		int64(schemaBytes)*2 +
		int64(stats.celRules)*bytesPerCELRule +
		int64(stats.regexInsts)*bytesPerRegexInst
}

// footprint is the target's estimated memory, for the type cache.
func (t *Target) footprint() int64 { return t.weight }

// newTarget derives the JSON Schema and checks that the validator builds
// for md, warming it. hashFile returns the SHA-256 of one descriptor file.
func newTarget(
	md protoreflect.MessageDescriptor,
	mt protoreflect.MessageType,
	source guardgenv1.TargetSource,
	v protovalidate.Validator,
	types typeResolver,
	hashFile func(protoreflect.FileDescriptor) [sha256.Size]byte,
) (*Target, error) {
	t, err := assemble(md, mt, source, v, types, hashFile)
	if err != nil {
		return nil, err
	}
	if err := t.warm(); err != nil {
		return nil, err
	}
	return t, nil
}

// assemble makes a target: derives its JSON Schema, hash and semantic
// checks and sets up its decoders around v.
func assemble(
	md protoreflect.MessageDescriptor,
	mt protoreflect.MessageType,
	source guardgenv1.TargetSource,
	v protovalidate.Validator,
	types typeResolver,
	hashFile func(protoreflect.FileDescriptor) [sha256.Size]byte,
) (*Target, error) {
	t := &Target{
		Desc:       md,
		Type:       mt,
		Source:     source,
		Name:       providerName(md.FullName()),
		JSONSchema: deriveJSONSchema(md),
		Hash:       closureHash(md, hashFile),
		validator:  v,
		types:      types,
		rules:      &ruleReads{},
		align:      newAlignment(md),
		fast:       newFastMsg(md),
		enc:        newEncMsg(md),
		unmarshal:  protojson.UnmarshalOptions{Resolver: types},
		discard:    protojson.UnmarshalOptions{Resolver: types, DiscardUnknown: true},
	}
	t.JSONSchemaText = string(t.JSONSchema)
	semantics, err := semantic.FromDescriptor(md)
	if err != nil {
		return nil, err
	}
	t.Semantics = semantics
	return t, nil
}

// warm validates an empty message so that every evaluator is built and
// used once, and reports rules that do not compile. Violations and CEL
// runtime errors on the empty message are expected and ignored.
func (t *Target) warm() error {
	err := t.validator.Validate(t.Type.New().Interface())
	var compileErr *protovalidate.CompilationError
	if errors.As(err, &compileErr) {
		return fmt.Errorf("rules of %q do not compile: %w", t.Desc.FullName(), compileErr)
	}
	return nil
}

// providerName turns a full name into a name providers accept for a schema.
func providerName(full protoreflect.FullName) string {
	name := strings.ReplaceAll(string(full), ".", "_")
	if len(name) <= 64 {
		return name
	}
	sum := sha256.Sum256([]byte(full))
	return name[:55] + "_" + hex.EncodeToString(sum[:4])
}

// closureHash hashes the full name and, sorted by path, every file in the
// import closure of the message's file.
func closureHash(md protoreflect.MessageDescriptor, hashFile func(protoreflect.FileDescriptor) [sha256.Size]byte) string {
	files := map[string]protoreflect.FileDescriptor{}
	var visit func(fd protoreflect.FileDescriptor)
	visit = func(fd protoreflect.FileDescriptor) {
		if _, ok := files[fd.Path()]; ok {
			return
		}
		files[fd.Path()] = fd
		imports := fd.Imports()
		for i := range imports.Len() {
			visit(imports.Get(i).FileDescriptor)
		}
	}
	visit(md.ParentFile())
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	h := sha256.New()
	h.Write([]byte(md.FullName()))
	for _, p := range paths {
		sum := hashFile(files[p])
		h.Write([]byte{0})
		h.Write([]byte(p))
		h.Write([]byte{0})
		h.Write(sum[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}
