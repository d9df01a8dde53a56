package server_test

// End-to-end tests of the semantic checks through real gRPC: per-field
// confidence from token log-probabilities, and the second-model verifier,
// with the synthetic provider's fault plans and the OpenAI provider
// against the local test server.

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/guardgen/guardgen/app/apptest"
	"github.com/guardgen/guardgen/classifier"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
	"github.com/guardgen/guardgen/providers/synthetic"
	"github.com/guardgen/guardgen/schema"
	"github.com/guardgen/guardgen/semantic"
	"github.com/guardgen/guardgen/server"
	"github.com/guardgen/guardgen/telemetry"
)

// verified has priority critical with min_confidence 0.7 and a verify
// question, and summary with min_confidence 0.3 (not critical).
const verified = "guardgen.examples.v1.VerifiedTicketClassification"

func verifiedRequest() *guardgenv1.GenerateRequest {
	return &guardgenv1.GenerateRequest{Prompt: "I was charged twice for my subscription this month", TargetType: verified}
}

// lastUser is the last user message of a provider request: what a re-ask
// tells the model.
func lastUser(req *providerv1.CompleteRequest) string {
	msgs := req.GetMessages()
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].GetRole() == providerv1.Role_ROLE_USER {
			return msgs[i].GetContent()
		}
	}
	return ""
}

// attemptSummary is each attempt as "verification" or "generation",
// followed by its failure's reason, if any.
func attemptSummary(r *guardgenv1.GenerationReport) []string {
	var out []string
	for _, a := range r.GetAttempts() {
		s := "generation"
		if a.GetVerification() {
			s = "verification"
		}
		if f := a.GetFailure(); f != nil {
			s += " " + classifier.ReasonName(f.GetReason())
		}
		out = append(out, s)
	}
	return out
}

func confidenceOf(t *testing.T, r *guardgenv1.GenerationReport, path string) *guardgenv1.FieldConfidence {
	t.Helper()
	for _, f := range r.GetConfidence().GetFields() {
		if f.GetPath() == path {
			return f
		}
	}
	t.Fatalf("report has no confidence for %s: %v", path, r.GetConfidence())
	return nil
}

// TestLowConfidenceCriticalFieldIsReaskedOnce: a critical field written
// with low confidence is re-asked once, naming the field; the second
// answer is confident and verified.
func TestLowConfidenceCriticalFieldIsReaskedOnce(t *testing.T) {
	t.Parallel()
	rec := &recording{inner: synthetic.New()}
	h := start(t, harnessOptions{provider: rec})
	resp, err := generate(t, h, "low_confidence:priority,ok,ok", verifiedRequest())
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	want := []string{"generation LOW_CONFIDENCE", "generation", "verification"}
	if diff := cmp.Diff(want, attemptSummary(resp.GetReport())); diff != "" {
		t.Fatalf("attempts (-want +got):\n%s", diff)
	}
	if !rec.requests[0].GetLogprobs() || !rec.requests[1].GetLogprobs() {
		t.Error("generations did not ask for logprobs, though priority has a min_confidence")
	}
	reask := lastUser(rec.requests[1])
	if !strings.Contains(reask, "LOW_CONFIDENCE") || !strings.Contains(reask, `"field":"priority"`) {
		t.Errorf("re-ask does not name the field:\n%s", reask)
	}
	failed := resp.GetReport().GetAttempts()[0].GetFailure()
	if failed.GetMetadata()["fields"] != "priority" || !strings.Contains(failed.GetMessage(), "priority (0.15 < 0.7)") {
		t.Errorf("first attempt's failure = %v", failed)
	}
	p := confidenceOf(t, resp.GetReport(), "priority")
	if p.Confidence == nil || p.GetConfidence() < 0.99 || !p.GetCritical() || p.GetMinConfidence() != 0.7 {
		t.Errorf("accepted priority confidence = %v, want ≥ 0.99 and the marks", p)
	}
	if w := resp.GetReport().GetWarnings(); len(w) != 0 {
		t.Errorf("warnings = %v, want none", w)
	}
	if resp.GetDegraded() {
		t.Error("a re-asked answer is not degraded")
	}
}

