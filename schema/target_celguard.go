package schema

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// ErrRuleCostExceeded means the CEL rules of a request-defined type went
// over their runtime cost limit on a message: validation did not run.
var ErrRuleCostExceeded = errors.New("the rules' runtime cost limit was exceeded")

// interruptEvery is how many comprehension iterations a guard program runs
// between checks of its context.
const interruptEvery = 100

// celGuard is the runtime line behind the static cost estimate.
// protovalidate-go builds its own CEL programs and has no option to give
// them a cel.CostLimit or a context, so before protovalidate validates a
// message of a request-defined type, the guard evaluates the type's own
// CEL rules on the same values, as cel-go programs with a cost limit that
// check ctx as they go, and adds up their actual cost. Only when the total
// stays within the limit does protovalidate run them again, at the same
// cost. The guard's results are discarded: protovalidate's are the answer.
// It binds values as protovalidate does (this, and rule and rules for
// predefined rules) and evaluates a field's rules even where protovalidate
// might skip them (an ignored zero value), which can only over-count.
type celGuard struct {
	limit    uint64
	local    map[protoreflect.FullName]bool // message types of the set
	messages map[protoreflect.FullName][]cel.Program
	fields   map[protoreflect.FullName][]fieldProgram // by containing message
}

// valuesOf says which values of a field a rule applies to.
type valuesOf int

const (
	wholeValue valuesOf = iota // the field's value (a list or map as a whole)
	listItems
	mapKeys
	mapValues
)

// site is where a field rule applies: a field and which of its values.
type site struct {
	field protoreflect.FieldDescriptor
	each  valuesOf
}

// value is the descriptor that types the rule's this.
func (s site) value() protoreflect.FieldDescriptor {
	switch s.each {
	case mapKeys:
		return s.field.MapKey()
	case mapValues:
		return s.field.MapValue()
	}
	return s.field
}

// fieldProgram is one field rule. rules and rule are set for a predefined
// rule: the rules message that sets it and the extension's value.
type fieldProgram struct {
	at    site
	prog  cel.Program
	rules proto.Message
	rule  any
}

func newCELGuard(limit uint64, local *protoregistry.Files) *celGuard {
	g := &celGuard{
		limit:    limit,
		local:    make(map[protoreflect.FullName]bool),
		messages: make(map[protoreflect.FullName][]cel.Program),
		fields:   make(map[protoreflect.FullName][]fieldProgram),
	}
	local.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		for _, md := range messages(fd) {
			g.local[md.FullName()] = true
		}
		return true
	})
	return g
}

func (g *celGuard) addField(at site, p fieldProgram) {
	p.at = at
	parent := at.field.ContainingMessage().FullName()
	g.fields[parent] = append(g.fields[parent], p)
}

// empty reports whether the set has no CEL rules to guard.
func (g *celGuard) empty() bool { return len(g.messages) == 0 && len(g.fields) == 0 }

// check evaluates the guarded rules on m and its request-defined
// submessages, failing with [ErrRuleCostExceeded] once their actual cost
// adds up past the limit, or with ctx's error.
func (g *celGuard) check(ctx context.Context, m protoreflect.Message) error {
	_, err := g.walk(ctx, m)
	return err
}

func (g *celGuard) walk(ctx context.Context, m protoreflect.Message) (*guardWalk, error) {
	w := &guardWalk{g: g, ctx: ctx, now: timestamppb.Now()}
	return w, w.message(m)
}

type guardWalk struct {
	g     *celGuard
	ctx   context.Context
	now   *timestamppb.Timestamp
	spent uint64
	// evals and errs count evaluations and evaluation errors, for tests:
	// an error would mean this was bound unlike protovalidate binds it.
	evals, errs int
}

func (w *guardWalk) eval(prog cel.Program, vars map[string]any) error {
	vars["now"] = w.now
	_, details, err := prog.ContextEval(w.ctx, vars)
	w.evals++
	if err != nil {
		w.errs++
	}
	if c := details.ActualCost(); c != nil {
		w.spent += *c
	}
	switch {
	case w.spent > w.g.limit, err != nil && strings.Contains(err.Error(), "cost limit exceeded"):
		return fmt.Errorf("%w (%d)", ErrRuleCostExceeded, w.g.limit)
	case w.ctx.Err() != nil:
		return w.ctx.Err()
	}
	return nil // an evaluation error is protovalidate's to report
}

func (w *guardWalk) message(m protoreflect.Message) error {
	md := m.Descriptor()
	for _, prog := range w.g.messages[md.FullName()] {
		if err := w.eval(prog, map[string]any{"this": m.Interface()}); err != nil {
			return err
		}
	}
	for _, fp := range w.g.fields[md.FullName()] {
		fd := fp.at.field
		if fd.HasPresence() && !m.Has(fd) {
			continue
		}
		if err := w.field(fp, m.Get(fd)); err != nil {
			return err
		}
	}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		sub := fd.Message()
		if fd.IsMap() {
			sub = fd.MapValue().Message()
		}
		if sub == nil || !w.g.local[sub.FullName()] {
			return true
		}
		switch {
		case fd.IsList():
			for i, l := 0, v.List(); i < l.Len() && err == nil; i++ {
				err = w.message(l.Get(i).Message())
			}
		case fd.IsMap():
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				err = w.message(mv.Message())
				return err == nil
			})
		default:
			err = w.message(v.Message())
		}
		return err == nil
	})
	return err
}

// field evaluates one field rule on the values it applies to.
func (w *guardWalk) field(fp fieldProgram, v protoreflect.Value) error {
	run := func(this any) error {
		vars := map[string]any{"this": this}
		if fp.rules != nil {
			vars["rules"], vars["rule"] = fp.rules, fp.rule
		}
		return w.eval(fp.prog, vars)
	}
	fd := fp.at.field
	switch fp.at.each {
	case listItems:
		for i, l := 0, v.List(); i < l.Len(); i++ {
			if err := run(scalarOrMessage(fd, l.Get(i))); err != nil {
				return err
			}
		}
		return nil
	case mapKeys, mapValues:
		var err error
		v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
			if fp.at.each == mapKeys {
				err = run(k.Interface())
			} else {
				err = run(scalarOrMessage(fd.MapValue(), mv))
			}
			return err == nil
		})
		return err
	}
	return run(celValue(fd, v))
}

// celValue is a field's value as CEL sees it in protovalidate: a list as
// the protobuf list, a map as a Go map of the same entries, messages as
// messages, enums as numbers.
func celValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch {
	case fd.IsList():
		return v.List()
	case fd.IsMap():
		out := make(map[any]any, v.Map().Len())
		v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
			out[k.Interface()] = scalarOrMessage(fd.MapValue(), mv)
			return true
		})
		return out
	}
	return scalarOrMessage(fd, v)
}

func scalarOrMessage(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return v.Message().Interface()
	case protoreflect.EnumKind:
		return v.Enum()
	}
	return v.Interface()
}
