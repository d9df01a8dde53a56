package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"time"

	"buf.build/go/protovalidate"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/guardgen/guardgen/classifier"
	"github.com/guardgen/guardgen/fallback"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/schema"
	"github.com/guardgen/guardgen/semantic"
	"github.com/guardgen/guardgen/telemetry"
)

// Options configure a Server. Every setting is used as given: the
// defaults are config.Default's, the one place defaults live, and
// app.ServerSettings turns a configuration into Options. New refuses a
// limit of zero where zero would mean that nothing can be served. The
// dependencies (Logger, TracerProvider, Propagator) default to the
// process-wide ones when nil; Resolver and Routes are required.
type Options struct {
	// Resolver finds target types. Required.
	Resolver *schema.Resolver
	// Routes are the named provider routes; the first is the default.
	// Required: at least one route with at least one entry.
	Routes []Route
	// Logger receives one line per call; nil means slog.Default().
	Logger *slog.Logger
	// SemanticAttempts bounds generations per request (re-asks included);
	// at least 1.
	SemanticAttempts int
	// MaxProviderCalls caps provider calls per request, transport retries,
	// re-asks and fallbacks together; at least 1.
	MaxProviderCalls int
	// PreviewLength bounds output previews in failures and logs, in runes;
	// 0 leaves previews out.
	PreviewLength int
	// LogRawPayloads adds the prompt and the accepted (or last) model
	// output to each Generate's log line, each cut to PreviewLength with
	// the target's debug_redact fields masked (the article's
	// observability.log_raw_payloads). Off, logs carry metadata only.
	LogRawPayloads bool
	// StrictSchema makes unknown output fields failures instead of being
	// dropped and reported.
	StrictSchema bool
	// StripFences lets extraction take the answer out of markdown fences
	// and the prose around it (strip_markdown_fences). Off, an answer must
	// be the JSON alone, and a wrapped one is MALFORMED_JSON.
	StripFences bool
	// DomainActions are the configuration's routing actions per failure
	// domain: what a final failure of the domain comes to once its
	// decision-matrix row's retries and re-asks are spent.
	// REJECT_AND_FIX fails at once, without the degradation chain;
	// ALERT_AND_DEGRADE runs the chain and alerts at once, whatever the
	// alert threshold; RETRY_WITH_BACKOFF and FALLBACK_TO_CACHE run the
	// chain. A domain that is absent follows its matrix rows alone.
	DomainActions map[guardgenv1.FailureDomain]guardgenv1.RecoveryAction
	// BusinessRules are validation rule ids treated as business rules
	// (alert and halt) besides message-level CEL rules.
	BusinessRules map[string]bool
	// Semantics are the configuration's semantic checks per target type
	// (targets.semantics), over the types' own options. Every type must be
	// known and every verifier route one of Routes.
	Semantics map[string]semantic.Override
	// NonCriticalFields, per target type, names the top-level fields (proto
	// names) that may be cleared when they alone fail validation
	// (allow_partial_matches). Nil disables partial matches.
	NonCriticalFields map[string]map[string]bool
	// MaxOutputBytes bounds model output; at least 1.
	MaxOutputBytes int
	// MaxOutputValues bounds the JSON values in model output; at least 1.
	// Decoding and validation cost about the same per value, so this
	// bounds their time where bytes do not.
	MaxOutputValues int
	// MaxPromptBytes bounds a request's prompt; 0 leaves only the request
	// rules and the message size limit.
	MaxPromptBytes int
	// ShutdownTimeout bounds shutdown, from the signal to the end of the
	// drain of in-flight calls; calls still running then are ended with
	// UNAVAILABLE and a SHUTTING_DOWN FailureDetail, and Serve returns
	// within about half a second more whatever the handlers do. 0 ends
	// in-flight calls at once.
	ShutdownTimeout time.Duration
	// DeadlineMargin is kept back from the caller's deadline so that a
	// request that runs out of time still answers with its FailureDetail
	// before the caller's own timer fires; 0 keeps none. A deadline
	// shorter than twice the margin keeps half of what is left.
	DeadlineMargin time.Duration
	// RequestTimeout bounds each Generate call, whatever deadline the
	// caller sent; a shorter caller deadline wins. 0 leaves only the
	// caller's.
	RequestTimeout time.Duration
	// DrainDelay keeps serving for this long after health turns
	// NOT_SERVING, before new calls are refused, so balancers and probes
	// see the change first; it is part of ShutdownTimeout. 0 stops taking
	// calls at once.
	DrainDelay time.Duration
	// Cache holds the last valid result per request, for the degradation
	// chain; nil disables it. CacheBackend names it in metrics.
	Cache        fallback.Cache
	CacheBackend string
	// CacheTTL is how old a cached result may be; MaxCacheEntryBytes
	// bounds one. Both are required with a Cache. A cached entry outside
	// either is refused, as is one of another type, dated in the future,
	// undecodable or invalid.
	CacheTTL           time.Duration
	MaxCacheEntryBytes int
	// CacheTenant scopes the cached results of callers guardgen cannot
	// tell apart (no bearer token, no verified client certificate); each
	// authenticated caller's results are its own.
	CacheTenant string
	// Templates are per-type fallback messages, the chain's last resort.
	Templates *fallback.Templates
	// Metrics records guardgen's metrics; nil records nothing.
	Metrics *telemetry.Metrics
	// TracerProvider makes the server's spans (otelgrpc's and Generate's);
	// nil means the global provider. A noop.TracerProvider makes none, and
	// then the server has no otelgrpc stats handler either (with nothing
	// to record, it cost about 5 % of a synthetic call's CPU: a span, two
	// copies of the call's metadata, its events); the caller's trace
	// context is still read into every unary call and every
	// GenerationService stream (see callerTrace).
	TracerProvider trace.TracerProvider
	// Propagator reads the caller's trace context (traceparent, baggage)
	// from incoming metadata, so guardgen's spans join the caller's trace;
	// nil means the global propagator.
	Propagator propagation.TextMapPropagator
	// TraceErrors marks spans of failed requests as errors (the article's
	// observability.trace_errors).
	TraceErrors bool
	// Alerter raises domain alerts over a sliding window; nil disables them.
	Alerter *telemetry.Alerter
	// Auth turns on bearer-token authentication.
	Auth Auth
	// RateLimit limits each caller's request rate.
	RateLimit RateLimit
	// MaxInFlight sheds requests beyond this many in flight; 0 means no limit.
	MaxInFlight int
	// ShedRetryAfter is the retry delay told to a caller shed at
	// MaxInFlight (RetryInfo and grpc-retry-pushback-ms); 0 tells none.
	ShedRetryAfter time.Duration
	// MaxRecvBytes bounds a request message; at least 1.
	// A request up to twice this size is refused with a FailureDetail
	// (REQUEST_TOO_LARGE); a larger one by grpc-go itself, before it is
	// read, with a bare RESOURCE_EXHAUSTED.
	MaxRecvBytes int
	// MaxHeaderListBytes bounds the metadata of a call (the HTTP/2 header
	// list as HPACK counts it); at least 1. The transport refuses a
	// larger one before any handler runs.
	MaxHeaderListBytes uint32
	// HTTP serves REST, Connect and gRPC-Web on the same listener as gRPC.
	HTTP HTTP
	// ServerOptions are added to the grpc.Server's (TLS credentials).
	ServerOptions []grpc.ServerOption
}