// TestLowConfidenceTwice: the second low-confidence answer fails the
// request, ABORTED with LOW_CONFIDENCE when nothing is cached, and
// degraded from the cache when something is.
func TestLowConfidenceTwice(t *testing.T) {
	t.Parallel()
	const plan = "low_confidence:priority,low_confidence:priority"
	h := start(t, harnessOptions{})
	_, err := generate(t, h, plan, verifiedRequest())
	want := outcome{Code: codes.Aborted, Reason: "LOW_CONFIDENCE", Domain: output, Action: retry, Recoverable: true, Calls: 2}
	if diff := cmp.Diff(want, observe(t, nil, err)); diff != "" {
		t.Errorf("without a cache (-want +got):\n%s", diff)
	}

	cached := start(t, harnessOptions{set: func(o *server.Options) {
		o.Cache = newMemoryCache(nil)
		o.CacheBackend = "memory"
	}})
	if _, err := generate(t, cached, "", verifiedRequest()); err != nil { // the last valid result
		t.Fatal(err)
	}
	resp, err := generate(t, cached, plan, verifiedRequest())
	d := wantDegraded(t, resp, err, "LOW_CONFIDENCE", "cache")
	if d.GetDomain() != output || d.GetMetadata()["fields"] != "priority" {
		t.Errorf("degradation = %v", d)
	}
	if resp.GetReport().GetConfidence() != nil {
		t.Error("a cached answer reports the confidence of an output it did not use")
	}
}

// TestLowConfidenceNonCriticalFieldWarns: a field that is not critical is
// accepted with a warning, without a re-ask.
func TestLowConfidenceNonCriticalFieldWarns(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	resp, err := generate(t, h, "low_confidence:summary", verifiedRequest())
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if diff := cmp.Diff([]string{"generation", "verification"}, attemptSummary(resp.GetReport())); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
	w := resp.GetReport().GetWarnings()
	if len(w) != 1 || w[0].GetKind() != "low_confidence" || w[0].GetPath() != "summary" {
		t.Errorf("warnings = %v, want one low_confidence on summary", w)
	}
	if s := confidenceOf(t, resp.GetReport(), "summary"); s.GetConfidence() >= 0.3 || s.GetCritical() {
		t.Errorf("summary = %v, want below 0.3 and not critical", s)
	}
	if resp.GetDegraded() {
		t.Error("a warning does not degrade the answer")
	}
}

// TestVerifyRejectIsReaskedWithTheReason: the verifier's "not supported"
// on a critical field re-asks once with its reason; the report lists the
// verification calls and what they cost.
func TestVerifyRejectIsReaskedWithTheReason(t *testing.T) {
	t.Parallel()
	rec := &recording{inner: synthetic.New()}
	h := start(t, harnessOptions{provider: rec})
	resp, err := generate(t, h, "ok,verify_reject,ok,ok", verifiedRequest())
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	want := []string{"generation VERIFICATION_FAILED", "verification", "generation", "verification"}
	if diff := cmp.Diff(want, attemptSummary(resp.GetReport())); diff != "" {
		t.Fatalf("attempts (-want +got):\n%s", diff)
	}
	verifierCall := rec.requests[1]
	if verifierCall.GetPurpose() != providerv1.Purpose_PURPOSE_VERIFICATION || verifierCall.GetLogprobs() ||
		!strings.Contains(lastUser(verifierCall), "Is this priority justified by the ticket?") ||
		!strings.Contains(lastUser(verifierCall), verifiedRequest().GetPrompt()) {
		t.Errorf("verifier request = %v", verifierCall)
	}
	reask := lastUser(rec.requests[2])
	if !strings.Contains(reask, "VERIFICATION_FAILED") || !strings.Contains(reask, synthetic.RejectedReason) || !strings.Contains(reask, `"field":"priority"`) {
		t.Errorf("re-ask does not carry the verifier's reason for priority:\n%s", reask)
	}
	v := resp.GetReport().GetVerification()
	wantV := &guardgenv1.VerificationReport{
		Status: guardgenv1.VerificationStatus_VERIFICATION_STATUS_SUPPORTED,
		Fields: []string{"priority"},
		Reason: synthetic.SupportedReason,
		Route:  "default",
		Calls:  2,
	}
	if diff := cmp.Diff(wantV, v, protocmp.Transform(), protocmp.IgnoreFields(&guardgenv1.VerificationReport{}, "usage")); diff != "" {
		t.Errorf("verification (-want +got):\n%s", diff)
	}
	var usage int64
	for _, a := range resp.GetReport().GetAttempts() {
		if a.GetVerification() {
			usage += a.GetUsage().GetTotalTokens()
		}
	}
	if v.GetUsage().GetTotalTokens() != usage || usage == 0 {
		t.Errorf("verification usage = %v, want the %d tokens of the verification attempts", v.GetUsage(), usage)
	}
}

