package server

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/guardgen/guardgen/classifier"
	"github.com/guardgen/guardgen/extract"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/schema"
)

// accepted is an output that passed every stage.
type accepted struct {
	msg     proto.Message
	repairs []*guardgenv1.Repair
	// partial is set when non-critical fields were cleared to pass
	// validation (allow_partial_matches); it holds their violations.
	partial *classifier.Failure
	// candidate is the extracted object msg was decoded from, for the
	// semantic checks, which map it back onto the model's tokens.
	candidate extract.Candidate
}

// accept runs the output stages on one completion: finish reason,
// extraction, decoding and validation. Truncated output never reaches the
// parser. When the text holds several JSON objects, the first one that
// decodes and validates as the target wins; when none does, the first
// candidate's failure is reported, since it is the likeliest answer. The
// accepted output is written to a, which the caller holds: an accepted
// value returned through each of the judging calls took a slot in each
// frame, at the bottom of a call's stack (see TestHandlerStackStaysSmall
// in package app).
func (g *generation) accept(resp *providerv1.CompleteResponse, a *accepted) *classifier.Failure {
	if f := classifier.FromFinishReason(resp.GetFinishReason(), resp.GetRefusal()); f != nil {
		return f
	}
	content := resp.GetContent()
	candidates, err := g.candidates(content)
	if err != nil {
		return g.withPreview(extractFailure(err), content)
	}
	var first *classifier.Failure
	for _, c := range candidates {
		f := g.acceptCandidate(c, a)
		if f == nil {
			return nil
		}
		if first == nil {
			first = g.withPreview(f, string(c.JSON))
		}
	}
	return first
}

// candidates extracts what may be the answer from content, in the order
// to try: objects, then arrays (an array holding the answer, or a bare
// array for a list field); arrays first for a list target; for an object
// or list target, what an answer that is one JSON string holds; and, for a
// target whose JSON form may be a scalar, the text read as one value when
// it is a quoted string or holds no object or array.
func (g *generation) candidates(content string) ([]extract.Candidate, error) {
	form := g.target.Form()
	opts := extract.Options{MaxBytes: g.s.opts.MaxOutputBytes, MaxValues: g.s.opts.MaxOutputValues, Arrays: true,
		NoStrip: !g.s.opts.StripFences,
		// A string is an answer of its own for scalar and any-JSON
		// targets; strict mode reads a JSON string as no object, as it
		// does a field's (parse_json_string is an alignment).
		UnwrapString: (form == schema.FormObject || form == schema.FormArray) && !g.strict()}
	if (form == schema.FormScalar || form == schema.FormAny) && strings.HasPrefix(strings.TrimSpace(content), `"`) {
		// A quoted answer is a string even when it holds JSON.
		if c, err := extract.Scalar(content, opts); err == nil {
			return []extract.Candidate{c}, nil
		}
	}
	candidates, err := extract.Candidates(content, opts)
	switch {
	case err == nil && form == schema.FormArray:
		slices.SortStableFunc(candidates, func(a, b extract.Candidate) int {
			return cmp.Compare(b.JSON[0], a.JSON[0]) // '[' before '{'
		})
	case errors.Is(err, extract.ErrNoJSON) && (form == schema.FormScalar || form == schema.FormAny):
		if c, serr := extract.Scalar(content, opts); serr == nil {
			return []extract.Candidate{c}, nil
		}
	}
	return candidates, err
}

// strict reports whether this request runs in strict schema mode: the
// request's own option when it sets one, else the server's.
func (g *generation) strict() bool {
	if opts := g.req.GetOptions(); opts != nil && opts.StrictSchemaMode != nil {
		return opts.GetStrictSchemaMode()
	}
	return g.s.opts.StrictSchema
}

// acceptCandidate decodes and validates one extracted JSON value, into a
// when it is accepted.
func (g *generation) acceptCandidate(c extract.Candidate, a *accepted) *classifier.Failure {
	msg, changes, err := g.target.Decode(c.JSON, schema.DecodeOptions{Strict: g.strict()})
	if err != nil {
		return classifier.Wrap(err, guardgenv1.FailureReason_FAILURE_REASON_SCHEMA_MISMATCH, "%s", err.Error())
	}
	repairs := reportRepairs(c.Repairs, changes)
	err = g.target.Validate(msg)
	if err == nil {
		*a = accepted{msg: msg, repairs: repairs, candidate: c}
		return nil
	}
	if errors.Is(err, schema.ErrRuleCostExceeded) {
		return classifier.Wrap(err, guardgenv1.FailureReason_FAILURE_REASON_INVALID_DESCRIPTOR_SET,
			"descriptor_set: the CEL rules of %s exceeded their runtime cost limit on the answer", g.target.Desc.FullName()).
			With("field", "descriptor_set")
	}
	if _, ok := errors.AsType[*protovalidate.CompilationError](err); ok && g.target.Source == guardgenv1.TargetSource_TARGET_SOURCE_REQUEST {
		// A request-defined type's validator is compiled, not warmed, when
		// the type is built; a rule protovalidate cannot compile shows here.
		return classifier.Wrap(err, guardgenv1.FailureReason_FAILURE_REASON_INVALID_DESCRIPTOR_SET,
			"descriptor_set: the rules of %s do not compile", g.target.Desc.FullName()).With("field", "descriptor_set")
	}
	f := classifier.FromValidation(err, g.s.opts.BusinessRules)
	if partial, ok := g.partialMatch(msg, f); ok {
		*a = accepted{msg: msg, repairs: repairs, partial: partial, candidate: c}
		return nil
	}
	return f
}

