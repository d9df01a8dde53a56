package server

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/guardgen/guardgen/classifier"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/schema"
	"github.com/guardgen/guardgen/semantic"
	"github.com/guardgen/guardgen/telemetry"
)

// Generate implements GenerationService.Generate: resolve the target, run
// the attempt loop, answer with a validated message or a classified failure.
func (s *Server) Generate(ctx context.Context, req *guardgenv1.GenerateRequest) (*guardgenv1.GenerateResponse, error) {
	return s.generate(ctx, req, nil)
}

// generate is Generate, and GenerateStream when events is set: then each
// provider call is a stream whose partial messages go to events (see
// askStream), and the loop tells events of the attempts it abandons. All
// else (re-asks, degradation, verification, reporting, metrics, logging)
// is one code path.
func (s *Server) generate(ctx context.Context, req *guardgenv1.GenerateRequest, events *streamEvents) (*guardgenv1.GenerateResponse, error) {
	start := time.Now()
	if n := len(req.GetPrompt()); s.opts.MaxPromptBytes > 0 && n > s.opts.MaxPromptBytes {
		return nil, statusOf(classifier.New(guardgenv1.FailureReason_FAILURE_REASON_INVALID_REQUEST,
			"prompt: %d bytes exceeds the limit of %d", n, s.opts.MaxPromptBytes))
	}
	if s.opts.RequestTimeout > 0 {
		// guardgen's own bound, whatever the caller sent or did not send.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opts.RequestTimeout)
		defer cancel()
	}
	ctx, cancel := s.withMargin(ctx)
	defer cancel()
	route, rf := s.route(ctx, req)
	if rf != nil {
		return nil, statusOf(rf)
	}
	target, err := s.resolver.ResolveContext(ctx, req.GetTargetType(), req.GetDescriptorSet())
	if err != nil {
		return nil, statusOf(resolveFailure(err))
	}
	spanName := "guardgen.generate"
	if events != nil {
		spanName = "guardgen.generate_stream"
	}
	ctx, span := s.tracer.Start(ctx, spanName)
	defer span.End()
	ctx, rec := providers.WithRecorder(forwardMetadata(ctx), s.opts.MaxProviderCalls)
	run := &generation{s: s, target: target, route: route, req: req, rec: rec, failures: make(map[int]*classifier.Failure),
		caller: s.cacheCaller(ctx), events: events, start: start}
	run.ask = run.askUnary
	if events != nil {
		run.ask, events.g = run.askStream, run
	}
	resp, f := run.loop(ctx)
	if f != nil && shutDown(ctx) {
		f = shutdownFailure()
	}
	if f != nil {
		f.Attempts = rec.Len()
		if d := run.degrade(ctx, run.preq, f); d != nil {
			resp = d
		}
	}
	latency := time.Since(start)
	s.observe(ctx, target, resp, f, latency)
	run.annotate(ctx, resp, f)
	noteCall(ctx, string(target.Desc.FullName()), outcomeOf(resp).String(), rec.Len())
	if s.opts.LogRawPayloads {
		notePayloads(ctx, preview(req.GetPrompt(), target, s.opts.PreviewLength), preview(run.output, target, s.opts.PreviewLength))
	}
	events.done(ctx, run, resp)
	if resp == nil {
		return nil, statusOf(f)
	}
	resp.Report = run.report(latency)
	return resp, nil
}

// generation is the state of one Generate call.
type generation struct {
	s      *Server
	target *schema.Target
	route  Route
	req    *guardgenv1.GenerateRequest
	rec    *providers.Recorder
	// failures holds why each provider call's output was not accepted,
	// keyed by call number.
	failures map[int]*classifier.Failure
	// repairs holds what was changed in the accepted output.
	repairs []*guardgenv1.Repair
	// fellBack is the failure that moved the route past its first entry.
	fellBack *classifier.Failure
	// preq is the latest provider request (re-asks extend it).
	preq *providerv1.CompleteRequest
	// output is the latest model output the attempt loop received: the
	// accepted one on success (logged only under LogRawPayloads).
	output string
	// checks are the target's semantic checks; verifier is the route that
	// answers their verify questions.
	checks   *semantic.Checks
	verifier Route
	// sem is what the semantic checks found about the latest candidate.
	sem semanticReport
	// answered is the number of the provider call whose output is the
	// answer; 0 when no generation answered (a failure, cache, template).
	answered int
	// caller scopes the request's cached results (see cacheCaller).
	caller string
	// ask asks one route entry for one completion: askUnary, or askStream
	// for GenerateStream, whose partials go to events.
	ask    func(ctx context.Context, e RouteEntry, req *providerv1.CompleteRequest) (completion, *classifier.Failure)
	events *streamEvents
	// aborts says, per provider call, why its stream was stopped early and
	// what that saved.
	aborts map[int]*guardgenv1.StreamAbort
	// start is when the request arrived; semantic is the generation the
	// loop is at.
	start    time.Time
	semantic int
}

