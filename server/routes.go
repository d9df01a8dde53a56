package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/proto"

	"github.com/guardgen/guardgen/classifier"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// Route is a named, ordered list of provider entries. The first entry
// serves; the next one serves only when the one before it is down (its
// retries are exhausted, its breaker is open, its quota is gone).
type Route struct {
	Name    string
	Entries []RouteEntry
	// AllowedModels are the models a request may name in options.model;
	// none means a request may not name one.
	AllowedModels []string
	// MaxOutputTokens is the largest options.max_output_tokens a request
	// may set; 0 means it may not set one (the entries' limits apply).
	MaxOutputTokens uint32
	// Callers are the authenticated subjects (Auth.Subjects) that may use
	// the route; none means everyone.
	Callers []string
}

// RouteEntry is one provider and model of a route.
type RouteEntry struct {
	// Provider names the provider in reports.
	Provider string
	// Client reaches the provider through its interceptor chain.
	Client providerv1.ProviderServiceClient
	// Model overrides the provider's model; empty keeps it.
	Model string
	// MaxOutputTokens applies when the request sets none.
	MaxOutputTokens uint32
}

func indexRoutes(routes []Route) (map[string]Route, error) {
	if len(routes) == 0 {
		return nil, errors.New("server: Options.Routes needs at least one route")
	}
	index := make(map[string]Route, len(routes)+1)
	for i, r := range routes {
		if len(r.Entries) == 0 {
			return nil, fmt.Errorf("server: route %q has no entries", r.Name)
		}
		if _, dup := index[r.Name]; dup {
			return nil, fmt.Errorf("server: route %q is defined twice", r.Name)
		}
		index[r.Name] = r
		if i == 0 {
			index[""] = r // the default route
		}
	}
	return index, nil
}

// route returns the route a request names, once the caller may use it
// and the route allows the model and token limit the request asks for.
func (s *Server) route(ctx context.Context, req *guardgenv1.GenerateRequest) (Route, *classifier.Failure) {
	opts := req.GetOptions()
	name := opts.GetRoute()
	r, ok := s.routes[name]
	if !ok {
		return Route{}, requestFieldFailure(guardgenv1.FailureReason_FAILURE_REASON_INVALID_REQUEST, "guardgen.route.known",
			fmt.Sprintf("unknown route %q", name), "options", "route")
	}
	if len(r.Callers) > 0 && !slices.Contains(r.Callers, subject(ctx)) {
		return Route{}, requestFieldFailure(guardgenv1.FailureReason_FAILURE_REASON_PERMISSION_DENIED, "guardgen.route.callers",
			fmt.Sprintf("route %q is reserved for other callers", r.Name), "options", "route")
	}
	if m := opts.GetModel(); m != "" && !slices.Contains(r.AllowedModels, m) {
		reason := fmt.Sprintf("route %q lets requests choose no model", r.Name)
		if len(r.AllowedModels) > 0 {
			reason = fmt.Sprintf("route %q allows %s", r.Name, strings.Join(r.AllowedModels, ", "))
		}
		return Route{}, requestFieldFailure(guardgenv1.FailureReason_FAILURE_REASON_INVALID_REQUEST, "guardgen.route.model",
			fmt.Sprintf("model %q is not allowed: %s", m, reason), "options", "model")
	}
	if n := opts.GetMaxOutputTokens(); n > r.MaxOutputTokens {
		return Route{}, requestFieldFailure(guardgenv1.FailureReason_FAILURE_REASON_INVALID_REQUEST, "guardgen.route.max_output_tokens",
			fmt.Sprintf("%d exceeds route %q's limit of %d", n, r.Name, r.MaxOutputTokens), "options", "max_output_tokens").
			With("limit", strconv.FormatUint(uint64(r.MaxOutputTokens), 10))
	}
	return r, nil
}

// requestFieldFailure is a failure of the request field at path, with the
// violation that names it.
func requestFieldFailure(reason guardgenv1.FailureReason, ruleID, message string, path ...string) *classifier.Failure {
	field := strings.Join(path, ".")
	return classifier.New(reason, "%s: %s", field, message).
		WithViolations([]*validatepb.Violation{fieldViolation(path, ruleID, message)}).
		With("field", field)
}

// falls reports whether a provider failure moves a route to its next
// entry: only when the provider itself is down, and the configuration does
// not route infrastructure failures to reject_and_fix (an answer from the
// next entry is a degraded one). An input failure (a refusal, a content
// filter, a bad request) never does: it must not be laundered through
// another model.
func (s *Server) falls(f *classifier.Failure) bool {
	return f.Domain == guardgenv1.FailureDomain_FAILURE_DOMAIN_INFRASTRUCTURE &&
		f.Action == guardgenv1.RecoveryAction_RECOVERY_ACTION_ALERT_AND_DEGRADE &&
		s.opts.DomainActions[f.Domain] != guardgenv1.RecoveryAction_RECOVERY_ACTION_REJECT_AND_FIX
}

// complete asks the route's entries in order, moving on only as falls
// allows. The request's model applies to the first entry; fallbacks use
// their own.
func (g *generation) complete(ctx context.Context, preq *providerv1.CompleteRequest) (completion, *classifier.Failure) {
	return g.completeFrom(ctx, preq, 0)
}

// entryRequest is preq as entry number i of a route asks it. preq is
// shaped for the first entry (providerRequest, reask): the request's model
// and output token limit, or the entry's where the request sets none.
// Fallbacks use their own model, and their own limit where the request
// (opts) sets none; for them preq is copied.
func entryRequest(preq *providerv1.CompleteRequest, opts *guardgenv1.GenerateOptions, e *RouteEntry, i int) *providerv1.CompleteRequest {
	if i == 0 {
		return preq
	}
	req := proto.CloneOf(preq)
	req.Model = e.Model
	if req.Sampling == nil {
		req.Sampling = new(providerv1.SamplingOptions)
	}
	req.Sampling.MaxOutputTokens = cmp.Or(opts.GetMaxOutputTokens(), e.MaxOutputTokens)
	return req
}

// completeFrom is complete starting at entry first. Its frame is on the
// stack while the provider is waited for: what happens after a failure
// is in failedEntry.
func (g *generation) completeFrom(ctx context.Context, preq *providerv1.CompleteRequest, first int) (completion, *classifier.Failure) {
	var last *classifier.Failure
	for i := first; i < len(g.route.Entries); i++ {
		e := &g.route.Entries[i]
		c, f := g.ask(ctx, e, entryRequest(preq, g.req.GetOptions(), e, i))
		if f == nil {
			if i > first {
				g.fellBack = last
				g.s.metrics.RecordFallback(ctx, "route")
			}
			return c, nil
		}
		if f = g.failedEntry(f, i); !g.s.falls(f) || ctx.Err() != nil {
			return completion{}, f
		}
		last = f
	}
	return completion{}, last
}

// failedEntry is f, the failure of entry number i, as the route sees it: a
// fallback's names the entry it fell back from. Not inlined: copying the
// failure's metadata would put a map iterator in completeFrom's frame.
//
//go:noinline
func (g *generation) failedEntry(f *classifier.Failure, i int) *classifier.Failure {
	if i > 0 {
		f = f.With("fallback_from", g.route.Entries[i-1].Provider)
	}
	return f
}
