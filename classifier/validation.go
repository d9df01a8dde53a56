package classifier

import (
	"errors"
	"fmt"
	"strings"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// messageRulesCEL is the field number of MessageRules.cel: a violation whose
// rule path starts there broke a message-level CEL rule, a business rule.
const messageRulesCEL = 3

// FromValidation classifies a protovalidate error on the model's output. A
// violated message-level CEL rule, or a rule whose id is in businessRules,
// is a business rule (alert and halt); any other violation is a field rule
// (re-ask once). An error that is not a ValidationError means a rule could
// not be compiled or evaluated: a pipeline bug.
func FromValidation(err error, businessRules map[string]bool) *Failure {
	var ve *protovalidate.ValidationError
	if !errors.As(err, &ve) {
		return Wrap(err, guardgenv1.FailureReason_FAILURE_REASON_INTERNAL, "validation could not run")
	}
	violations := ve.ToProto().GetViolations()
	reason := guardgenv1.FailureReason_FAILURE_REASON_RULE_VIOLATION
	for _, v := range violations {
		if IsBusinessRule(v, businessRules) {
			reason = guardgenv1.FailureReason_FAILURE_REASON_BUSINESS_RULE
			break
		}
	}
	f := Wrap(err, reason, "%s", summarize(violations))
	f.Violations = violations
	return f
}

// IsBusinessRule reports whether v broke a message-level CEL rule or a rule
// whose id is configured as a business rule.
func IsBusinessRule(v *validatepb.Violation, businessRules map[string]bool) bool {
	if businessRules[v.GetRuleId()] {
		return true
	}
	// protovalidate-go leaves the rule path empty for message-level CEL
	// rules and for a required oneof; field rules, custom field CEL
	// included, always carry one. A oneof's path ends in an element with a
	// name but no field number (a oneof is not a field); a nested message's
	// CEL rule ends in the real field that holds the message.
	elems := v.GetRule().GetElements()
	if len(elems) == 0 {
		field := v.GetField().GetElements()
		return len(field) == 0 || field[len(field)-1].GetFieldNumber() != 0
	}
	return elems[0].GetFieldNumber() == messageRulesCEL && elems[0].GetFieldName() == "cel"
}

// FieldPath renders a violation's field path with JSON-ish syntax,
// e.g. services[0].name; empty for the message itself.
func FieldPath(v *validatepb.Violation) string {
	var b strings.Builder
	for _, e := range v.GetField().GetElements() {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e.GetFieldName())
		switch s := e.GetSubscript().(type) {
		case *validatepb.FieldPathElement_Index:
			fmt.Fprintf(&b, "[%d]", s.Index)
		case *validatepb.FieldPathElement_StringKey:
			fmt.Fprintf(&b, "[%q]", s.StringKey)
		case *validatepb.FieldPathElement_IntKey:
			fmt.Fprintf(&b, "[%d]", s.IntKey)
		case *validatepb.FieldPathElement_UintKey:
			fmt.Fprintf(&b, "[%d]", s.UintKey)
		case *validatepb.FieldPathElement_BoolKey:
			fmt.Fprintf(&b, "[%t]", s.BoolKey)
		}
	}
	return b.String()
}

// summarize says what the violations are in one line: "priority: value
// must be greater than or equal to 1 and less than or equal to 5 (+1 more)".
func summarize(violations []*validatepb.Violation) string {
	if len(violations) == 0 {
		return "output failed validation"
	}
	v := violations[0]
	s := v.GetMessage()
	if p := FieldPath(v); p != "" {
		s = p + ": " + s
	}
	if n := len(violations) - 1; n > 0 {
		s += fmt.Sprintf(" (+%d more)", n)
	}
	return s
}
