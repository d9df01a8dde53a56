package partial

import (
	"errors"
	"strconv"
	"strings"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/guardgen/guardgen/extract"
	"github.com/guardgen/guardgen/schema"
)

// Options tune a Builder. The zero value means the defaults.
type Options struct {
	// Strict reads units in strict schema mode: keys must name fields
	// exactly and values are not coerced.
	Strict bool
	// Strings shows a string field while it is being written (see
	// Builder.Message); off, a string appears once complete.
	Strings bool
	// MaxBytes bounds the text followed; zero or less means
	// extract.DefaultMaxBytes.
	MaxBytes int
	// MaxValues bounds the units read; zero or less means
	// extract.DefaultMaxValues.
	MaxValues int
}

// Reasons a Builder stops.
var (
	// ErrWhole: answers of the target's type are only shown whole (a
	// scalar, a google.protobuf.Value).
	ErrWhole = errors.New("partial: answers of this type are shown whole")
	// ErrUnreadable: a complete value does not read as its field's, alone;
	// the whole answer will tell.
	ErrUnreadable = errors.New("partial: a complete value does not read as its field's value")
	// ErrTooMany: the answer has more values than Options.MaxValues.
	ErrTooMany = errors.New("partial: more values than MaxValues")
)

// Field is a complete value of the answer.
type Field struct {
	// Path is the value's path with JSON names: priority, details.region,
	// tags[0], labels["team"].
	Path string
	// Desc is the field the value is of: the list's or map's field for an
	// element or entry; nil for the root.
	Desc protoreflect.FieldDescriptor
}

// Builder builds the partial messages of one answer as its text grows.
// It is not safe for concurrent use.
type Builder struct {
	t    *schema.Target
	opts Options
	scan *extract.Stream
	msg  proto.Message
	err  error

	fields   []Field
	complete map[string]bool // proto paths of the complete values
	latest   []Field         // completed by the last Write
	units    int

	// pending are the violations found on complete ground since the last
	// Check; closed are the containers that closed since then.
	pending []*protovalidate.Violation
	closed  []unit
	seen    map[string]bool // violations reported, by path and rule

	// ruleRun are the message-level rules checked before their message
	// closed, by message path and id.
	ruleRun map[ruleAt]bool
}

// New returns a Builder of answers of type t.
func New(t *schema.Target, opts Options) *Builder {
	if opts.MaxValues <= 0 {
		opts.MaxValues = extract.DefaultMaxValues
	}
	b := &Builder{
		t:        t,
		opts:     opts,
		scan:     extract.NewStream(extract.StreamOptions{Arrays: t.Form() == schema.FormArray, MaxBytes: opts.MaxBytes}),
		msg:      t.Type.New().Interface(),
		complete: make(map[string]bool),
		seen:     make(map[string]bool),
		ruleRun:  make(map[ruleAt]bool),
	}
	if f := t.Form(); f == schema.FormScalar || f == schema.FormAny {
		b.err = ErrWhole
	}
	return b
}

// Err is why the builder stopped following the answer, or nil.
func (b *Builder) Err() error {
	if b.err != nil {
		return b.err
	}
	return b.scan.Err()
}

// Anchored reports whether the answer's object starts the text (but for
// whitespace and a markdown fence line): it is then the answer the final
// text will give, not an example in prose before it.
func (b *Builder) Anchored() bool { return b.scan.Anchored() }

// Done reports whether the answer's object has closed.
func (b *Builder) Done() bool { return b.scan.Done() }

// Offset is where the answer's object starts in the text; -1 before it.
func (b *Builder) Offset() int { return b.scan.Root() }

// Write reads text, the whole text so far (the previous call's and more),
// and returns the values it completed, in document order (valid until the
// next Write).
func (b *Builder) Write(text string) []Field {
	b.latest = b.latest[:0]
	if b.err != nil {
		return nil
	}
	b.scan.Scan(text, b.value)
	return b.latest
}

// Fields returns the complete values so far, in document order.
func (b *Builder) Fields() []Field { return b.fields }

// value handles one complete value of the text.
func (b *Builder) value(v extract.Value) {
	if b.err != nil {
		return
	}
	u, ok := b.resolve(v)
	if !ok {
		return
	}
	if u.container {
		b.close(u)
		return
	}
	if b.units++; b.units > b.opts.MaxValues {
		b.err = ErrTooMany
		return
	}
	if err := b.read(u, v.Text); err != nil {
		b.err = err
	}
}

// note records a complete value.
func (b *Builder) note(u unit) {
	f := Field{Path: u.json, Desc: u.fd}
	b.fields = append(b.fields, f)
	b.latest = append(b.latest, f)
	b.complete[u.proto] = true
	b.checkReadyRules(u)
}

// close records a closed message, list or map (or the root): the rules
// that read it, or read its fields, may be checked now. A message that
// closed empty is set, as its "{}" says.
func (b *Builder) close(u unit) {
	if u.fd != nil && u.kind == hopField && nested(u.fd) {
		if parent := b.parentOf(u); parent.IsValid() {
			parent.Mutable(u.fd)
		}
	}
	b.closed = append(b.closed, u)
	b.note(u)
}

// parentOf returns the message of the partial that holds u's field, made
// as needed.
func (b *Builder) parentOf(u unit) protoreflect.Message {
	m := b.msg.ProtoReflect()
	for _, h := range u.hops[:len(u.hops)-1] {
		m = m.Mutable(h.fd).Message()
	}
	return m
}

// quoteKey quotes a map key for a path as protovalidate's violations
// spell it: strings quoted, numbers and booleans bare.
func quoteKey(kind protoreflect.Kind, key string) (string, bool) {
	switch kind {
	case protoreflect.StringKind:
		return strconv.Quote(key), true
	case protoreflect.BoolKind:
		v, err := strconv.ParseBool(key)
		return strconv.FormatBool(v), err == nil
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		v, err := strconv.ParseUint(strings.TrimSpace(key), 10, 64)
		return strconv.FormatUint(v, 10), err == nil
	default:
		v, err := strconv.ParseInt(strings.TrimSpace(key), 10, 64)
		return strconv.FormatInt(v, 10), err == nil
	}
}
