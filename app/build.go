package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/guardgen/guardgen/config"
	"github.com/guardgen/guardgen/fallback"
	configv1 "github.com/guardgen/guardgen/gen/guardgen/config/v1"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers"
	"github.com/guardgen/guardgen/providers/openai"
	"github.com/guardgen/guardgen/providers/synthetic"
	"github.com/guardgen/guardgen/ratelimit"
	"github.com/guardgen/guardgen/schema"
	"github.com/guardgen/guardgen/semantic"
	"github.com/guardgen/guardgen/server"
	"github.com/guardgen/guardgen/telemetry"
)

// build turns a validated configuration into server options: targets,
// provider chains and routes, cache, templates, limits, security and
// telemetry. Secrets are read from the environment variables the
// configuration names, never from the file.
func (a *App) build() (server.Options, error) {
	cfg, getenv, logger := a.cfg, a.opts.Getenv, a.logger
	srv := cfg.GetServer()
	resolver, err := schema.NewResolver(ResolverSettings(cfg))
	if err != nil {
		return server.Options{}, err
	}
	metrics, err := telemetry.NewMetrics(telemetry.Options{Prefix: cfg.GetLlmPipeline().GetObservability().GetMetricsPrefix()})
	if err != nil {
		return server.Options{}, err
	}
	a.metrics = metrics
	a.closers = append(a.closers, metrics.Shutdown)

	routes, err := a.buildRoutes()
	if err != nil {
		return server.Options{}, err
	}
	cache, backend, err := a.buildCache()
	if err != nil {
		return server.Options{}, err
	}
	templates, err := fallback.NewTemplates(cfg.GetTargets().GetTemplates())
	if err != nil {
		return server.Options{}, fmt.Errorf("targets.templates: %w", err)
	}
	tokens, subjects, err := authTokens(srv.GetAuth(), getenv)
	if err != nil {
		return server.Options{}, err
	}
	serverOpts := keepaliveOptions(srv.GetKeepalive())
	if t := srv.GetTls(); t.GetCertFile() != "" {
		creds, err := serverTLS(t)
		if err != nil {
			return server.Options{}, err
		}
		serverOpts = append(serverOpts, grpc.Creds(creds))
	}
	opts := ServerSettings(cfg)
	if opts.RateLimit, err = a.buildRateLimit(srv.GetRateLimit(), opts.RateLimit); err != nil {
		return server.Options{}, err
	}
	thresholds := make(map[guardgenv1.FailureDomain]int)
	for domain, p := range config.Routing(cfg) {
		thresholds[domain] = p.AlertThreshold
	}
	semantics := make(map[string]semantic.Override, len(cfg.GetTargets().GetSemantics()))
	for target, ts := range cfg.GetTargets().GetSemantics() {
		semantics[target] = semantic.Override{VerifierRoute: ts.GetVerifierRoute(), Fields: ts.GetFields()}
	}
	opts.Resolver, opts.Routes, opts.Logger = resolver, routes, logger
	opts.Semantics = semantics
	opts.Cache, opts.CacheBackend, opts.Templates = cache, backend, templates
	opts.Metrics = metrics
	alerter, err := telemetry.NewAlerter(telemetry.AlertOptions{
		Thresholds: thresholds,
		Window:     config.Seconds(cfg.GetTelemetry().GetAlertWindowSeconds()),
		Logger:     logger,
		Metrics:    metrics,
	})
	if err != nil {
		return server.Options{}, fmt.Errorf("telemetry.alert_window_seconds: %w", err)
	}
	opts.Alerter = alerter
	opts.Auth = server.Auth{Tokens: tokens, Subjects: subjects,
		OpenHealthAndReflection: srv.GetAuth().GetAllowUnauthenticatedHealthAndReflection()}
	opts.ServerOptions = serverOpts
	opts.TracerProvider, opts.Propagator = a.tracerProvider(), a.propagator
	return opts, nil
}

