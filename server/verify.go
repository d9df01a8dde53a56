package server

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/guardgen/guardgen/classifier"
	"github.com/guardgen/guardgen/extract"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/schema"
	"github.com/guardgen/guardgen/semantic"
	"github.com/guardgen/guardgen/telemetry"
)

// maxVerdictBytes bounds a verifier's answer: a verdict is a few hundred
// bytes.
const maxVerdictBytes = 64 << 10

// Why verification was skipped (VerificationReport.skipped).
const (
	skipCallCap        = "provider_call_cap"
	skipDeadline       = "deadline"
	skipVerifierFailed = "verifier_failed"
	skipInvalidVerdict = "invalid_verdict"
)

// verify asks the verifier route about every value of the candidate whose
// field has a verify question, in one call, after validation and the
// confidence check passed; call is the provider call that made the
// candidate. A "not supported" verdict on a critical field fails the
// candidate (VERIFICATION_FAILED, re-asked with the verifier's reason); on
// other fields it is a warning. The call goes through the verifier route's
// provider chain (retries, breaker, budget) and counts against the
// request's call cap and deadline; when they leave no room, or the
// verifier fails or answers no valid verdict, verification is skipped and
// the report says why.
func (g *generation) verify(ctx context.Context, a *accepted, call int) *classifier.Failure {
	items, dropped := g.checks.Items(a.msg, semantic.MaxItems)
	if len(items) == 0 {
		return nil
	}
	rep := &guardgenv1.VerificationReport{Route: g.verifier.Name, Fields: make([]string, len(items))}
	for i, it := range items {
		rep.Fields[i] = it.Path
	}
	g.sem.verification = rep
	if dropped > 0 {
		g.sem.warn(warnVerificationSkipped, "", "%d values with a verify question were not asked about: at most %d are per call", dropped, semantic.MaxItems)
	}
	if skip, why := g.verificationRoom(ctx, call); skip != "" {
		return g.skipVerification(ctx, skip, why)
	}
	candidate, err := g.target.Encode(a.msg)
	if err != nil {
		return g.skipVerification(ctx, skipVerifierFailed, "the candidate could not be rendered as JSON")
	}
	resp, f := g.askVerifier(ctx, g.verifierRequest(string(candidate), items))
	switch {
	case f == nil:
	case ctx.Err() != nil:
		return g.skipVerification(ctx, skipDeadline, "the deadline ran out during the verifier call")
	case g.rec.Remaining() == 0:
		return g.skipVerification(ctx, skipCallCap, fmt.Sprintf("the verifier call reached the request's cap of %d provider calls", g.s.opts.MaxProviderCalls))
	default:
		return g.skipVerification(ctx, skipVerifierFailed, "the verifier route failed: "+classifier.ReasonName(f.Reason))
	}
	v, vf := g.verdictOf(resp)
	if vf != nil {
		g.noteFailure(g.rec.Len(), vf)
		return g.skipVerification(ctx, skipInvalidVerdict, "the verifier's answer is not a valid Verdict: "+classifier.ReasonName(vf.Reason))
	}
	rep.Reason = v.GetReason()
	target := string(g.target.Desc.FullName())
	if v.GetSupported() {
		rep.Status = guardgenv1.VerificationStatus_VERIFICATION_STATUS_SUPPORTED
		g.s.metrics.RecordVerification(ctx, target, telemetry.VerificationSupported)
		return nil
	}
	rejected := rejectedItems(items, v.GetFields())
	var critical []string
	for _, it := range rejected {
		if it.Critical {
			critical = append(critical, it.Path)
		}
	}
	if len(critical) == 0 {
		rep.Status = guardgenv1.VerificationStatus_VERIFICATION_STATUS_NOT_SUPPORTED
		for _, it := range rejected {
			g.sem.warn(warnNotSupported, it.Path, "the verifier found this value not supported")
		}
		g.s.metrics.RecordVerification(ctx, target, telemetry.VerificationNotSupported)
		return nil
	}
	g.s.metrics.RecordVerification(ctx, target, telemetry.VerificationRejected)
	return g.verificationFailed(rejected, critical, v.GetReason())
}

// verificationRoom says whether the request can afford a verifier call: a
// call left under the cap, and, as far as the generation call's latency
// tells, time before the deadline.
func (g *generation) verificationRoom(ctx context.Context, call int) (skip, why string) {
	if g.rec.Remaining() == 0 {
		return skipCallCap, fmt.Sprintf("the request's cap of %d provider calls is spent", g.s.opts.MaxProviderCalls)
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return "", ""
	}
	calls := g.rec.Calls()
	var took time.Duration
	if call >= 1 && call <= len(calls) {
		took = calls[call-1].Latency
	}
	if left := time.Until(dl); left <= took {
		return skipDeadline, fmt.Sprintf("%s is left before the deadline, less than the %s the generation call took",
			left.Round(time.Millisecond), took.Round(time.Millisecond))
	}
	return "", ""
}

