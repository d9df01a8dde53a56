package partial

import (
	"errors"
	"strings"
	"sync"

	"buf.build/go/protovalidate"
	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	lru "github.com/hashicorp/golang-lru/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/guardgen/guardgen/classifier"
)

// A message-level CEL rule (a business rule such as "a critical incident
// states its impact") is checked as soon as every field it reads is
// complete, rather than when its message closes: the fields it reads are
// found in its parsed expression, as the fields selected from `this`
// (`this.severity`, `has(this.resolved_at)`, `this.details.region` reads
// details). A rule that uses `this` any other way (passes it whole to a
// function, say) may read anything, and waits for the close.

// ruleAt is a rule of the message at a proto path.
type ruleAt struct{ at, id string }

// messageRule is a message-level CEL rule and the fields it reads.
type messageRule struct {
	id    string
	reads []protoreflect.Name // nil: unknown, checked when the message closes
}

// ruleParser parses rule expressions without checking them: reading which
// fields an expression selects needs only its syntax. The expressions of a
// request-defined type were bounded and compiled by the resolver before
// the target existed.
var ruleParser = sync.OnceValues(func() (*cel.Env, error) { return cel.NewEnv() })

// messageRules returns md's message-level CEL rules and what they read,
// found once per builder.
func (b *Builder) messageRules(md protoreflect.MessageDescriptor) []messageRule {
	if rules, ok := b.rules[md.FullName()]; ok {
		return rules
	}
	var rules []messageRule
	if mr, err := protovalidate.ResolveMessageRules(md); err == nil {
		for _, expr := range mr.GetCelExpression() {
			rules = append(rules, messageRule{id: expr, reads: reads(md, expr)})
		}
		for _, r := range mr.GetCel() {
			rules = append(rules, messageRule{id: r.GetId(), reads: reads(md, r.GetExpression())})
		}
	}
	if b.rules == nil {
		b.rules = make(map[protoreflect.FullName][]messageRule)
	}
	b.rules[md.FullName()] = rules
	return rules
}

// selections is what an expression's syntax says it reads: the names it
// selects from this, or known false when it uses this otherwise.
type selections struct {
	names []protoreflect.Name
	known bool
}

// parsedRules caches the selections of expressions by their text, for
// every builder: parsing is most of a rule's cost, and a target's rules
// are the same on every stream. Bounded, since request-defined types
// bring expressions of their own.
var parsedRules = func() *lru.Cache[string, selections] {
	c, err := lru.New[string, selections](1024)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return c
}()

// reads returns the fields of md that expr selects from this, or nil when
// that cannot be told.
func reads(md protoreflect.MessageDescriptor, expr string) []protoreflect.Name {
	sel, ok := parsedRules.Get(expr)
	if !ok {
		sel = parseSelections(expr)
		parsedRules.Add(expr, sel)
	}
	if !sel.known || len(sel.names) == 0 {
		return nil
	}
	for _, n := range sel.names {
		if md.Fields().ByName(n) == nil {
			return nil
		}
	}
	return sel.names
}

// parseSelections parses expr and finds the names it selects from this.
func parseSelections(expr string) selections {
	env, err := ruleParser()
	if err != nil {
		return selections{}
	}
	parsed, iss := env.Parse(expr)
	if iss.Err() != nil {
		return selections{}
	}
	sel := selections{known: true}
	// Select nodes whose operand is `this` name a field; any other `this`
	// is the whole message. The visitor sees a Select before its operand,
	// so the identifiers consumed by a Select are marked first.
	consumed := make(map[int64]bool)
	ast.PreOrderVisit(parsed.NativeRep().Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		switch e.Kind() {
		case ast.SelectKind:
			s := e.AsSelect()
			if op := s.Operand(); op.Kind() == ast.IdentKind && op.AsIdent() == "this" {
				consumed[op.ID()] = true
				sel.names = append(sel.names, protoreflect.Name(s.FieldName()))
			}
		case ast.IdentKind:
			if e.AsIdent() == "this" && !consumed[e.ID()] {
				sel.known = false
			}
		}
	}))
	return sel
}

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
	rules := b.messageRules(md)
	if len(rules) == 0 {
		return
	}
	at := ""
	if len(parentHops) > 0 {
		at = u.proto[:strings.LastIndexByte(u.proto, '.')]
	}
	var ready map[string]bool
	for _, r := range rules {
		key := ruleAt{at, r.id}
		if r.reads == nil || b.ruleRun[key] || !b.allComplete(at, r.reads) {
			continue
		}
		b.ruleRun[key] = true
		if ready == nil {
			ready = make(map[string]bool, len(rules))
		}
		ready[r.id] = true
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