// TestVerifyRejectTwiceFails: the second rejection is final; the caller
// sees the field and, cut to the preview length, the verifier's reason.
func TestVerifyRejectTwiceFails(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{set: func(o *server.Options) {
		o.PreviewLength = 200
	}})
	_, err := generate(t, h, "ok,verify_reject,ok,verify_reject", verifiedRequest())
	want := outcome{Code: codes.Aborted, Reason: "VERIFICATION_FAILED", Domain: output, Action: retry, Recoverable: true, Calls: 4}
	if diff := cmp.Diff(want, observe(t, nil, err)); diff != "" {
		t.Errorf("outcome (-want +got):\n%s", diff)
	}
	fd, _ := failureOf(t, err)
	if fd.GetMetadata()["fields"] != "priority" || fd.GetMetadata()["verifier_reason"] != synthetic.RejectedReason {
		t.Errorf("failure metadata = %v", fd.GetMetadata())
	}
}

// TestVerificationRespectsTheCallCap: with a cap of 2 and a re-ask, the
// request spends its 2 calls on generations and says it skipped the
// verifier for lack of budget.
func TestVerificationRespectsTheCallCap(t *testing.T) {
	t.Parallel()
	rec := &recording{inner: synthetic.New()}
	h := start(t, harnessOptions{provider: rec, set: func(o *server.Options) {
		o.MaxProviderCalls = 2
		o.SemanticAttempts = 2
	}})
	resp, err := generate(t, h, "schema,ok", verifiedRequest())
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if len(rec.requests) != 2 {
		t.Errorf("provider saw %d calls, want the cap of 2", len(rec.requests))
	}
	v := resp.GetReport().GetVerification()
	if v.GetStatus() != guardgenv1.VerificationStatus_VERIFICATION_STATUS_SKIPPED || v.GetSkipped() != "provider_call_cap" ||
		!strings.Contains(v.GetReason(), "cap of 2 provider calls") || v.GetCalls() != 0 {
		t.Errorf("verification = %v, want skipped for the call cap", v)
	}
	w := resp.GetReport().GetWarnings()
	if len(w) != 1 || w[0].GetKind() != "verification_skipped" {
		t.Errorf("warnings = %v, want verification_skipped", w)
	}
}

// TestNoLogprobsNoConfidence: a provider without logprobs leaves
// confidence unknown, reported as such, and a critical field is not failed
// for it.
func TestNoLogprobsNoConfidence(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{provider: withoutLogprobs{synthetic.New()}})
	resp, err := generate(t, h, "low_confidence:priority", verifiedRequest())
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	c := resp.GetReport().GetConfidence()
	if c.GetAvailable() || c.GetUnavailableReason() != "the provider returned no token log-probabilities" || len(c.GetFields()) != 0 {
		t.Errorf("confidence = %v, want unavailable with the reason and no values", c)
	}
	w := resp.GetReport().GetWarnings()
	if len(w) != 1 || w[0].GetKind() != "confidence_unavailable" {
		t.Errorf("warnings = %v, want confidence_unavailable", w)
	}
}

// withoutLogprobs is a provider that never returns logprobs.
type withoutLogprobs struct{ *synthetic.Provider }

func (p withoutLogprobs) Complete(ctx context.Context, req *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
	resp, err := p.Provider.Complete(ctx, req)
	if resp != nil {
		resp.Logprobs = nil
	}
	return resp, err
}

// TestReportConfidenceOnRequest: an unmarked target's confidence is
// reported when the request asks, and logprobs are asked for only then.
func TestReportConfidenceOnRequest(t *testing.T) {
	t.Parallel()
	rec := &recording{inner: synthetic.New()}
	h := start(t, harnessOptions{provider: rec})
	plain, err := generate(t, h, "", &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: ticket})
	if err != nil {
		t.Fatal(err)
	}
	asked, err := generate(t, h, "", &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: ticket,
		Options: &guardgenv1.GenerateOptions{ReportConfidence: true}})
	if err != nil {
		t.Fatal(err)
	}
	if rec.requests[0].GetLogprobs() || plain.GetReport().GetConfidence() != nil {
		t.Error("an unmarked target asked for logprobs, or reported confidence, unasked")
	}
	if !rec.requests[1].GetLogprobs() || len(asked.GetReport().GetConfidence().GetFields()) != 3 {
		t.Errorf("asked: logprobs %v, confidence %v", rec.requests[1].GetLogprobs(), asked.GetReport().GetConfidence())
	}
}