// Server serves GenerationService, TargetService, grpc.health.v1 and
// server reflection.
type Server struct {
	guardgenv1.UnimplementedGenerationServiceServer
	guardgenv1.UnimplementedTargetServiceServer

	opts             Options
	logger           *slog.Logger
	resolver         *schema.Resolver
	routes           map[string]Route
	semantics        *semantics
	requestValidator protovalidate.Validator
	grpc             *grpc.Server
	// grpcHTTP serves the HTTP protocols (through ServeHTTP); nil when
	// they are off.
	grpcHTTP *grpc.Server
	health   *health.Server
	metrics  *telemetry.Metrics
	tracer   trace.Tracer
	// joinTrace: the tracer makes no spans, so there is no stats handler
	// to read the caller's trace context and edge does (callerTrace);
	// and a generation starts no span of its own (begin).
	joinTrace bool
	// authUnary and authStream authenticate callers; nil without tokens.
	authUnary  grpc.UnaryServerInterceptor
	authStream grpc.StreamServerInterceptor
	limiter    *limiter
	inFlight   chan struct{}
	codec      *requestCodec
	// stopping is cancelled, with errShuttingDown as its cause, when the
	// drain runs out on shutdown: every handler's context derives from it.
	stopping     context.Context
	stopHandlers context.CancelCauseFunc
}