// partialMatch implements allow_partial_matches: when every violation is
// on a field the configuration names as non-critical for the target, those
// fields are cleared and the message is accepted, degraded, with the
// violations reported as warnings. A business rule is never partial.
func (g *generation) partialMatch(msg proto.Message, f *classifier.Failure) (*classifier.Failure, bool) {
	if !g.nonCritical(f) {
		return nil, false
	}
	m := msg.ProtoReflect()
	for _, v := range f.Violations {
		if fd := m.Descriptor().Fields().ByName(protoreflect.Name(v.GetField().GetElements()[0].GetFieldName())); fd != nil {
			m.Clear(fd)
		}
	}
	if err := g.target.Validate(msg); err != nil {
		return nil, false
	}
	partial := classifier.New(f.Reason, "non-critical fields failed validation and were cleared: %s", f.Message)
	return partial.WithViolations(f.Violations).With("degradation", "partial_match"), true
}

// nonCritical reports whether f is a rule violation on fields the
// configuration names as non-critical for the target alone, which
// allow_partial_matches may clear.
func (g *generation) nonCritical(f *classifier.Failure) bool {
	nonCritical := g.s.opts.NonCriticalFields[string(g.target.Desc.FullName())]
	if len(nonCritical) == 0 || f.Reason != guardgenv1.FailureReason_FAILURE_REASON_RULE_VIOLATION {
		return false
	}
	for _, v := range f.Violations {
		elems := v.GetField().GetElements()
		if len(elems) == 0 || !nonCritical[elems[0].GetFieldName()] {
			return false
		}
	}
	return true
}

// maxRepairs bounds the repairs listed in one report: an output with
// thousands of unknown fields must not make a response thousands of
// entries long. The last entry then counts what was left out.
const maxRepairs = 64

// reportRepairs lists the repairs of the text and the alignments to the
// schema for the report, in that order, at most maxRepairs of them and then
// a "more" entry counting the rest. The entries share two allocations.
func reportRepairs(text []extract.Repair, changes []schema.Change) []*guardgenv1.Repair {
	total := len(text) + len(changes)
	n := min(total, maxRepairs)
	if total > maxRepairs {
		n++
	}
	entries := make([]guardgenv1.Repair, n)
	offsets := make([]uint32, min(len(text), maxRepairs))
	repairs := make([]*guardgenv1.Repair, n)
	for i := range repairs {
		repairs[i] = &entries[i]
	}
	for i, r := range text[:len(offsets)] {
		offsets[i] = uint32(r.Offset)
		e := repairs[i]
		e.Kind, e.Detail, e.Path, e.Offset = r.Kind, r.Detail, r.Path, &offsets[i]
	}
	for i, ch := range changes[:min(len(changes), maxRepairs-len(offsets))] {
		e := repairs[len(offsets)+i]
		e.Kind, e.Detail, e.Path = ch.Kind, ch.Detail, ch.Path
	}
	if total > maxRepairs {
		repairs[maxRepairs].Kind, repairs[maxRepairs].Detail = "more", strconv.Itoa(total-maxRepairs)
	}
	return repairs
}

// withPreview attaches a redacted, bounded preview of the output to f.
func (g *generation) withPreview(f *classifier.Failure, output string) *classifier.Failure {
	return f.WithPreview(preview(output, g.target, g.s.opts.PreviewLength))
}

// extractFailure classifies an extraction error.
func extractFailure(err error) *classifier.Failure {
	switch {
	case errors.Is(err, extract.ErrNoJSON):
		return classifier.Wrap(err, guardgenv1.FailureReason_FAILURE_REASON_NO_JSON, "the output holds no JSON object")
	case errors.Is(err, extract.ErrTooLarge):
		return classifier.Wrap(err, guardgenv1.FailureReason_FAILURE_REASON_OUTPUT_TOO_LARGE, "the output exceeds the size limit")
	default:
		return classifier.Wrap(err, guardgenv1.FailureReason_FAILURE_REASON_MALFORMED_JSON, "%s", err.Error())
	}
}
