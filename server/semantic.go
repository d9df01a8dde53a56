package server

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/guardgen/guardgen/classifier"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/schema"
	"github.com/guardgen/guardgen/semantic"
)

// Warning kinds in GenerationReport.warnings.
const (
	warnLowConfidence         = "low_confidence"
	warnConfidenceUnavailable = "confidence_unavailable"
	warnNotSupported          = "not_supported"
	warnVerificationSkipped   = "verification_skipped"
)

// semantics holds the semantic checks the configuration sets per type,
// merged over the types' own, and the Verdict target the verifier answers.
type semantics struct {
	// merged are the checks of known types the configuration overrides.
	merged map[string]*semantic.Checks
	// overrides apply to request-defined types of the same name.
	overrides map[string]semantic.Override
	verdict   *schema.Target
}

// newSemantics merges the configuration's overrides into the known types'
// checks and checks that every verifier route exists. A type the resolver
// does not know, a path that names no field or an unknown route is an
// error at start, not a surprise at the first request.
func newSemantics(resolver *schema.Resolver, overrides map[string]semantic.Override, routes map[string]Route) (*semantics, error) {
	verdicts, err := schema.NewResolver(schema.Options{CompiledIn: []protoreflect.FileDescriptor{guardgenv1.File_guardgen_v1_verdict_proto}, RequestTypesOff: true})
	if err != nil {
		return nil, fmt.Errorf("server: verdict target: %w", err)
	}
	verdict, err := verdicts.Resolve(string((&guardgenv1.Verdict{}).ProtoReflect().Descriptor().FullName()), nil)
	if err != nil {
		return nil, fmt.Errorf("server: verdict target: %w", err)
	}
	s := &semantics{merged: make(map[string]*semantic.Checks, len(overrides)), overrides: overrides, verdict: verdict}
	for name, ov := range overrides {
		t, err := resolver.Resolve(name, nil)
		if err != nil {
			return nil, fmt.Errorf("server: semantics for %s: %w", name, err)
		}
		if s.merged[name], err = t.Semantics.With(t.Desc, ov); err != nil {
			return nil, fmt.Errorf("server: semantics: %w", err)
		}
	}
	for _, info := range resolver.List() {
		t, err := resolver.Resolve(info.GetFullName(), nil)
		if err != nil {
			return nil, err
		}
		if route := s.checksFor(t).VerifierRoute(); route != "" {
			if _, ok := routes[route]; !ok {
				return nil, fmt.Errorf("server: %s: verifier route %q is not a configured route", info.GetFullName(), route)
			}
		}
	}
	return s, nil
}

// checksFor returns t's semantic checks with the configuration's override
// for its type, if any.
func (s *semantics) checksFor(t *schema.Target) *semantic.Checks {
	name := string(t.Desc.FullName())
	if c, ok := s.merged[name]; ok && t.Source != guardgenv1.TargetSource_TARGET_SOURCE_REQUEST {
		return c
	}
	ov, ok := s.overrides[name]
	if !ok {
		return t.Semantics
	}
	c, err := t.Semantics.With(t.Desc, ov)
	if err != nil {
		// A request-defined type of a configured name without the
		// configured fields: its own checks stand.
		return t.Semantics
	}
	return c
}

// semanticReport is what the semantic checks found about the candidate
// last checked; it reaches the report only when that candidate is the
// answer.
type semanticReport struct {
	confidence   *guardgenv1.ConfidenceReport
	verification *guardgenv1.VerificationReport
	warnings     []*guardgenv1.Warning
}

func (r *semanticReport) warn(kind, path, format string, args ...any) {
	r.warnings = append(r.warnings, &guardgenv1.Warning{Kind: kind, Path: path, Message: fmt.Sprintf(format, args...)})
}

// semanticFailure is the cause of a LOW_CONFIDENCE or VERIFICATION_FAILED
// failure: what the model is told when it is asked again. It may quote
// the verifier's reason, model output, so it never reaches the wire.
type semanticFailure struct {
	problems []problem
}

func (*semanticFailure) Error() string { return "semantic check failed" }

// prepareSemantics resolves the checks of the request's target and its
// verifier route: an unknown route (a request-defined type may name any)
// fails the request before any provider call.
func (g *generation) prepareSemantics() *classifier.Failure {
	g.checks = g.s.semantics.checksFor(g.target)
	if !g.checks.Verifies() {
		return nil
	}
	g.verifier = g.route
	if name := g.checks.VerifierRoute(); name != "" {
		r, ok := g.s.routes[name]
		if !ok {
			return classifier.New(guardgenv1.FailureReason_FAILURE_REASON_INVALID_REQUEST,
				"%s: (guardgen.v1.message).verifier_route: unknown route %q", g.target.Desc.FullName(), name)
		}
		g.verifier = r
	}
	return nil
}

// wantsLogprobs reports whether the provider is asked for token
// log-probabilities: the target sets a min_confidence, or the caller asks
// for confidence in the report.
func (g *generation) wantsLogprobs() bool {
	return g.checks.NeedsLogprobs() || g.req.GetOptions().GetReportConfidence()
}

// check runs the semantic checks on a candidate that passed validation,
// made by provider call number call: the confidence of its values, then
// the verifier. It returns the failure that rejects the candidate, or nil;
// what it found is kept in g.sem for the report.
func (g *generation) check(ctx context.Context, resp *providerv1.CompleteResponse, a *accepted, call int) *classifier.Failure {
	g.sem = semanticReport{}
	if f := g.checkConfidence(ctx, resp, a); f != nil {
		return f
	}
	return g.verify(ctx, a, call)
}

// semanticFailureOf names the fields of a failed check in the message and
// metadata, and carries problems for the re-ask.
func semanticFailureOf(reason guardgenv1.FailureReason, fields []string, problems []problem, format string, args ...any) *classifier.Failure {
	f := classifier.Wrap(&semanticFailure{problems: problems}, reason, format, args...)
	return f.With("fields", strings.Join(fields, ","))
}

// reportSemantics adds what the semantic checks found about the answer to
// r, when a generation answered, and what verification cost: its calls
// and their tokens.
func (g *generation) reportSemantics(r *guardgenv1.GenerationReport, calls []providers.Call) {
	if g.answered == 0 {
		return
	}
	r.Confidence, r.Verification, r.Warnings = g.sem.confidence, g.sem.verification, g.sem.warnings
	if r.Verification == nil {
		return
	}
	r.Verification.Usage = &providerv1.Usage{}
	for _, c := range calls {
		if c.Verification {
			r.Verification.Calls++
			r.Verification.Usage.InputTokens += c.Usage.GetInputTokens()
			r.Verification.Usage.OutputTokens += c.Usage.GetOutputTokens()
			r.Verification.Usage.TotalTokens += c.Usage.GetTotalTokens()
		}
	}
}