// buildRoutes builds one client interceptor chain per provider and the
// routes over them.
func (a *App) buildRoutes() ([]server.Route, error) {
	cfg, metrics := a.cfg, a.metrics
	clients := make(map[string]providerv1.ProviderServiceClient)
	models := make(map[string]string)
	for _, p := range cfg.GetProviders() {
		endpoint := genAIEndpoint(p)
		opts := ChainSettings(cfg, p)
		opts.Breaker.OnStateChange = func(provider string, _, to providers.BreakerState) {
			metrics.SetBreakerState(context.Background(), provider, telemetry.BreakerState(to))
		}
		opts.OnCall = func(ctx context.Context, call *providers.Call) { recordCall(ctx, metrics, &endpoint, call) }
		opts.OnRetry = metrics.RecordRetry
		opts.Tracer = a.tracerProvider().Tracer("github.com/guardgen/guardgen/providers")
		opts.GenAI = endpoint
		chain, err := providers.NewChain(opts)
		if err != nil {
			return nil, err
		}
		metrics.SetBreakerState(context.Background(), p.GetName(), telemetry.BreakerClosed)
		conn, model, err := a.dialProvider(p, chain)
		if err != nil {
			return nil, fmt.Errorf("providers[%s]: %w", p.GetName(), err)
		}
		clients[p.GetName()] = providerv1.NewProviderServiceClient(conn)
		models[p.GetName()] = model
	}
	// The default route goes first: the server treats the first as default.
	ordered := append([]*configv1.Route(nil), cfg.GetRoutes()...)
	for i, r := range ordered {
		if r.GetName() == cfg.GetDefaultRoute() {
			ordered[0], ordered[i] = ordered[i], ordered[0]
		}
	}
	routes := make([]server.Route, 0, len(ordered))
	for _, r := range ordered {
		route := server.Route{
			Name:            r.GetName(),
			AllowedModels:   r.GetAllowedModels(),
			MaxOutputTokens: config.RouteMaxOutputTokens,
			Callers:         r.GetCallers(),
		}
		if r.MaxOutputTokens != nil {
			route.MaxOutputTokens = r.GetMaxOutputTokens()
		}
		for _, e := range r.GetEntries() {
			model := e.GetModel()
			if model == "" {
				model = models[e.GetProvider()]
			}
			route.Entries = append(route.Entries, server.RouteEntry{
				Provider:        e.GetProvider(),
				Client:          clients[e.GetProvider()],
				Model:           model,
				MaxOutputTokens: e.GetMaxOutputTokens(),
			})
		}
		routes = append(routes, route)
	}
	return routes, nil
}

func recordCall(ctx context.Context, metrics *telemetry.Metrics, endpoint *telemetry.GenAIEndpoint, call *providers.Call) {
	// Field by field: a composite literal is built in a temporary and
	// copied, two records in the frame of a call that runs at the bottom
	// of every provider call's stack (TestHandlerStackStaysSmall).
	var pc telemetry.ProviderCall
	pc.Provider, pc.Model, pc.RequestModel = call.Provider, call.Model, call.RequestModel
	pc.Code, pc.Duration, pc.GenAI = call.Code(), call.Latency, *endpoint
	pc.Cost, pc.Priced = call.Cost, call.Priced
	if call.Failure != nil {
		pc.ErrorType = telemetry.ReasonLabel(call.Failure.Reason)
	}
	if u := call.Usage; u != nil {
		pc.InputTokens, pc.OutputTokens = u.GetInputTokens(), u.GetOutputTokens()
	}
	metrics.RecordProviderCall(ctx, &pc)
}

// genAIEndpoint names provider p in OpenTelemetry GenAI terms: the preset's
// gen_ai.provider.name and the base URL's host and port for openai, the
// address for a plug-in, guardgen's own name for the synthetic provider.
func genAIEndpoint(p *configv1.Provider) telemetry.GenAIEndpoint {
	switch p.GetType() {
	case "openai":
		e := telemetry.GenAIEndpoint{ProviderName: config.OpenAICompat(p).GenAIProviderName}
		if u, err := url.Parse(config.ProviderBaseURL(p)); err == nil {
			e.ServerAddress = u.Hostname()
			e.ServerPort = urlPort(u)
		}
		return e
	case "grpc":
		e := telemetry.GenAIEndpoint{ProviderName: p.GetName()}
		if host, port, err := net.SplitHostPort(p.GetAddress()); err == nil {
			e.ServerAddress = host
			e.ServerPort, _ = strconv.Atoi(port)
		}
		return e
	}
	return telemetry.GenAIEndpoint{ProviderName: "guardgen.synthetic"}
}

