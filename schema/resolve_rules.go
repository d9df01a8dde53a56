package schema

import (
	"context"
	"fmt"
	"strings"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	pvcel "buf.build/go/protovalidate/cel"
	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// maxCELRules bounds the CEL expressions of one request-defined set:
// compiling and costing each takes tens of microseconds, so the count, not
// only the cost, needs a bound.
const maxCELRules = 512

// ruleLimits bound the rules of request-defined types.
type ruleLimits struct {
	celOff     bool   // CEL rules are refused
	maxCost    uint64 // summed static cost estimate of a set's CEL rules
	maxInsts   int    // compiled size of one regular expression
	valueBytes uint64 // the largest string, bytes, list or map a rule can see
}

// ruleStats is what a set's rules weigh, for the type cache.
type ruleStats struct {
	celRules   int
	regexInsts int
}

// ruleCheck checks the protovalidate rules of a request's new files before
// any validator is built from them: every CEL expression (message and field
// rules, and predefined rules declared by the set) must compile and its
// static cost estimate, with every value as large as the server accepts,
// must stay within the budget; every regular expression (pattern rules and
// the constant argument of CEL matches) must compile to a bounded program.
// Nothing is evaluated. cel-go's estimate is an upper bound of the runtime
// cost when the sizes it is given are, and they are (model output larger
// than valueBytes is refused before validation); the programs it compiles
// along the way become the type's [celGuard], the runtime line behind it.
type ruleCheck struct {
	ctx   context.Context
	base  *cel.Env
	types typeResolver
	lim   ruleLimits
	est   sizeBound
	stats ruleStats
	cost  uint64
	guard *celGuard // the set's CEL rules as cost-limited programs
}

// newRuleEnv is the CEL environment protovalidate compiles rules in: the
// standard library, protovalidate's own functions and the ext.Strings
// library with its cost models.
func newRuleEnv() (*cel.Env, error) {
	return cel.NewEnv(cel.Lib(pvcel.NewLibrary()))
}

// check walks every message type of local.
func (c *ruleCheck) check(local *protoregistry.Files) *ResolveError {
	var rerr *ResolveError
	local.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		for _, md := range messages(fd) {
			if rerr = c.message(md); rerr != nil {
				return false
			}
		}
		return true
	})
	return rerr
}

func (c *ruleCheck) message(md protoreflect.MessageDescriptor) *ResolveError {
	mr, err := protovalidate.ResolveMessageRules(md)
	if err != nil {
		return ruleError(string(md.FullName()), "", fmt.Sprintf("message rules do not parse: %v", trimProtoPrefix(err)))
	}
	if rules := celRules(mr); len(rules) > 0 {
		env, err := c.base.Extend(cel.Types(dynamicpb.NewMessage(md)), cel.Variable("this", cel.ObjectType(string(md.FullName()))))
		if err != nil {
			return ruleError(string(md.FullName()), "", fmt.Sprintf("rules cannot be typed: %v", err))
		}
		for _, r := range rules {
			prog, rerr := c.expression(env, string(md.FullName()), r)
			if rerr != nil {
				return rerr
			}
			c.guard.messages[md.FullName()] = append(c.guard.messages[md.FullName()], prog)
		}
	}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		fr, err := protovalidate.ResolveFieldRules(fd)
		if err != nil {
			return ruleError(string(fd.FullName()), "", fmt.Sprintf("field rules do not parse: %v", trimProtoPrefix(err)))
		}
		if fr == nil {
			continue
		}
		if rerr := c.field(site{fd, wholeValue}, fr); rerr != nil {
			return rerr
		}
		switch {
		case fd.IsList() && fr.GetRepeated().HasItems():
			if rerr := c.field(site{fd, listItems}, fr.GetRepeated().GetItems()); rerr != nil {
				return rerr
			}
		case fd.IsMap():
			if k := fr.GetMap().GetKeys(); k != nil {
				if rerr := c.field(site{fd, mapKeys}, k); rerr != nil {
					return rerr
				}
			}
			if v := fr.GetMap().GetValues(); v != nil {
				if rerr := c.field(site{fd, mapValues}, v); rerr != nil {
					return rerr
				}
			}
		}
	}
	return nil
}