// New returns a Server ready to Serve.
func New(opts Options) (*Server, error) {
	if opts.Resolver == nil {
		return nil, errors.New("server: Options.Resolver is required")
	}
	routes, err := indexRoutes(opts.Routes)
	if err != nil {
		return nil, err
	}
	sem, err := newSemantics(opts.Resolver, opts.Semantics, routes)
	if err != nil {
		return nil, err
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.TracerProvider == nil {
		opts.TracerProvider = otel.GetTracerProvider()
	}
	if opts.Propagator == nil {
		opts.Propagator = otel.GetTextMapPropagator()
	}
	v, err := protovalidate.New(protovalidate.WithMessages(
		&guardgenv1.GenerateRequest{}, &guardgenv1.DescribeTargetRequest{}, &guardgenv1.ListTargetsRequest{},
	))
	if err != nil {
		return nil, fmt.Errorf("server: request validator: %w", err)
	}
	s := &Server{
		opts:             opts,
		logger:           opts.Logger,
		resolver:         opts.Resolver,
		routes:           routes,
		semantics:        sem,
		requestValidator: v,
		health:           health.NewServer(),
		metrics:          opts.Metrics,
		limiter:          newLimiter(opts.RateLimit),
	}
	s.stopping, s.stopHandlers = context.WithCancelCause(context.Background())
	s.tracer = opts.TracerProvider.Tracer("github.com/guardgen/guardgen/server")
	s.authUnary, s.authStream = newAuthenticator(opts.Auth).interceptors()
	if opts.MaxInFlight > 0 {
		s.inFlight = make(chan struct{}, opts.MaxInFlight)
	}
	s.codec = newRequestCodec(opts.MaxRecvBytes)
	var grpcOpts []grpc.ServerOption
	if s.joinTrace = telemetry.MakesNoSpans(s.tracer); !s.joinTrace {
		grpcOpts = append(grpcOpts, grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(opts.TracerProvider), otelgrpc.WithPropagators(opts.Propagator))))
	}
	grpcOpts = append(append(grpcOpts,
		grpc.ChainUnaryInterceptor(s.edge),
		grpc.ChainStreamInterceptor(s.streamInterceptors()...),
		grpc.ForceServerCodecV2(s.codec),
		// The codec enforces MaxRecvBytes with a FailureDetail; grpc-go's
		// own limit, which answers without one, is the backstop.
		grpc.MaxRecvMsgSize(2*opts.MaxRecvBytes),
		grpc.MaxHeaderListSize(opts.MaxHeaderListBytes),
		grpc.UnknownServiceHandler(unknownMethod),
	), opts.ServerOptions...)
	// A call runs on one of these long-lived goroutines while one is free,
	// instead of on a new goroutine whose stack grows again, through the
	// interceptors, the attempt loop and the provider chain, on every call
	// (about a tenth of the CPU of a synthetic call went to copying growing
	// stacks). Past them, calls get their own goroutines as before. Calls
	// that come through ServeHTTP run on the HTTP server's goroutines, so
	// grpcHTTP has none. (grpc-go marks NumStreamWorkers experimental.)
	s.grpc = s.newGRPC(append(slices.Clip(grpcOpts), grpc.NumStreamWorkers(streamWorkers)))
	if opts.HTTP.Enabled {
		// The HTTP protocols get a grpc.Server of their own, with the same
		// services, interceptors and options: grpc-go's GracefulStop ends
		// the calls it serves through ServeHTTP at once, so each side must
		// be drained by its own server (see Serve).
		// Its outermost interceptors tell refusals which calls reached
		// it.
		s.grpcHTTP = s.newGRPC(append([]grpc.ServerOption{
			grpc.ChainUnaryInterceptor(markReachedUnary),
			grpc.ChainStreamInterceptor(markReachedStream),
		}, grpcOpts...))
	}
	for _, name := range []string{"", guardgenv1.GenerationService_ServiceDesc.ServiceName, guardgenv1.TargetService_ServiceDesc.ServiceName} {
		s.health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	return s, nil
}

// check refuses limits under which nothing could be served. Zero is never
// read as a default: a caller that means config.proto's defaults starts
// from app.ServerSettings(config.Default()).
func (o Options) check() error {
	type limit struct {
		name  string
		value int
	}
	limits := []limit{
		{"SemanticAttempts", o.SemanticAttempts},
		{"MaxProviderCalls", o.MaxProviderCalls},
		{"MaxOutputBytes", o.MaxOutputBytes},
		{"MaxOutputValues", o.MaxOutputValues},
		{"MaxRecvBytes", o.MaxRecvBytes},
		{"MaxHeaderListBytes", int(o.MaxHeaderListBytes)},
	}
	if o.Cache != nil {
		limits = append(limits, limit{"MaxCacheEntryBytes", o.MaxCacheEntryBytes})
		if o.CacheTTL <= 0 {
			return fmt.Errorf("server: Options.CacheTTL is %s; with a Cache it must be positive", o.CacheTTL)
		}
	}
	if o.RateLimit.PerSecond > 0 {
		limits = append(limits, limit{"RateLimit.Burst", o.RateLimit.Burst})
	}
	for _, l := range limits {
		if l.value < 1 {
			return fmt.Errorf("server: Options.%s is %d; it must be at least 1", l.name, l.value)
		}
	}
	return nil
}

// newGRPC returns a grpc.Server with guardgen's services, health and
// reflection registered.
func (s *Server) newGRPC(opts []grpc.ServerOption) *grpc.Server {
	g := grpc.NewServer(opts...)
	guardgenv1.RegisterGenerationServiceServer(g, s)
	guardgenv1.RegisterTargetServiceServer(g, s)
	healthpb.RegisterHealthServer(g, s.health)
	reflection.Register(g)
	return g
}

// streamWorkers is the number of goroutines kept to run calls: enough for
// the calls a few cores keep busy at once.
var streamWorkers = uint32(16 * runtime.GOMAXPROCS(0))

// unknownMethod answers a call to a service or method the server does not
// have, in place of grpc-go's bare UNIMPLEMENTED.
func unknownMethod(_ any, stream grpc.ServerStream) error {
	method, _ := grpc.Method(stream.Context())
	return statusOf(classifier.New(guardgenv1.FailureReason_FAILURE_REASON_UNKNOWN_METHOD,
		"unknown method %q; server reflection lists the services", method))
}
