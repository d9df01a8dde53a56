package schema

import (
	"sync"

	"buf.build/go/protovalidate"
	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// MessageRule is a message-level CEL rule (a business rule) of a target's
// message type and the fields it reads: the fields its expression selects
// from `this` (`this.severity`, `has(this.resolved_at)`; `this.details.region`
// reads details). Reads is nil when that cannot be told — the rule uses
// `this` any other way (passes it whole to a function, say), or names no
// field — and the rule may read anything.
type MessageRule struct {
	ID    string
	Reads []protoreflect.Name
}

// ruleReads holds a target's MessageRules by message type, found once.
type ruleReads struct {
	mu    sync.Mutex
	types map[protoreflect.FullName][]MessageRule
}

// MessageRules returns the message-level CEL rules of md, a message type
// of the target, with the fields each reads. They are parsed on first use
// and kept with the target.
func (t *Target) MessageRules(md protoreflect.MessageDescriptor) []MessageRule {
	t.rules.mu.Lock()
	defer t.rules.mu.Unlock()
	if rules, ok := t.rules.types[md.FullName()]; ok {
		return rules
	}
	var rules []MessageRule
	if mr, err := protovalidate.ResolveMessageRules(md); err == nil {
		for _, expr := range mr.GetCelExpression() {
			rules = append(rules, MessageRule{ID: expr, Reads: reads(md, expr)})
		}
		for _, r := range mr.GetCel() {
			rules = append(rules, MessageRule{ID: r.GetId(), Reads: reads(md, r.GetExpression())})
		}
	}
	if t.rules.types == nil {
		t.rules.types = make(map[protoreflect.FullName][]MessageRule)
	}
	t.rules.types[md.FullName()] = rules
	return rules
}

// ruleParser parses rule expressions without checking them: which fields
// an expression selects is in its syntax. The expressions of a
// request-defined type were bounded and compiled at resolution, before the
// target existed.
var ruleParser = sync.OnceValues(func() (*cel.Env, error) { return cel.NewEnv() })

// reads returns the fields of md that expr selects from this, or nil when
// that cannot be told.
func reads(md protoreflect.MessageDescriptor, expr string) []protoreflect.Name {
	env, err := ruleParser()
	if err != nil {
		return nil
	}
	parsed, iss := env.Parse(expr)
	if iss.Err() != nil {
		return nil
	}
	var names []protoreflect.Name
	known := true
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
				name := protoreflect.Name(s.FieldName())
				if md.Fields().ByName(name) == nil {
					known = false
				}
				names = append(names, name)
			}
		case ast.IdentKind:
			if e.AsIdent() == "this" && !consumed[e.ID()] {
				known = false
			}
		}
	}))
	if !known || len(names) == 0 {
		return nil
	}
	return names
}
