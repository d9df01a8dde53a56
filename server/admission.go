package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"

	"github.com/guardgen/guardgen/classifier"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/telemetry"
)

// Auth configures bearer-token authentication. The zero value turns it off.
type Auth struct {
	// Tokens are the accepted bearer tokens; none (and no Subjects) means
	// no authentication.
	Tokens []string
	// Subjects are accepted bearer tokens by the subject they authenticate:
	// a caller presenting one is that subject, which Route.Callers names.
	Subjects map[string]string
	// OpenHealthAndReflection lets grpc.health.v1 and server reflection
	// answer without a token, for probes and grpcurl.
	OpenHealthAndReflection bool
}

// RateLimit configures the per-caller token bucket. The zero value turns
// it off.
type RateLimit struct {
	// PerSecond is each caller's sustained request rate.
	PerSecond float64
	// Burst is how many requests a caller may send at once; at least 1
	// when PerSecond is set (app.ServerSettings rounds the rate up when
	// the configuration's burst is 0).
	Burst int
	// Shared, when set, enforces the limit across replicas; while it
	// cannot decide (its store is down), the per-replica bucket does.
	Shared SharedLimit
}

// SharedLimit is a per-caller rate limit kept outside the process, which
// replicas share (ratelimit.Redis).
type SharedLimit interface {
	// Allow admits one request from key, or says how long to wait; an
	// error means it cannot decide.
	Allow(ctx context.Context, key string) (wait time.Duration, ok bool, err error)
}

// authenticator checks bearer tokens in constant time. Tokens are compared
// as SHA-256 digests so that their lengths do not leak either.
type authenticator struct {
	digests  [][sha256.Size]byte
	subjects []string // per digest; "" for a token without one
	open     bool
}

func newAuthenticator(a Auth) *authenticator {
	if len(a.Tokens) == 0 && len(a.Subjects) == 0 {
		return nil
	}
	au := &authenticator{open: a.OpenHealthAndReflection}
	for _, t := range a.Tokens {
		au.digests = append(au.digests, sha256.Sum256([]byte(t)))
		au.subjects = append(au.subjects, "")
	}
	for subject, t := range a.Subjects {
		au.digests = append(au.digests, sha256.Sum256([]byte(t)))
		au.subjects = append(au.subjects, subject)
	}
	return au
}

// authInterceptors are go-grpc-middleware's auth interceptors, unary and
// stream, with authenticate as their AuthFunc, behind a selector that
// leaves out the methods exempt from authentication. Without tokens they
// are nil: nothing is authenticated.
func (a *authenticator) interceptors() (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	if a == nil {
		return nil, nil
	}
	required := selector.MatchFunc(func(_ context.Context, call interceptors.CallMeta) bool {
		return !a.exempt(call.FullMethod())
	})
	return selector.UnaryServerInterceptor(auth.UnaryServerInterceptor(a.authenticate), required),
		selector.StreamServerInterceptor(auth.StreamServerInterceptor(a.authenticate), required)
}

// exempt reports whether method may be called without a token.
func (a *authenticator) exempt(method string) bool {
	return a.open && (strings.HasPrefix(method, "/"+healthpb.Health_ServiceDesc.ServiceName+"/") ||
		strings.HasPrefix(method, "/grpc.reflection."))
}

// identity is an authenticated caller.
type identity struct {
	id      string // a digest prefix of the token, never the token
	subject string // the token's subject, "" when it has none
}

// errUnauthenticated is the status of a call without a valid token; like
// every status guardgen makes, it carries a FailureDetail.
var errUnauthenticated = statusOf(classifier.New(guardgenv1.FailureReason_FAILURE_REASON_UNAUTHENTICATED,
	"missing or invalid bearer token (metadata authorization: Bearer TOKEN)"))

// authenticate is the auth interceptors' AuthFunc: it returns ctx with the
// caller's identity, or an UNAUTHENTICATED status. The scheme is matched
// without regard to case (RFC 9110); a missing header, another scheme and
// an unknown token all get the same answer.
func (a *authenticator) authenticate(ctx context.Context) (context.Context, error) {
	token, err := auth.AuthFromMD(ctx, "bearer")
	if err != nil {
		return nil, errUnauthenticated
	}
	got := sha256.Sum256([]byte(token))
	match, subject := 0, ""
	for i, d := range a.digests {
		eq := subtle.ConstantTimeCompare(got[:], d[:])
		match |= eq
		if eq == 1 {
			subject = a.subjects[i]
		}
	}
	if match == 0 {
		return nil, errUnauthenticated
	}
	return context.WithValue(ctx, callerKey{}, identity{id: string(got[:8]), subject: subject}), nil
}

type callerKey struct{}

// subject is the authenticated caller's subject, "" when the caller did not
// authenticate or its token has none.
func subject(ctx context.Context) string {
	who, _ := ctx.Value(callerKey{}).(identity)
	return who.subject
}

