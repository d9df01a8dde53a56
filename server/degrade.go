package server

import (
	"context"
	"errors"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/guardgen/guardgen/classifier"
	"github.com/guardgen/guardgen/fallback"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/schema"
	"github.com/guardgen/guardgen/telemetry"
)

// degradable reports whether a final failure may be answered from the
// degradation chain. Input failures must be fixed by the caller, a broken
// business rule halts and alerts, a domain routed to reject_and_fix fails
// as it is, and a caller that has gone gets nothing.
func (s *Server) degradable(ctx context.Context, f *classifier.Failure) bool {
	if ctx.Err() != nil {
		return false
	}
	switch {
	case f.Domain == guardgenv1.FailureDomain_FAILURE_DOMAIN_INPUT_CONSTRAINT,
		s.opts.DomainActions[f.Domain] == guardgenv1.RecoveryAction_RECOVERY_ACTION_REJECT_AND_FIX:
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
	if !g.s.degradable(ctx, f) {
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

// cacheKey identifies a request's result: what was asked for (target
// type and descriptor, route and model, instructions, prompt and every
// option that changes the output) and who asked (cacheCaller: found
// here, since only a request that uses the cache needs it).
func (g *generation) cacheKey(ctx context.Context) string {
	opts := g.req.GetOptions()
	model := g.route.Name
	if m := opts.GetModel(); m != "" {
		model += "/" + m
	}
	return fallback.Key(fallback.Scope{
		TargetType:     string(g.target.Desc.FullName()),
		DescriptorHash: g.target.Hash,
		Model:          model,
		Caller:         g.s.cacheCaller(ctx),
		Instructions:   g.req.GetInstructions(),
		Options:        outputOptions(opts),
		Prompt:         g.req.GetPrompt(),
	})
}

// outputOptions encodes the request options that change the answer:
// all of them but those already in the key (route, model) and those that
// only say how the request is served. An option added to GenerateOptions
// is part of the key unless it is cleared here.
func outputOptions(opts *guardgenv1.GenerateOptions) []byte {
	if opts == nil {
		return nil
	}
	o := proto.CloneOf(opts)
	o.Route, o.Model = "", ""
	o.MaxAttempts, o.MaxCacheAge, o.SkipCache, o.ReportConfidence = 0, nil, false, false
	// How GenerateStream shows the answer is not what the answer is.
	o.StreamStrings, o.StreamResets = false, false
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(o) // cannot fail: no required fields
	return b
}

// remember stores a clean answer as the last valid result for its key. A
// cache failure never fails the request.
func (g *generation) remember(ctx context.Context, packed *anypb.Any, model string) {
	if g.s.opts.Cache == nil || g.req.GetOptions().GetSkipCache() {
		return
	}
	wire := packed.GetValue()
	if len(wire) > g.s.opts.MaxCacheEntryBytes {
		return // it could not be served back
	}
	entry := fallback.Entry{
		TypeURL: packed.GetTypeUrl(),
		Message: wire,
		Model:   model,
	}
	if err := g.s.opts.Cache.Put(ctx, g.cacheKey(ctx), entry); err != nil {
		g.s.logger.WarnContext(ctx, "cache put failed", "error", err)
	}
}

// typeURL is the google.protobuf.Any type URL of messages of md.
func typeURL(md protoreflect.MessageDescriptor) string {
	return "type.googleapis.com/" + string(md.FullName())
}

// fromCache answers from the last valid result for the request, if the
// cache has one that passes checkEntry.
func (g *generation) fromCache(ctx context.Context, f *classifier.Failure) *guardgenv1.GenerateResponse {
	if g.s.opts.Cache == nil || g.req.GetOptions().GetSkipCache() {
		return nil
	}
	backend := g.s.opts.CacheBackend
	entry, ok, err := g.s.opts.Cache.Get(ctx, g.cacheKey(ctx))
	var reason string
	switch {
	case errors.Is(err, fallback.ErrUnavailable):
		// The breaker has the backend off; it was logged when it opened.
		g.s.metrics.RecordCacheLookup(ctx, backend, telemetry.CacheOff)
		return nil
	case errors.Is(err, fallback.ErrUnauthenticated):
		reason = "unauthenticated"
	case errors.Is(err, fallback.ErrTooLarge):
		reason = "too_large"
	case errors.Is(err, fallback.ErrCorrupt):
		reason = "corrupt"
	case err != nil:
		g.s.metrics.RecordCacheLookup(ctx, backend, telemetry.CacheError)
		g.s.logger.WarnContext(ctx, "cache get failed", "error", err)
		return nil
	case !ok:
		g.s.metrics.RecordCacheLookup(ctx, backend, telemetry.CacheMiss)
		return nil
	}
	var msg proto.Message
	if reason == "" {
		msg, reason = g.checkEntry(entry, time.Now())
	}
	if reason != "" {
		g.s.metrics.RecordCacheLookup(ctx, backend, telemetry.CacheRejected)
		g.s.metrics.RecordCacheRejected(ctx, backend, reason)
		g.s.logger.WarnContext(ctx, "cache entry refused", "backend", backend, "reason", reason, "target", g.target.Desc.FullName())
		return nil
	}
	age := fallback.Age(entry, time.Now())
	if limit := g.req.GetOptions().GetMaxCacheAge().AsDuration(); limit > 0 && age > limit {
		g.s.metrics.RecordCacheLookup(ctx, backend, telemetry.CacheMiss)
		return nil // older than the caller accepts
	}
	out, rf := g.respond(&accepted{msg: msg})
	if rf != nil {
		return nil
	}
	g.s.metrics.RecordCacheLookup(ctx, backend, telemetry.CacheHit)
	d := degradation(f, "cache")
	d.Metadata["cache_age_seconds"] = strconv.FormatFloat(age.Seconds(), 'f', 3, 64)
	g.s.metrics.RecordFallback(ctx, "cache")
	out.Degraded, out.Degradation, out.CacheAge = true, d, durationpb.New(age)
	return out
}

// maxClockSkew is how far in the future another replica's clock may date
// an entry before the entry is refused as forged or broken.
const maxClockSkew = 5 * time.Second

// checkEntry decodes a cached entry into the request's target and returns
// the message, or why it may not be served: a cache is outside input, so an
// entry is served only if it is of the requested type, within the size
// limit, dated within the TTL and not in the future, decodes with nothing
// unknown in it, and passes the type's validation now.
func (g *generation) checkEntry(e fallback.Entry, now time.Time) (proto.Message, string) {
	switch {
	case e.TypeURL != typeURL(g.target.Desc):
		return nil, "type"
	case len(e.Message) > g.s.opts.MaxCacheEntryBytes:
		return nil, "too_large"
	case e.StoredAt.IsZero() || now.Sub(e.StoredAt) > g.s.opts.CacheTTL:
		return nil, "expired"
	case e.StoredAt.After(now.Add(maxClockSkew)):
		return nil, "future"
	}
	msg := g.target.Type.New().Interface()
	if err := proto.Unmarshal(e.Message, msg); err != nil || hasUnknown(msg.ProtoReflect()) {
		return nil, "undecodable"
	}
	if g.target.Validate(msg) != nil {
		return nil, "invalid"
	}
	return msg, ""
}

// hasUnknown reports whether m, or a message within it, holds fields its
// type does not define: bytes of another type that happen to parse.
func hasUnknown(m protoreflect.Message) bool {
	if len(m.GetUnknown()) > 0 {
		return true
	}
	found := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					found = hasUnknown(mv.Message())
					return !found
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				for i := range v.List().Len() {
					if found = hasUnknown(v.List().Get(i).Message()); found {
						break
					}
				}
			}
		case fd.Message() != nil:
			found = hasUnknown(v.Message())
		}
		return !found
	})
	return found
}

// fromFallbackEntry asks the route's later entries once for a truncated
// answer; they exist for exactly this (more output tokens, another model).
func (g *generation) fromFallbackEntry(ctx context.Context, preq *providerv1.CompleteRequest, f *classifier.Failure) *guardgenv1.GenerateResponse {
	before := g.fellBack
	c, cf := g.completeFrom(ctx, preq, 1)
	if cf != nil {
		return nil
	}
	call := g.rec.Len()
	var a accepted
	if af := g.judge(ctx, c, call, &a); af != nil {
		g.noteFailure(call, af)
		return nil
	}
	g.repairs, g.answered = a.repairs, call
	out, rf := g.respond(&a)
	if rf != nil {
		return nil
	}
	d := degradation(f, "route")
	out.Degraded, out.Degradation = true, d
	if g.fellBack == before { // completeFrom counted it when a later entry answered
		g.s.metrics.RecordFallback(ctx, "route")
	}
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
	out, rf := g.respond(&accepted{msg: msg})
	if rf != nil {
		return nil
	}
	d := degradation(f, "template")
	out.Degraded, out.Degradation = true, d
	g.s.metrics.RecordFallback(context.Background(), "template")
	return out
}