// TestDescribeTargetShowsSemantics: DescribeTarget shows the marks of the
// type's options, and the configuration's per-type override over them.
func TestDescribeTargetShowsSemantics(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{set: func(o *server.Options) {
		o.Semantics = map[string]semantic.Override{
			ticket: {Fields: map[string]*guardgenv1.FieldSemantics{"category": {Critical: true, Verify: "Does the ticket concern this?"}}},
		}
	}})
	ctx := t.Context()
	tests := []struct {
		target string
		want   []*guardgenv1.SemanticField
	}{
		{verified, []*guardgenv1.SemanticField{
			{Path: "priority", Semantics: &guardgenv1.FieldSemantics{Critical: true, MinConfidence: 0.7, Verify: "Is this priority justified by the ticket?"}},
			{Path: "summary", Semantics: &guardgenv1.FieldSemantics{MinConfidence: 0.3}},
		}},
		{ticket, []*guardgenv1.SemanticField{
			{Path: "category", Semantics: &guardgenv1.FieldSemantics{Critical: true, Verify: "Does the ticket concern this?"}},
		}},
	}
	for _, tt := range tests {
		d, err := h.targets.DescribeTarget(ctx, &guardgenv1.DescribeTargetRequest{TargetType: tt.target})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, d.GetSemanticFields(), protocmp.Transform()); diff != "" {
			t.Errorf("%s semantic fields (-want +got):\n%s", tt.target, diff)
		}
	}
}

// TestSemanticsConfigErrors: configured semantics that cannot apply fail
// the server's start, naming the problem.
func TestSemanticsConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sem  map[string]semantic.Override
		want string
	}{
		{"unknown type", map[string]semantic.Override{"acme.v1.Order": {}}, "acme.v1.Order"},
		{"unknown field", map[string]semantic.Override{ticket: {Fields: map[string]*guardgenv1.FieldSemantics{"urgency": {Critical: true}}}}, `no field "urgency"`},
		{"unknown route", map[string]semantic.Override{ticket: {VerifierRoute: "cheap"}}, `verifier route "cheap"`},
	}
	for _, tt := range tests {
		opts := apptest.ServerOptions()
		opts.Resolver, opts.Routes, opts.Semantics = newResolver(t), syntheticRoutes(), tt.sem
		_, err := server.New(opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error naming %s", tt.name, err, tt.want)
		}
	}
}