// cacheCaller names who is calling in cache keys: the authenticated
// subject, else the bearer token's digest prefix, else the verified client
// certificate's digest (mTLS), else the configured tenant, shared by every
// caller guardgen cannot tell apart.
func (s *Server) cacheCaller(ctx context.Context) string {
	if who, ok := ctx.Value(callerKey{}).(identity); ok {
		if who.subject != "" {
			return "subject:" + who.subject
		}
		return "token:" + hex.EncodeToString([]byte(who.id))
	}
	if p, ok := peer.FromContext(ctx); ok {
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(info.State.VerifiedChains) > 0 && len(info.State.VerifiedChains[0]) > 0 {
			sum := sha256.Sum256(info.State.VerifiedChains[0][0].Raw)
			return "cert:" + hex.EncodeToString(sum[:8])
		}
	}
	return "tenant:" + s.opts.CacheTenant
}

// caller identifies who is calling, for rate limiting: the token digest
// when authenticated, else the peer's IP address.
func caller(ctx context.Context) string {
	if who, ok := ctx.Value(callerKey{}).(identity); ok {
		return "token:" + who.id
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		host, _, err := net.SplitHostPort(p.Addr.String())
		if err != nil {
			return p.Addr.String()
		}
		return host
	}
	return "unknown"
}

// limiter holds a token bucket per caller, forgetting idle callers so the
// map stays bounded by the number of recently active ones.
type limiter struct {
	shared SharedLimit
	limit  rate.Limit
	burst  int
	mu     sync.Mutex
	byKey  map[string]*callerBucket
	swept  time.Time
}

type callerBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(r RateLimit) *limiter {
	if r.PerSecond <= 0 {
		return nil
	}
	return &limiter{shared: r.Shared, limit: rate.Limit(r.PerSecond), burst: r.Burst, byKey: make(map[string]*callerBucket)}
}

// admit admits one request from key: by the shared limit when there is one
// and it can decide, else by this replica's bucket. scope says which
// decided: "fleet" or "replica".
func (l *limiter) admit(ctx context.Context, key string, now time.Time) (wait time.Duration, ok bool, scope string) {
	if l.shared != nil {
		if wait, ok, err := l.shared.Allow(ctx, key); err == nil {
			return wait, ok, "fleet"
		}
	}
	wait, ok = l.reserve(key, now)
	return wait, ok, "replica"
}

// reserve admits one request from key now, or says how long to wait.
func (l *limiter) reserve(key string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		for k, b := range l.byKey {
			if now.Sub(b.seen) > time.Minute {
				delete(l.byKey, k)
			}
		}
		l.swept = now
	}
	b, ok := l.byKey[key]
	if !ok {
		b = &callerBucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.byKey[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// admit applies the per-caller rate limit and the in-flight limit, then
// validates the request and runs the handler. Excess load is shed at once
// with RESOURCE_EXHAUSTED, never queued: a rate-limited caller gets
// RetryInfo saying when to come back. Health and reflection are never
// shed, so probes keep working under load.
func (s *Server) admit(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if !strings.HasPrefix(info.FullMethod, "/"+healthpb.Health_ServiceDesc.ServiceName+"/") {
		if err := s.enter(ctx); err != nil {
			return nil, err
		}
		defer s.leave(ctx)
	}
	if err := s.validate(req); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// enter lets a call in past the per-caller rate limit and the in-flight
// limit, or refuses it; an admitted call is in flight until leave. They
// are calls of their own, out of admit's frame, which is under every
// admitted call's stack.
func (s *Server) enter(ctx context.Context) error {
	if s.limiter != nil {
		if wait, ok, scope := s.limiter.admit(ctx, caller(ctx), time.Now()); !ok {
			return s.rateLimited(ctx, wait, scope)
		}
	}
	if s.inFlight != nil {
		select {
		case s.inFlight <- struct{}{}:
		default:
			return s.overloaded(ctx)
		}
	}
	s.metrics.AddInFlight(ctx, 1)
	return nil
}

// leave ends an admitted call.
func (s *Server) leave(ctx context.Context) {
	s.metrics.AddInFlight(ctx, -1)
	if s.inFlight != nil {
		<-s.inFlight
	}
}

// rateLimited counts and explains a call refused by the rate limit.
func (s *Server) rateLimited(ctx context.Context, wait time.Duration, scope string) error {
	s.metrics.RecordShed(ctx, telemetry.ShedRateLimit)
	f := classifier.New(guardgenv1.FailureReason_FAILURE_REASON_OVERLOADED, "rate limit exceeded for this caller")
	return statusOf(f.WithRetryDelay(wait).With("limit", "rate").With("scope", scope))
}

// overloaded counts and explains a call shed at the in-flight limit.
func (s *Server) overloaded(ctx context.Context) error {
	s.metrics.RecordShed(ctx, telemetry.ShedOverload)
	f := classifier.New(guardgenv1.FailureReason_FAILURE_REASON_OVERLOADED,
		"server is at its limit of %d requests in flight", cap(s.inFlight))
	return statusOf(f.WithRetryDelay(s.opts.ShedRetryAfter).With("limit", "in_flight"))
}