// completion is the answer of one provider call: the response (of a
// stream, what its chunks spelled, as far as they went), and, when the
// stream was stopped because a complete field failed its check, that
// failure of the output, found before the model finished.
type completion struct {
	resp  *providerv1.CompleteResponse
	early *classifier.Failure
}

// askUnary asks e with one Complete call.
func (g *generation) askUnary(ctx context.Context, e RouteEntry, req *providerv1.CompleteRequest) (completion, *classifier.Failure) {
	resp, err := e.Client.Complete(ctx, req)
	if err != nil {
		return completion{}, classifier.As(err)
	}
	return completion{resp: resp}, nil
}

// judge runs the output stages on a completion made by provider call
// number call: the stream's early failure, or the finish reason,
// extraction, decoding, validation and the semantic checks.
func (g *generation) judge(ctx context.Context, c completion, call int) (accepted, *classifier.Failure) {
	if c.early != nil {
		return accepted{}, c.early
	}
	a, f := g.accept(c.resp)
	if f == nil {
		f = g.check(ctx, c.resp, a, call)
	}
	return a, f
}

// loop is the semantic attempt loop. Transport retries happen inside each
// Complete call (the provider interceptor chain); here a failed output is
// re-asked only as its row of the decision matrix allows, within the
// semantic budget, the request's provider-call cap and its deadline.
func (g *generation) loop(ctx context.Context) (*guardgenv1.GenerateResponse, *classifier.Failure) {
	budget := g.s.opts.SemanticAttempts
	if n := int(g.req.GetOptions().GetMaxAttempts()); n > 0 && n < budget {
		budget = n
	}
	if f := g.prepareSemantics(); f != nil {
		return nil, f
	}
	g.preq = g.providerRequest()
	reasks := make(map[guardgenv1.FailureReason]int)
	var last *classifier.Failure
	for attempt := 1; attempt <= budget; attempt++ {
		g.rec.SetSemantic(attempt)
		g.semantic = attempt
		c, f := g.complete(ctx, g.preq)
		if f != nil {
			return nil, f
		}
		call := g.rec.Len()
		resp := c.resp
		g.output = resp.GetContent()
		a, f := g.judge(ctx, c, call)
		if f == nil {
			g.repairs, g.answered = a.repairs, call
			out, rf := g.respond(a)
			if rf == nil && !out.GetDegraded() {
				g.remember(ctx, a.msg, resp.GetModel())
			}
			return out, rf
		}
		f.With("model", resp.GetModel()).With("semantic_attempt", strconv.Itoa(attempt))
		g.failures[call] = f
		last = f
		if attempt == budget || !g.reaskable(f, reasks) {
			break
		}
		reasks[f.Reason]++
		g.s.metrics.RecordReask(ctx, f.Reason)
		g.events.reset(call, guardgenv1.ResetReason_RESET_REASON_REASK, f)
		g.preq = g.reask(g.preq, resp.GetContent(), f)
	}
	return nil, last
}

// reaskable reports whether the attempt loop may ask the model again after f.
func (g *generation) reaskable(f *classifier.Failure, reasks map[guardgenv1.FailureReason]int) bool {
	switch {
	case f.Reasks < 0:
		return true
	case f.Reasks == 0:
		return false
	default:
		return reasks[f.Reason] < f.Reasks
	}
}