func (g *generation) skipVerification(ctx context.Context, skip, why string) *classifier.Failure {
	rep := g.sem.verification
	rep.Status = guardgenv1.VerificationStatus_VERIFICATION_STATUS_SKIPPED
	rep.Skipped, rep.Reason = skip, why
	g.sem.warn(warnVerificationSkipped, "", "verification skipped: %s", why)
	g.s.metrics.RecordVerification(ctx, string(g.target.Desc.FullName()), telemetry.VerificationSkipped)
	return nil
}

// verifierRequest asks for a Verdict on items of the candidate.
func (g *generation) verifierRequest(candidate string, items []semantic.Item) *providerv1.CompleteRequest {
	v := g.s.semantics.verdict
	return &providerv1.CompleteRequest{
		Messages:     semantic.VerifierMessages(g.req.GetPrompt(), candidate, items, v.Name),
		OutputSchema: &providerv1.OutputSchema{Name: v.Name, JsonSchema: v.JSONSchemaText, Strict: true},
		Sampling:     &providerv1.SamplingOptions{},
		Purpose:      providerv1.Purpose_PURPOSE_VERIFICATION,
	}
}

// askVerifier asks the verifier route's entries in order, moving on only
// when one is down, as for generations. A verifier's fallback does not
// degrade the answer: the answer's generation was not a fallback.
func (g *generation) askVerifier(ctx context.Context, preq *providerv1.CompleteRequest) (*providerv1.CompleteResponse, *classifier.Failure) {
	var last *classifier.Failure
	for _, e := range g.verifier.Entries {
		req := proto.CloneOf(preq)
		req.Model = e.Model
		req.Sampling.MaxOutputTokens = e.MaxOutputTokens
		resp, err := e.Client.Complete(ctx, req)
		if err == nil {
			return resp, nil
		}
		last = classifier.As(err)
		if !g.s.falls(last) || ctx.Err() != nil {
			return nil, last
		}
	}
	return nil, last
}

// verdictOf extracts, decodes and validates the verifier's answer as a
// guardgen.v1.Verdict: the verifier is a model too, and is trusted no
// more than the one it checks.
func (g *generation) verdictOf(resp *providerv1.CompleteResponse) (*guardgenv1.Verdict, *classifier.Failure) {
	if f := classifier.FromFinishReason(resp.GetFinishReason(), resp.GetRefusal()); f != nil {
		return nil, f
	}
	t := g.s.semantics.verdict
	candidates, err := extract.Candidates(resp.GetContent(), extract.Options{MaxBytes: maxVerdictBytes})
	if err != nil {
		return nil, extractFailure(err)
	}
	var first *classifier.Failure
	for _, c := range candidates {
		msg, _, err := t.Decode(c.JSON, schema.DecodeOptions{})
		if err != nil {
			first = firstOf(first, classifier.Wrap(err, guardgenv1.FailureReason_FAILURE_REASON_SCHEMA_MISMATCH, "%s", err.Error()))
			continue
		}
		if err := t.Validate(msg); err != nil {
			first = firstOf(first, classifier.FromValidation(err, nil))
			continue
		}
		if v, ok := msg.(*guardgenv1.Verdict); ok {
			return v, nil
		}
	}
	return nil, first
}

func firstOf(first, f *classifier.Failure) *classifier.Failure {
	if first != nil {
		return first
	}
	return f
}

// rejectedItems are the items a "not supported" verdict names; a verdict
// that names none it was asked about rejects them all.
func rejectedItems(items []semantic.Item, fields []string) []semantic.Item {
	var out []semantic.Item
	for _, it := range items {
		if slices.Contains(fields, it.Path) {
			out = append(out, it)
		}
	}
	if len(out) == 0 {
		return items
	}
	return out
}

// verificationFailed is the failure of a verdict against critical fields.
// The verifier's reason goes to the model when it is asked again, and to
// the caller only cut to the preview length, like any model output.
func (g *generation) verificationFailed(rejected []semantic.Item, critical []string, reason string) *classifier.Failure {
	problems := make([]problem, len(rejected))
	for i, it := range rejected {
		problems[i] = problem{Field: it.Path, Message: "a second model checked this value against the input and found it not supported (" +
			it.Question + "): " + reason}
	}
	f := semanticFailureOf(guardgenv1.FailureReason_FAILURE_REASON_VERIFICATION_FAILED, critical, problems,
		"the verifier found critical fields not supported by the input: %s", strings.Join(critical, ", "))
	if n := g.s.opts.PreviewLength; n > 0 && reason != "" {
		f = f.With("verifier_reason", truncateRunes(reason, n))
	}
	return f
}