// TestOpenAIConfidenceByHand: against the local OpenAI-compatible server
// with scripted logprobs, the confidences in the response are the
// products computed here by hand, and the verifier's verdict comes from
// the server's verifier lane.
func TestOpenAIConfidenceByHand(t *testing.T) {
	t.Parallel()
	h := startOpenAI(t, nil, e2eEntry{chain: quickChain("openai")})
	srv := h.up[0].srv
	srv.Enqueue(openaitest.Step{
		Content: `{"category":"billing","priority":2,"summary":"Charged twice"}`,
		Logprobs: []openaitest.Logprob{
			{Token: `{"`, Logprob: -0.001}, {Token: "category", Logprob: -0.002}, {Token: `":"`, Logprob: -0.003},
			{Token: "bill", Logprob: -0.05}, {Token: "ing", Logprob: -0.01},
			{Token: `","`, Logprob: -0.004}, {Token: "priority", Logprob: -0.005}, {Token: `":`, Logprob: -0.006},
			{Token: "2", Logprob: -0.2},
			{Token: `,"`, Logprob: -0.007}, {Token: "summary", Logprob: -0.008}, {Token: `":"`, Logprob: -0.009},
			{Token: "Char", Logprob: -0.3}, {Token: "ged", Logprob: -0.02}, {Token: " twice", Logprob: -0.4},
			{Token: `"}`, Logprob: -0.011},
		},
	})
	srv.EnqueueVerifier(openaitest.Verdict(true, "The ticket reports a double charge; priority 2 fits."))
	resp, err := h.generate(t, 10*time.Second, &guardgenv1.GenerateRequest{Prompt: ticketPrompt, TargetType: verified})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	// By hand: a value's confidence is the product of its own tokens'
	// probabilities; keys, quotes, colons and commas are not counted.
	want := &guardgenv1.ConfidenceReport{Available: true, Fields: []*guardgenv1.FieldConfidence{
		{Path: "category", Confidence: proto.Float64(math.Exp(-0.05) * math.Exp(-0.01)), Tokens: 2},
		{Path: "priority", Confidence: proto.Float64(math.Exp(-0.2)), Tokens: 1, Critical: true, MinConfidence: 0.7},
		{Path: "summary", Confidence: proto.Float64(math.Exp(-0.3) * math.Exp(-0.02) * math.Exp(-0.4)), Tokens: 3, MinConfidence: 0.3},
	}}
	if diff := cmp.Diff(want, resp.GetReport().GetConfidence(), protocmp.Transform(), cmpopts.EquateApprox(0, 1e-12)); diff != "" {
		t.Errorf("confidence (-want +got):\n%s", diff)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 || reqs[0].Body["logprobs"] != true || reqs[1].Body["logprobs"] != nil {
		t.Errorf("upstream saw %d requests; logprobs asked for: generation %v, verification %v", len(reqs), reqs[0].Body["logprobs"], reqs[1].Body["logprobs"])
	}
	if v := resp.GetReport().GetVerification(); v.GetStatus() != guardgenv1.VerificationStatus_VERIFICATION_STATUS_SUPPORTED || v.GetCalls() != 1 {
		t.Errorf("verification = %v", v)
	}
}

func newResolver(t *testing.T) *schema.Resolver {
	t.Helper()
	r, err := schema.NewResolver(apptest.ResolverOptions())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// syntheticRoutes is one route, "default", to the synthetic provider.
func syntheticRoutes() []server.Route {
	chain := mustChain(apptest.ChainOptions("synthetic"))
	client := providerv1.NewProviderServiceClient(providers.InProcess(synthetic.New(), chain.Interceptors()...))
	return []server.Route{{Name: "default", Entries: []server.RouteEntry{{Provider: "synthetic", Client: client}}}}
}

// slowGenerations delays generation calls, so that a verifier call would
// not fit in what is left of the deadline.
type slowGenerations struct {
	providerv1.UnimplementedProviderServiceServer
	inner providerv1.ProviderServiceServer
	delay time.Duration
}

func (p slowGenerations) Complete(ctx context.Context, req *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
	if req.GetPurpose() != providerv1.Purpose_PURPOSE_VERIFICATION {
		select {
		case <-time.After(p.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return p.inner.Complete(ctx, req)
}

// TestVerificationSkippedNearTheDeadline: when less time is left than the
// generation took, the verifier is not called and the report says why.
func TestVerificationSkippedNearTheDeadline(t *testing.T) {
	t.Parallel()
	rec := &recording{inner: slowGenerations{inner: synthetic.New(), delay: 700 * time.Millisecond}}
	h := start(t, harnessOptions{provider: rec})
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	resp, err := h.gen.Generate(ctx, verifiedRequest())
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	v := resp.GetReport().GetVerification()
	if v.GetStatus() != guardgenv1.VerificationStatus_VERIFICATION_STATUS_SKIPPED || v.GetSkipped() != "deadline" || len(rec.requests) != 1 {
		t.Errorf("verification = %v after %d calls, want skipped for the deadline after 1", v, len(rec.requests))
	}
}

// TestVerifierRoute: a type's verifier route (here from configuration)
// answers its verify questions, and only those.
func TestVerifierRoute(t *testing.T) {
	t.Parallel()
	main := &recording{inner: synthetic.New()}
	cheap := &recording{inner: synthetic.New()}
	h := start(t, harnessOptions{routes: []server.Route{
		{Name: "default", Entries: []server.RouteEntry{routeEntry("main", "big-model", 0, main)}},
		{Name: "cheap", Entries: []server.RouteEntry{routeEntry("cheap", "small-model", 0, cheap)}},
	}, set: func(o *server.Options) {
		o.Semantics = map[string]semantic.Override{verified: {VerifierRoute: "cheap"}}
	}})
	resp, err := generate(t, h, "", verifiedRequest())
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if len(main.requests) != 1 || len(cheap.requests) != 1 || cheap.requests[0].GetPurpose() != providerv1.Purpose_PURPOSE_VERIFICATION ||
		cheap.requests[0].GetModel() != "small-model" {
		t.Errorf("main saw %d calls, cheap %d (%v)", len(main.requests), len(cheap.requests), cheap.requests)
	}
	a := resp.GetReport().GetAttempts()
	if len(a) != 2 || a[1].GetProvider() != "cheap" || !a[1].GetVerification() || resp.GetReport().GetVerification().GetRoute() != "cheap" {
		t.Errorf("attempts = %v, verification = %v", a, resp.GetReport().GetVerification())
	}
}

// TestConfidenceMetrics: measured confidences land in a histogram per
// target, and verifier checks in a counter by outcome.
func TestConfidenceMetrics(t *testing.T) {
	t.Parallel()
	metrics, err := telemetry.NewMetrics(telemetry.Options{Prefix: "llm.pipeline", NoRuntimeMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = metrics.Shutdown(context.Background()) })
	h := start(t, harnessOptions{set: func(o *server.Options) {
		o.Metrics = metrics
	}})
	if _, err := generate(t, h, "low_confidence:summary", verifiedRequest()); err != nil {
		t.Fatal(err)
	}
	families := parseMetrics(t, scrapeMetrics(t, metrics))
	hist := families["llm_pipeline_field_confidence"]
	if hist == nil || len(hist.GetMetric()) != 1 {
		t.Fatalf("no field confidence histogram: %v", hist)
	}
	m := hist.GetMetric()[0]
	if m.GetLabel()[0].GetValue() != verified || m.GetHistogram().GetSampleCount() != 3 {
		t.Errorf("histogram %v, want 3 values of %s", m, verified)
	}
	if v, ok := metricValue(families["llm_pipeline_verifications_total"], map[string]string{"target": verified, "outcome": "supported"}); !ok || v != 1 {
		t.Errorf("verifications{supported} = %v, %v; want 1", v, ok)
	}
}

// markedTypeSet is newTypeSet with code marked by fs and the message's
// verifier route set, as a caller's own .proto would mark them.
func markedTypeSet(name string, fs *guardgenv1.FieldSemantics, route string) *descriptorpb.FileDescriptorSet {
	set := newTypeSet(name)
	file := set.GetFile()[len(set.GetFile())-1]
	file.Dependency = append(file.Dependency, "guardgen/v1/options.proto")
	msg := file.GetMessageType()[0]
	proto.SetExtension(msg.GetField()[0].GetOptions(), guardgenv1.E_Field, fs)
	msg.Options = &descriptorpb.MessageOptions{}
	proto.SetExtension(msg.Options, guardgenv1.E_Message, &guardgenv1.MessageSemantics{VerifierRoute: route})
	set.File = append([]*descriptorpb.FileDescriptorProto{protodesc.ToFileDescriptorProto(guardgenv1.File_guardgen_v1_options_proto)}, set.File...)
	return set
}

// TestInlineTypeSemantics: a type the request defines may carry marks;
// they apply, and marks out of bounds or a route the server lacks are
// rejected before any provider call.
func TestInlineTypeSemantics(t *testing.T) {
	t.Parallel()
	rec := &recording{inner: synthetic.New()}
	h := start(t, harnessOptions{provider: rec})
	question := &guardgenv1.FieldSemantics{Critical: true, Verify: "Is this the customer's code?"}
	resp, err := generate(t, h, "", &guardgenv1.GenerateRequest{Prompt: "Invoice ACME for 12 euros", TargetType: "acme.v1.Invoice",
		DescriptorSet: markedTypeSet("acme.v1.Invoice", question, "default")})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if v := resp.GetReport().GetVerification(); v.GetStatus() != guardgenv1.VerificationStatus_VERIFICATION_STATUS_SUPPORTED || v.GetFields()[0] != "code" {
		t.Errorf("verification = %v", v)
	}
	calls := len(rec.requests)
	tests := []struct {
		name, target string
		fs           *guardgenv1.FieldSemantics
		route        string
		want         string
	}{
		{"min_confidence above 1", "acme.v1.Bill", &guardgenv1.FieldSemantics{MinConfidence: 2}, "", "min_confidence"},
		{"unknown verifier route", "acme.v1.Receipt", question, "nowhere", `unknown route "nowhere"`},
	}
	for _, tt := range tests {
		_, err := generate(t, h, "", &guardgenv1.GenerateRequest{Prompt: "Invoice ACME", TargetType: tt.target, DescriptorSet: markedTypeSet(tt.target, tt.fs, tt.route)})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), tt.want) {
			t.Errorf("%s: %v, want InvalidArgument naming %s", tt.name, err, tt.want)
		}
	}
	if len(rec.requests) != calls {
		t.Errorf("rejected requests made %d provider calls", len(rec.requests)-calls)
	}
}