// respond packs an accepted message.
func (g *generation) respond(a accepted) (*guardgenv1.GenerateResponse, *classifier.Failure) {
	msg := a.msg
	packed, err := anypb.New(msg)
	if err != nil {
		return nil, classifier.Wrap(err, guardgenv1.FailureReason_FAILURE_REASON_INTERNAL, "packing the message failed")
	}
	js, err := protojson.Marshal(msg)
	if err != nil {
		return nil, classifier.Wrap(err, guardgenv1.FailureReason_FAILURE_REASON_INTERNAL, "rendering the message as JSON failed")
	}
	resp := &guardgenv1.GenerateResponse{Message: packed, Json: string(js)}
	switch {
	case a.partial != nil:
		g.s.metrics.RecordFallback(context.Background(), telemetry.FallbackPartial)
		resp.Degraded = true
		resp.Degradation = a.partial.Detail()
	case g.fellBack != nil:
		// A fallback model answered: valid, but not what the route asked for.
		resp.Degraded = true
		resp.Degradation = g.fellBack.Detail()
	}
	return resp, nil
}

// providerRequest builds the provider request from the caller's: the
// caller's instructions, guardgen's, the prompt and the output schema.
func (g *generation) providerRequest() *providerv1.CompleteRequest {
	// One concatenation: this runs on every request.
	value := answerForms[g.target.Form()]
	system := "Answer with one " + value + " that conforms to the JSON Schema named " + g.target.Name +
		" (protobuf message " + string(g.target.Desc.FullName()) + "). Output only the " + value + ": no prose, no markdown."
	if in := g.req.GetInstructions(); in != "" {
		system = in + "\n\n" + system
	}
	opts := g.req.GetOptions()
	// Few-shot examples go between the instructions and the prompt, as
	// the turns they stand for.
	messages := make([]*providerv1.Message, 0, 2+2*len(opts.GetExamples()))
	messages = append(messages, &providerv1.Message{Role: providerv1.Role_ROLE_SYSTEM, Content: system})
	for _, ex := range opts.GetExamples() {
		messages = append(messages,
			&providerv1.Message{Role: providerv1.Role_ROLE_USER, Content: ex.GetInput()},
			&providerv1.Message{Role: providerv1.Role_ROLE_ASSISTANT, Content: ex.GetOutput()})
	}
	messages = append(messages, &providerv1.Message{Role: providerv1.Role_ROLE_USER, Content: g.req.GetPrompt()})
	sampling := &providerv1.SamplingOptions{MaxOutputTokens: opts.GetMaxOutputTokens()}
	if opts != nil {
		sampling.Temperature, sampling.TopP, sampling.Seed = copyOf(opts.Temperature), copyOf(opts.TopP), copyOf(opts.Seed)
	}
	return &providerv1.CompleteRequest{
		Messages:     messages,
		Model:        opts.GetModel(),
		OutputSchema: &providerv1.OutputSchema{Name: g.target.Name, JsonSchema: g.target.JSONSchemaText, Strict: true},
		Sampling:     sampling,
		Logprobs:     g.wantsLogprobs(),
		Purpose:      providerv1.Purpose_PURPOSE_GENERATION,
	}
}

// copyOf returns a copy of *p, or nil.
func copyOf[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// answerForms names the JSON value a target's answer is, for the
// instructions.
var answerForms = [...]string{
	schema.FormObject: "JSON object",
	schema.FormArray:  "JSON array",
	schema.FormScalar: "JSON value",
	schema.FormAny:    "JSON value",
}

// report says how the answer was produced: one Attempt per provider call.
func (g *generation) report(latency time.Duration) *guardgenv1.GenerationReport {
	calls := g.rec.Calls()
	r := &guardgenv1.GenerationReport{
		Attempts: make([]*guardgenv1.Attempt, 0, len(calls)),
		Usage:    &providerv1.Usage{},
		Latency:  durationpb.New(latency),
		Repairs:  g.repairs,
	}
	for _, c := range calls {
		a := &guardgenv1.Attempt{
			Number:          int32(c.Number),
			SemanticAttempt: int32(c.Semantic),
			Provider:        c.Provider,
			Model:           c.Model,
			FinishReason:    c.FinishReason,
			Usage:           c.Usage,
			Latency:         durationpb.New(c.Latency),
			Verification:    c.Verification,
			Constraint:      c.Constraint,
			ResponseId:      c.ResponseID,
		}
		if c.Priced {
			a.Cost = proto.Float64(c.Cost)
			r.Cost = proto.Float64(r.GetCost() + c.Cost)
		}
		a.Abort = g.aborts[c.Number]
		switch f := g.failures[c.Number]; {
		case f != nil:
			a.Failure = f.Detail()
		case c.Err != nil:
			a.Failure = classifier.As(c.Err).Detail()
		case c.Number == g.answered:
			a.Repairs = g.repairs
		}
		r.Usage.InputTokens += c.Usage.GetInputTokens()
		r.Usage.OutputTokens += c.Usage.GetOutputTokens()
		r.Usage.TotalTokens += c.Usage.GetTotalTokens()
		r.Usage.CachedInputTokens += c.Usage.GetCachedInputTokens()
		r.Usage.ReasoningTokens += c.Usage.GetReasoningTokens()
		r.SavedOutputTokens += a.GetAbort().GetSavedOutputTokens()
		r.Attempts = append(r.Attempts, a)
	}
	g.reportSemantics(r, calls)
	g.events.report(r)
	return r
}

// forwardMetadata passes the caller's x-guardgen-* metadata on to the
// provider, and nothing else (no authorization headers).
func forwardMetadata(ctx context.Context) context.Context {
	in, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return ctx
	}
	var out metadata.MD
	for k, vs := range in {
		if strings.HasPrefix(k, providers.MetadataPrefix) && k != providers.CallMetadataKey {
			if out == nil {
				out = metadata.MD{}
			}
			out[k] = vs
		}
	}
	if out == nil {
		return ctx
	}
	return metadata.NewOutgoingContext(ctx, out)
}