// field checks one set of field rules: its CEL, its patterns and the
// predefined rules it sets.
func (c *ruleCheck) field(at site, fr *validatepb.FieldRules) *ResolveError {
	fd, forItems := at.value(), at.each != wholeValue
	element := string(at.field.FullName())
	m := fr.ProtoReflect()
	if set := m.WhichOneof(m.Descriptor().Oneofs().ByName("type")); set != nil {
		if want, ok := expectedRules(fd, forItems); !ok || set.Name() != want {
			return ruleError(element, string(set.Name()), "rules do not apply to a field of this type")
		}
	}
	for _, p := range []struct {
		set     bool
		pattern string
	}{
		{fr.GetString().HasPattern(), fr.GetString().GetPattern()},
		{fr.GetBytes().HasPattern(), fr.GetBytes().GetPattern()},
	} {
		if !p.set {
			continue
		}
		n, err := checkPattern(p.pattern, c.lim.maxInsts)
		if err != nil {
			return ruleError(element, "pattern", "pattern "+err.Error())
		}
		c.stats.regexInsts += n
	}
	if rules := fieldCEL(fr); len(rules) > 0 {
		opts := append(pvcel.RequiredEnvOptions(fd), cel.Variable("this", pvcel.ProtoFieldToType(fd, false, forItems)))
		env, err := c.base.Extend(opts...)
		if err != nil {
			return ruleError(element, "", fmt.Sprintf("rules cannot be typed: %v", err))
		}
		for _, r := range rules {
			prog, rerr := c.expression(env, element, r)
			if rerr != nil {
				return rerr
			}
			c.guard.addField(at, fieldProgram{prog: prog})
		}
	}
	return c.predefined(at, fr)
}

// expectedRules names the FieldRules type that protovalidate accepts for
// fd (its "type" oneof): the kind's own for scalars and enums, repeated or
// map for a list or map itself, and the well-known types' for theirs.
// Anything else fails when protovalidate compiles the rules; checking
// here reports it before a provider is asked.
func expectedRules(fd protoreflect.FieldDescriptor, forItems bool) (protoreflect.Name, bool) {
	switch {
	case fd.IsMap() && !forItems:
		return "map", true
	case fd.IsList() && !forItems:
		return "repeated", true
	case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
		switch name := fd.Message().FullName(); name {
		case "google.protobuf.Any":
			return "any", true
		case "google.protobuf.Duration":
			return "duration", true
		case "google.protobuf.FieldMask":
			return "field_mask", true
		case "google.protobuf.Timestamp":
			return "timestamp", true
		default:
			if name.Parent() == "google.protobuf" && strings.HasSuffix(string(name), "Value") {
				if v := fd.Message().Fields().ByName("value"); v != nil {
					return protoreflect.Name(v.Kind().String()), true
				}
			}
			return "", false
		}
	}
	return protoreflect.Name(fd.Kind().String()), true
}

// predefined checks the CEL of predefined rules (extensions of the
// buf.validate rule messages) that the rules set, as protovalidate will
// read them: the extensions are re-parsed with the set's own types.
func (c *ruleCheck) predefined(at site, fr *validatepb.FieldRules) *ResolveError {
	fd, forItems := at.value(), at.each != wholeValue
	m := fr.ProtoReflect()
	oneof := m.WhichOneof(m.Descriptor().Oneofs().ByName("type"))
	if oneof == nil || oneof.Message() == nil {
		return nil
	}
	rules := proto.Clone(m.Get(oneof).Message().Interface()).ProtoReflect()
	if unknown := rules.GetUnknown(); len(unknown) > 0 {
		rules.SetUnknown(nil)
		if err := (proto.UnmarshalOptions{Resolver: c.types, Merge: true}).Unmarshal(unknown, rules.Interface()); err != nil {
			return ruleError(string(fd.FullName()), "", fmt.Sprintf("predefined rules do not parse: %v", trimProtoPrefix(err)))
		}
	}
	var rerr *ResolveError
	rules.Range(func(ext protoreflect.FieldDescriptor, value protoreflect.Value) bool {
		if !ext.IsExtension() {
			return true
		}
		pr, err := protovalidate.ResolvePredefinedRules(ext)
		if err != nil || len(pr.GetCel()) == 0 {
			return true
		}
		env, err := c.base.Extend(
			cel.Types(rules.Interface()),
			cel.Variable("this", pvcel.ProtoFieldToType(fd, true, forItems)),
			cel.Variable("rules", cel.ObjectType(string(rules.Descriptor().FullName()))),
			cel.Variable("rule", pvcel.ProtoFieldToType(ext, true, false)),
		)
		if err != nil {
			rerr = ruleError(string(ext.FullName()), "", fmt.Sprintf("predefined rule cannot be typed: %v", err))
			return false
		}
		for _, r := range pr.GetCel() {
			prog, perr := c.expression(env, string(ext.FullName()), r)
			if rerr = perr; rerr != nil {
				return false
			}
			c.guard.addField(at, fieldProgram{prog: prog, rules: rules.Interface(), rule: celValue(ext, value)})
		}
		return true
	})
	return rerr
}