// urlPort is u's port, or the scheme's default.
func urlPort(u *url.URL) int {
	if p, err := strconv.Atoi(u.Port()); err == nil {
		return p
	}
	if u.Scheme == "http" {
		return 80
	}
	return 443
}

// keepaliveOptions are the server's keepalive parameters and enforcement
// policy; config.Default sets every field.
func keepaliveOptions(k *configv1.Keepalive) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle:     orInfinity(k.GetMaxConnectionIdleSeconds()),
			MaxConnectionAge:      orInfinity(k.GetMaxConnectionAgeSeconds()),
			MaxConnectionAgeGrace: orInfinity(k.GetMaxConnectionAgeGraceSeconds()),
			Time:                  config.Seconds(k.GetTimeSeconds()),
			Timeout:               config.Seconds(k.GetTimeoutSeconds()),
		}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			// grpc-go reads a zero MinTime as its 5 min default; the
			// configuration's 0 is "any interval".
			MinTime:             max(config.Seconds(k.GetMinClientPingSeconds()), time.Nanosecond),
			PermitWithoutStream: k.GetPermitPingsWithoutCalls(),
		}),
	}
}

// orInfinity maps the configuration's 0 ("no bound") to grpc-go's
// infinity; grpc-go itself reads a zero as its default, which is also
// infinity for these three but would not say so.
func orInfinity(seconds float64) time.Duration {
	if seconds == 0 {
		return time.Duration(math.MaxInt64)
	}
	return config.Seconds(seconds)
}

// dialProvider returns a connection to provider p through chain: in process
// for the built-in providers, over gRPC for external plug-ins.
func (a *App) dialProvider(p *configv1.Provider, chain *providers.Chain) (grpc.ClientConnInterface, string, error) {
	getenv := a.opts.Getenv
	switch p.GetType() {
	case "synthetic":
		return chain.InProcess(synthetic.New()), config.ProviderModel(p), nil
	case "openai":
		opts := openai.Options{
			BaseURL:      config.ProviderBaseURL(p),
			Model:        config.ProviderModel(p),
			Organization: p.GetOrganization(),
			Project:      p.GetProject(),
			Timeout:      config.Seconds(p.GetTimeoutSeconds()),
			Propagator:   a.propagator,
			// A provider's model output is at most max_output_bytes; the
			// body around it is bounded on its own.
			MaxResponseBytes: int64(a.cfg.GetServer().GetMaxProviderResponseBytes()),
			// A call in flight holds one upstream connection at a time.
			MaxIdleConns: int(a.cfg.GetServer().GetMaxInFlight()),
		}
		if env := p.GetApiKeyEnv(); env != "" {
			opts.APIKey = getenv(env)
		}
		if t := p.GetTls(); t != nil {
			tc, err := clientTLS(t)
			if err != nil {
				return nil, "", err
			}
			opts.TLS = tc
		}
		compat := config.OpenAICompat(p)
		switch compat.OutputMode {
		case "json_object":
			opts.Mode = openai.ModeJSONObject
		case "prompt":
			opts.Mode = openai.ModePrompt
		case "tools":
			opts.Mode = openai.ModeTools
		}
		switch compat.TokenLimitField {
		case "max_tokens":
			opts.TokenLimit = openai.TokenLimitMaxTokens
		case "both":
			opts.TokenLimit = openai.TokenLimitBoth
		}
		impl, err := openai.New(opts)
		if err != nil {
			return nil, "", err
		}
		a.closers = append(a.closers, func(context.Context) error { return impl.Close() })
		a.idle = append(a.idle, impl.Close)
		return chain.InProcess(impl), opts.Model, nil
	case "grpc":
		creds := insecure.NewCredentials()
		if t := p.GetTls(); t != nil {
			tc, err := clientTLS(t)
			if err != nil {
				return nil, "", err
			}
			creds = credentials.NewTLS(tc)
		}
		conn, err := grpc.NewClient(p.GetAddress(), append([]grpc.DialOption{
			grpc.WithTransportCredentials(creds),
			// The plug-in's spans join the caller's trace; the chain
			// makes guardgen's own span per attempt.
			grpc.WithStatsHandler(otelgrpc.NewClientHandler(
				otelgrpc.WithTracerProvider(a.tracerProvider()), otelgrpc.WithPropagators(a.propagator))),
		}, chain.DialOptions()...)...)
		if err != nil {
			return nil, "", err
		}
		a.closers = append(a.closers, func(context.Context) error { return conn.Close() })
		return conn, p.GetModel(), nil
	}
	return nil, "", fmt.Errorf("unknown provider type %q", p.GetType())
}

