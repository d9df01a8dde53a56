package server

import (
	"context"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/guardgen/guardgen/classifier"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/schema"
	"github.com/guardgen/guardgen/semantic"
	"github.com/guardgen/guardgen/telemetry"
)

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
	// events are GenerateStream's: each provider call is then a stream,
	// whose partials go to events (see ask).
	events *streamEvents
	// aborts says, per provider call, why its stream was stopped early and
	// what that saved.
	aborts map[int]*guardgenv1.StreamAbort
	// start is when the request arrived; semantic is the generation the
	// loop is at.
	start    time.Time
	semantic int
	// reasks counts the re-asks so far per failure reason.
	reasks map[guardgenv1.FailureReason]int
	// span ends with the generation (see end).
	span trace.Span
}

// noteFailure records why call's output was not accepted. The map is
// made at the first: most requests have none.
func (g *generation) noteFailure(call int, f *classifier.Failure) {
	if g.failures == nil {
		g.failures = make(map[int]*classifier.Failure)
	}
	g.failures[call] = f
}

// completion is the answer of one provider call: the response (of a
// stream, what its chunks spelled, as far as they went), and, when the
// stream was stopped because a complete field failed its check, that
// failure of the output, found before the model finished.
type completion struct {
	resp  *providerv1.CompleteResponse
	early *classifier.Failure
}

// ask asks one route entry for one completion: askUnary, or askStream
// for GenerateStream. A branch, not a func field: the method value stored
// in the generation was an allocation on every call.
func (g *generation) ask(ctx context.Context, e *RouteEntry, req *providerv1.CompleteRequest) (completion, *classifier.Failure) {
	if g.events != nil {
		return g.askStream(ctx, e, req)
	}
	return g.askUnary(ctx, e, req)
}

// askUnary asks e with one Complete call.
func (g *generation) askUnary(ctx context.Context, e *RouteEntry, req *providerv1.CompleteRequest) (completion, *classifier.Failure) {
	resp, err := e.Client.Complete(ctx, req)
	if err != nil {
		return completion{}, classifier.As(err)
	}
	return completion{resp: resp}, nil
}

// judge runs the output stages on a completion made by provider call
// number call: the stream's early failure, or the finish reason,
// extraction, decoding, validation and the semantic checks. The accepted
// output is written to a (see accept).
func (g *generation) judge(ctx context.Context, c completion, call int, a *accepted) *classifier.Failure {
	if c.early != nil {
		return c.early
	}
	f := g.accept(c.resp, a)
	if f == nil {
		f = g.check(ctx, c.resp, a, call)
	}
	return f
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
	var last *classifier.Failure
	for attempt := 1; attempt <= budget; attempt++ {
		g.rec.SetSemantic(attempt)
		g.semantic = attempt
		c, f := g.complete(ctx, g.preq)
		if f != nil {
			return nil, f
		}
		out, f, again := g.settle(ctx, c, attempt < budget)
		if !again {
			return out, f
		}
		last = f
	}
	return nil, last
}

// settle judges one answered completion: accepted, it is the response;
// refused, the failure is kept for the report and, when attempts remain
// (more) and the decision matrix allows, the next request re-asks (again).
// It is a call of its own so that loop's frame, on the stack while the
// provider is waited for, stays small (see TestHandlerStackStaysSmall).
func (g *generation) settle(ctx context.Context, c completion, more bool) (out *guardgenv1.GenerateResponse, f *classifier.Failure, again bool) {
	call := g.rec.Len()
	resp := c.resp
	g.output = resp.GetContent()
	var a accepted
	if f = g.judge(ctx, c, call, &a); f == nil {
		g.repairs, g.answered = a.repairs, call
		out, f = g.respond(&a)
		if f == nil && !out.GetDegraded() {
			g.remember(ctx, out.GetMessage(), resp.GetModel())
		}
		return out, f, false
	}
	f, again = g.refused(ctx, resp, f, call, more)
	return nil, f, again
}

// refused is settle for an output the judge refused with f: the failure
// is kept for the report and, when attempts remain (more) and the
// decision matrix allows, the next request re-asks (again). Not inlined:
// settle's frame is on the stack while the output is judged, and copying
// the failure's metadata puts map iterators in it.
//
//go:noinline
func (g *generation) refused(ctx context.Context, resp *providerv1.CompleteResponse, f *classifier.Failure, call int, more bool) (*classifier.Failure, bool) {
	f = f.With("model", resp.GetModel()).With("semantic_attempt", strconv.Itoa(g.semantic))
	g.noteFailure(call, f)
	if !more || !g.reaskable(f) {
		return f, false
	}
	if g.reasks == nil {
		g.reasks = make(map[guardgenv1.FailureReason]int)
	}
	g.reasks[f.Reason]++
	g.s.metrics.RecordReask(ctx, f.Reason)
	g.events.reset(call, guardgenv1.ResetReason_RESET_REASON_REASK, f)
	g.preq = g.reask(g.preq, resp.GetContent(), f)
	return f, true
}

// reaskable reports whether the attempt loop may ask the model again after f.
func (g *generation) reaskable(f *classifier.Failure) bool {
	switch {
	case f.Reasks < 0:
		return true
	case f.Reasks == 0:
		return false
	default:
		return g.reasks[f.Reason] < f.Reasks
	}
}

// respond packs an accepted message.
func (g *generation) respond(a *accepted) (*guardgenv1.GenerateResponse, *classifier.Failure) {
	msg := a.msg
	// Deterministic, so that remember can keep these same bytes.
	packed := new(anypb.Any)
	err := anypb.MarshalFrom(packed, msg, proto.MarshalOptions{Deterministic: true})
	if err != nil {
		return nil, classifier.Wrap(err, guardgenv1.FailureReason_FAILURE_REASON_INTERNAL, "packing the message failed")
	}
	js, err := g.target.Encode(msg)
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