// expression compiles one CEL rule, checks the constant patterns it
// matches against, adds its estimated cost to the set's, and returns the
// rule as a program with a runtime cost limit, for the guard.
func (c *ruleCheck) expression(env *cel.Env, element string, r *validatepb.Rule) (cel.Program, *ResolveError) {
	id := ruleName(r)
	if c.lim.celOff {
		return nil, ruleError(element, id, "CEL rules in request-defined types are turned off on this server")
	}
	if err := c.ctx.Err(); err != nil {
		return nil, &ResolveError{Field: FieldDescriptorSet, Reason: "checking the rules was cancelled", Err: err}
	}
	if c.stats.celRules++; c.stats.celRules > maxCELRules {
		return nil, ruleError(element, id, fmt.Sprintf("more than %d CEL rules in one descriptor set", maxCELRules))
	}
	checked, iss := env.Compile(r.GetExpression())
	if err := iss.Err(); err != nil {
		return nil, ruleError(element, id, "does not compile: "+firstLine(err.Error()))
	}
	if rerr := c.matches(checked, element, id); rerr != nil {
		return nil, rerr
	}
	est, err := env.EstimateCost(checked, c.est)
	if err != nil {
		return nil, ruleError(element, id, "cost cannot be estimated: "+firstLine(err.Error()))
	}
	if est.Max > c.lim.maxCost || c.cost+est.Max > c.lim.maxCost {
		return nil, ruleError(element, id, fmt.Sprintf("estimated cost %s brings the set's CEL rules over the limit of %d",
			costText(est.Max), c.lim.maxCost))
	}
	c.cost += est.Max
	prog, err := env.Program(checked, cel.CostLimit(c.lim.maxCost), cel.InterruptCheckFrequency(interruptEvery))
	if err != nil {
		return nil, ruleError(element, id, "does not compile: "+firstLine(err.Error()))
	}
	return prog, nil
}

// matches bounds the regular expressions of matches() calls: each must be
// a constant (a pattern from the model's output would be compiled at
// evaluation time, unbounded) and compile to a bounded program.
func (c *ruleCheck) matches(checked *cel.Ast, element, id string) *ResolveError {
	var rerr *ResolveError
	ast.PreOrderVisit(checked.NativeRep().Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if rerr != nil || e.Kind() != ast.CallKind || e.AsCall().FunctionName() != "matches" {
			return
		}
		call := e.AsCall()
		args := call.Args()
		if len(args) == 0 {
			return
		}
		pattern := args[len(args)-1]
		if pattern.Kind() != ast.LiteralKind || pattern.AsLiteral().Type() != types.StringType {
			rerr = ruleError(element, id, "matches() needs a constant pattern")
			return
		}
		n, err := checkPattern(pattern.AsLiteral().Value().(string), c.lim.maxInsts)
		if err != nil {
			rerr = ruleError(element, id, "matches() pattern "+err.Error())
			return
		}
		c.stats.regexInsts += n
	}))
	return rerr
}

// sizeBound is the cost estimator's view of the data: every string, bytes,
// list or map reachable from a variable (the message or field, a
// predefined rule's value) holds at most max bytes or elements. protovalidate's
// own functions, which cel-go has no cost model for, cost one unit per
// byte or element of their input.
type sizeBound struct{ max uint64 }

// EstimateSize implements cost.Estimator.
func (s sizeBound) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	if n.ComputedSize() != nil || n.Path() == nil {
		return nil
	}
	return &cost.SizeEstimate{Min: 0, Max: s.max}
}

// EstimateCallCost implements cost.Estimator.
func (s sizeBound) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	input := func() uint64 {
		nodes := args
		if target != nil {
			nodes = append([]cost.AstNode{*target}, args...)
		}
		var total uint64
		for _, n := range nodes {
			sz := n.ComputedSize()
			if sz == nil {
				sz = &cost.SizeEstimate{Max: s.max}
			}
			total = addSat(total, sz.Max)
		}
		return total
	}
	switch {
	case function == "getField":
		return cost.NewCallEstimate(cost.Estimate{Min: 1, Max: 1}, &cost.SizeEstimate{Max: s.max})
	case function == "unique", strings.HasPrefix(function, "is") && function != "isNan" && function != "isInf",
		strings.HasSuffix(overloadID, "_bytes") && (function == "contains" || function == "startsWith" || function == "endsWith"):
		return cost.NewCallEstimate(cost.Estimate{Min: 1, Max: addSat(1, input())}, nil)
	}
	return nil
}

func addSat(a, b uint64) uint64 {
	if a+b < a {
		return ^uint64(0)
	}
	return a + b
}

// ruleName names a rule in an error: its id, cut to a readable length.
func ruleName(r *validatepb.Rule) string {
	id := r.GetId()
	if id == "" {
		id = r.GetExpression()
	}
	if len(id) > 80 {
		id = strings.ToValidUTF8(id[:77], "") + "..."
	}
	return id
}

func ruleError(element, rule, reason string) *ResolveError {
	e := invalidSet(reason)
	e.Element, e.Rule = element, rule
	if rule != "" {
		e.Reason = fmt.Sprintf("rule %q on %s: %s", rule, element, reason)
	} else {
		e.Reason = element + ": " + reason
	}
	return e
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimPrefix(s, "ERROR: "), "\n")
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:197], "") + "..."
	}
	return s
}

func costText(c uint64) string {
	if c == ^uint64(0) {
		return "unbounded"
	}
	return fmt.Sprint(c)
}