// buildRateLimit is the per-caller limit; with a redis section it is
// shared by the replicas using that server, each falling back to its own
// bucket while Redis cannot be reached.
func (a *App) buildRateLimit(r *configv1.RateLimit, limit server.RateLimit) (server.RateLimit, error) {
	rc := r.GetRedis()
	if rc == nil || r.GetRequestsPerSecond() == 0 {
		return limit, nil
	}
	opts := ratelimit.Options{Addr: rc.GetAddress(), DB: int(rc.GetDb()), PerSecond: limit.PerSecond, Burst: limit.Burst}
	if rc.KeyPrefix != nil {
		opts.KeyPrefix = rc.GetKeyPrefix()
	}
	var err error
	if opts.Password, opts.TLS, err = a.redisAccess(rc, "server.rate_limit.redis"); err != nil {
		return server.RateLimit{}, err
	}
	shared, err := ratelimit.NewRedis(opts)
	if err != nil {
		return server.RateLimit{}, fmt.Errorf("server.rate_limit.redis: %w", err)
	}
	a.closers = append(a.closers, func(context.Context) error { return shared.Close() })
	limit.Shared = shared
	return limit, nil
}

// entryOverhead bounds what a stored entry adds to its message.
const entryOverhead = 4096

// buildCache returns the configured cache and its backend's name. A Redis
// is guarded: bounded reads, queued writes off the request path, and a
// breaker that turns it off while it fails.
func (a *App) buildCache() (fallback.Cache, string, error) {
	cfg, metrics := a.cfg.GetCache(), a.metrics
	ttl := config.Seconds(cfg.GetTtlSeconds())
	switch cfg.GetBackend() {
	case "none":
		return nil, "", nil
	case "redis":
		const backend = "redis"
		r := cfg.GetRedis()
		timeout := config.Seconds(cfg.GetTimeoutSeconds())
		opts := fallback.RedisOptions{
			Addr: r.GetAddress(), DB: int(r.GetDb()), KeyPrefix: r.GetKeyPrefix(), TTL: ttl,
			DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout,
			HMACKey: []byte(a.opts.Getenv(cfg.GetHmacKeyEnv())),
			// The message, and room for its type URL, model, date and tag.
			MaxEntryBytes: int(cfg.GetMaxEntryBytes()) + entryOverhead,
		}
		if n := len(opts.HMACKey); n < fallback.MinHMACKeyBytes {
			return nil, "", fmt.Errorf("cache.hmac_key_env: %s holds %d bytes, want at least %d", cfg.GetHmacKeyEnv(), n, fallback.MinHMACKeyBytes)
		}
		var err error
		if opts.Password, opts.TLS, err = a.redisAccess(r, "cache.redis"); err != nil {
			return nil, "", err
		}
		redis, err := fallback.NewRedis(opts)
		if err != nil {
			return nil, "", fmt.Errorf("cache.redis: %w", err)
		}
		b := cfg.GetBreaker()
		metrics.SetCacheBreakerState(context.Background(), backend, telemetry.BreakerClosed)
		guarded, err := fallback.NewGuarded(redis, fallback.GuardOptions{
			Timeout: timeout,
			Queue:   int(cfg.GetWriteQueue()),
			Breaker: fallback.GuardBreaker{
				// config.proto: consecutive_failures 0 turns the breaker off.
				Disabled:            b.GetConsecutiveFailures() == 0,
				ConsecutiveFailures: int(b.GetConsecutiveFailures()),
				OpenFor:             config.Seconds(b.GetOpenSeconds()),
				ProbeTimeout:        config.Seconds(b.GetProbeTimeoutSeconds()),
			},
			OnWrite: func(r fallback.WriteResult) { metrics.RecordCacheWrite(context.Background(), backend, r.String()) },
			OnStateChange: func(from, to gobreaker.State) {
				metrics.SetCacheBreakerState(context.Background(), backend, telemetry.BreakerState(to))
				a.logger.Warn("cache breaker", slog.String("backend", backend), slog.String("from", from.String()), slog.String("to", to.String()))
			},
		})
		if err != nil {
			_ = redis.Close()
			return nil, "", fmt.Errorf("cache: %w", err)
		}
		a.closers = append(a.closers, guarded.Close)
		return guarded, backend, nil
	}
	memory, err := fallback.NewMemory(fallback.MemoryOptions{MaxEntries: int(cfg.GetMaxEntries()), TTL: ttl})
	if err != nil {
		return nil, "", fmt.Errorf("cache: %w", err)
	}
	return memory, "memory", nil
}

