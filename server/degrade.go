package server

import (
	"context"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/guardgen/guardgen/classifier"
	"github.com/guardgen/guardgen/fallback"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/schema"
)

// degradable reports whether a final failure may be answered from the
// degradation chain. Input failures must be fixed by the caller, a broken
// business rule halts and alerts, and a caller that has gone gets nothing.
func degradable(ctx context.Context, f *classifier.Failure) bool {
	if ctx.Err() != nil {
		return false
	}
	switch {
	case f.Domain == guardgenv1.FailureDomain_FAILURE_DOMAIN_INPUT_CONSTRAINT:
		return false
	case f.Reason == guardgenv1.FailureReason_FAILURE_REASON_BUSINESS_RULE,
		f.Reason == guardgenv1.FailureReason_FAILURE_REASON_INTERNAL:
		return false
	}
	return true
}

// degrade runs the degradation chain after f: (a) the last valid result
// for the same request from the cache, (b) for truncated output, the
// route's next entry (a larger token limit or another model), (c) the
// target's template. Each answer is OK with degraded = true and f as its
// degradation; nil means the chain had nothing and f stands.
func (g *generation) degrade(ctx context.Context, preq *providerv1.CompleteRequest, f *classifier.Failure) *guardgenv1.GenerateResponse {
	if !degradable(ctx, f) {
		return nil
	}
	if resp := g.fromCache(ctx, f); resp != nil {
		return resp
	}
	if f.Reason == guardgenv1.FailureReason_FAILURE_REASON_TRUNCATED && len(g.route.Entries) > 1 {
		if resp := g.fromFallbackEntry(ctx, preq, f); resp != nil {
			return resp
		}
	}
	return g.fromTemplate(f)
}

// degradation is f's wire form for a degraded answer, naming the kind of
// fallback that served it in metadata["degradation"].
func degradation(f *classifier.Failure, kind string) *guardgenv1.FailureDetail {
	d := f.Detail()
	if d.Metadata == nil {
		d.Metadata = make(map[string]string, 1)
	}
	d.Metadata["degradation"] = kind
	return d
}

// cacheKey identifies a request's result: target type, descriptor hash,
// normalised prompt and the route and model asked for.
func (g *generation) cacheKey() string {
	model := g.route.Name
	if m := g.req.GetOptions().GetModel(); m != "" {
		model += "/" + m
	}
	return fallback.Key(string(g.target.Desc.FullName()), g.target.Hash, g.req.GetPrompt(), model)
}

// remember stores a clean answer as the last valid result for its key. A
// cache failure never fails the request.
func (g *generation) remember(ctx context.Context, msg proto.Message, js string, model string) {
	if g.s.opts.Cache == nil {
		return
	}
	wire, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		return
	}
	entry := fallback.Entry{
		TypeURL: "type.googleapis.com/" + string(msg.ProtoReflect().Descriptor().FullName()),
		Message: wire,
		JSON:    js,
		Model:   model,
	}
	if err := g.s.opts.Cache.Put(ctx, g.cacheKey(), entry); err != nil {
		g.s.logger.WarnContext(ctx, "cache put failed", "error", err)
	}
}

func (g *generation) fromCache(ctx context.Context, f *classifier.Failure) *guardgenv1.GenerateResponse {
	if g.s.opts.Cache == nil {
		return nil
	}
	entry, ok, err := g.s.opts.Cache.Get(ctx, g.cacheKey())
	g.s.metrics.RecordCacheLookup(ctx, g.s.opts.CacheBackend, ok && err == nil)
	if err != nil {
		g.s.logger.WarnContext(ctx, "cache get failed", "error", err)
		return nil
	}
	if !ok {
		return nil
	}
	age := fallback.Age(entry, time.Now())
	d := degradation(f, "cache")
	d.Metadata["cache_age_seconds"] = strconv.FormatFloat(age.Seconds(), 'f', 3, 64)
	g.s.metrics.RecordFallback(ctx, "cache")
	return &guardgenv1.GenerateResponse{
		Message:     &anypb.Any{TypeUrl: entry.TypeURL, Value: entry.Message},
		Json:        entry.JSON,
		Degraded:    true,
		Degradation: d,
		CacheAge:    durationpb.New(age),
	}
}

// fromFallbackEntry asks the route's later entries once for a truncated
// answer; they exist for exactly this (more output tokens, another model).
func (g *generation) fromFallbackEntry(ctx context.Context, preq *providerv1.CompleteRequest, f *classifier.Failure) *guardgenv1.GenerateResponse {
	c, cf := g.completeFrom(ctx, preq, 1)
	if cf != nil {
		return nil
	}
	call := g.rec.Len()
	a, af := g.judge(ctx, c, call)
	if af != nil {
		g.failures[call] = af
		return nil
	}
	g.repairs, g.answered = a.repairs, call
	out, rf := g.respond(a)
	if rf != nil {
		return nil
	}
	d := degradation(f, "route")
	out.Degraded, out.Degradation = true, d
	g.s.metrics.RecordFallback(ctx, "route")
	return out
}

func (g *generation) fromTemplate(f *classifier.Failure) *guardgenv1.GenerateResponse {
	js, ok := g.s.opts.Templates.Get(string(g.target.Desc.FullName()))
	if !ok {
		return nil
	}
	msg, _, err := g.target.Decode([]byte(js), schema.DecodeOptions{})
	if err != nil || g.target.Validate(msg) != nil {
		g.s.logger.Error("template does not decode into a valid message", "target", g.target.Desc.FullName())
		return nil
	}
	out, rf := g.respond(accepted{msg: msg})
	if rf != nil {
		return nil
	}
	d := degradation(f, "template")
	out.Degraded, out.Degradation = true, d
	g.s.metrics.RecordFallback(context.Background(), "template")
	return out
}