// withMargin keeps DeadlineMargin back from the caller's deadline, so that
// a request that runs out of time still answers with its FailureDetail
// before the caller's own timer fires rather than let it see a bare
// DEADLINE_EXCEEDED. A deadline shorter than twice the margin keeps half
// of what is left.
func (s *Server) withMargin(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	left := time.Until(dl)
	if !ok || left <= 0 {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, dl.Add(-min(s.opts.DeadlineMargin, left/2)))
}

// resolveFailure classifies a target resolution error.
func resolveFailure(err error) *classifier.Failure {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return classifier.FromProviderError(err).With("stage", "resolve_target")
	}
	reason := guardgenv1.FailureReason_FAILURE_REASON_INVALID_REQUEST
	switch {
	case errors.Is(err, schema.ErrUnknownTarget):
		reason = guardgenv1.FailureReason_FAILURE_REASON_UNKNOWN_TARGET
	case errors.Is(err, schema.ErrInvalidDescriptorSet):
		reason = guardgenv1.FailureReason_FAILURE_REASON_INVALID_DESCRIPTOR_SET
	}
	f := classifier.Wrap(err, reason, "%s", err.Error())
	if rerr, ok := errors.AsType[*schema.ResolveError](err); ok {
		f.With("field", rerr.Field)
		if rerr.Rule != "" {
			f.With("rule", rerr.Rule)
		}
		if rerr.Element != "" {
			f.With("element", rerr.Element)
		}
	}
	return f
}

// annotate records the outcome on the Generate span: attempts, repairs and, for failures and degraded answers, the domain,
// action and reason that explain them.
func (g *generation) annotate(ctx context.Context, resp *guardgenv1.GenerateResponse, f *classifier.Failure) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{
		attribute.String("guardgen.target", string(g.target.Desc.FullName())),
		attribute.Int("guardgen.attempts", g.rec.Len()),
		telemetry.DegradedKey.Bool(resp.GetDegraded()),
	}
	if len(g.repairs) > 0 {
		kinds := make([]string, len(g.repairs))
		for i, r := range g.repairs {
			kinds[i] = r.GetKind()
		}
		attrs = append(attrs, telemetry.RepairsKey.StringSlice(kinds))
	}
	switch {
	case resp == nil:
		attrs = append(attrs, telemetry.ValidationStatusKey.String("failed"))
		attrs = append(attrs, telemetry.FailureAttributes(f.Domain, f.Action, f.Reason)...)
		if g.s.opts.TraceErrors {
			span.SetStatus(otelcodes.Error, classifier.ReasonName(f.Reason))
		}
	case resp.GetDegraded():
		d := resp.GetDegradation()
		attrs = append(attrs, telemetry.ValidationStatusKey.String("degraded"))
		attrs = append(attrs, telemetry.FailureAttributes(d.GetDomain(), d.GetAction(), d.GetReason())...)
	default:
		attrs = append(attrs, telemetry.ValidationStatusKey.String("passed"))
	}
	span.SetAttributes(attrs...)
}