// authTokens reads the bearer tokens: one per line from tokens_file,
// comma-separated from the variable tokens_env names. An entry
// "subject:token" is a token of that subject (bearer tokens never hold a
// colon); a bare token has none.
func authTokens(a *configv1.Auth, getenv func(string) string) ([]string, map[string]string, error) {
	if a == nil {
		return nil, nil, nil
	}
	var tokens []string
	subjects := make(map[string]string)
	add := func(entry, source string) error {
		subject, token, named := strings.Cut(entry, ":")
		if !named {
			tokens = append(tokens, entry)
			return nil
		}
		if subject == "" || token == "" {
			return fmt.Errorf("%s: an entry has an empty subject or token", source)
		}
		if _, dup := subjects[subject]; dup {
			return fmt.Errorf("%s: subject %q has two tokens", source, subject)
		}
		subjects[subject] = token
		return nil
	}
	if f := a.GetTokensFile(); f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("server.auth.tokens_file: %w", err)
		}
		for line := range strings.Lines(string(data)) {
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
				if err := add(t, "server.auth.tokens_file"); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	if env := a.GetTokensEnv(); env != "" {
		for t := range strings.SplitSeq(getenv(env), ",") {
			if t = strings.TrimSpace(t); t != "" {
				if err := add(t, "server.auth.tokens_env"); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	if len(tokens) == 0 && len(subjects) == 0 {
		return nil, nil, errors.New("server.auth: no tokens found in tokens_file or tokens_env")
	}
	return tokens, subjects, nil
}

func serverTLS(t *configv1.ServerTls) (credentials.TransportCredentials, error) {
	cert, err := tls.LoadX509KeyPair(t.GetCertFile(), t.GetKeyFile())
	if err != nil {
		return nil, fmt.Errorf("server.tls: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if ca := t.GetClientCaFile(); ca != "" {
		pool, err := certPool(ca)
		if err != nil {
			return nil, fmt.Errorf("server.tls.client_ca_file: %w", err)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return credentials.NewTLS(tc), nil
}

// redisAccess is how to reach the Redis server r, configured at key: the
// password from its environment variable, and TLS when it has any.
func (a *App) redisAccess(r *configv1.Redis, key string) (password string, tc *tls.Config, err error) {
	if env := r.GetPasswordEnv(); env != "" {
		password = a.opts.Getenv(env)
	}
	if t := r.GetTls(); t != nil {
		if tc, err = clientTLS(t); err != nil {
			return "", nil, fmt.Errorf("%s.%w", key, err)
		}
	}
	return password, tc, nil
}

func clientTLS(t *configv1.ClientTls) (*tls.Config, error) {
	tc := &tls.Config{ServerName: t.GetServerName(), MinVersion: tls.VersionTLS12}
	if ca := t.GetCaFile(); ca != "" {
		pool, err := certPool(ca)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		tc.RootCAs = pool
	}
	if t.GetCertFile() != "" {
		cert, err := tls.LoadX509KeyPair(t.GetCertFile(), t.GetKeyFile())
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func certPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificates", file)
	}
	return pool, nil
}
