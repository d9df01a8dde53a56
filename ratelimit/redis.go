package ratelimit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Defaults of [Options]. The timeout is short because every admitted
// request waits for the answer; a slower Redis counts as unhealthy.
const (
	DefaultTimeout   = 100 * time.Millisecond
	DefaultKeyPrefix = "guardgen:"
	// DefaultPause is how long a Redis that failed is left alone before it
	// is asked again; meanwhile callers use their own limits.
	DefaultPause = time.Second
)

// ErrUnavailable wraps every failure to reach Redis, and is returned
// without trying while the limiter pauses after one.
var ErrUnavailable = errors.New("ratelimit: redis unavailable")

// Options configures [NewRedis]. The zero value means the defaults, except
// Addr, PerSecond and Burst, which are required.
type Options struct {
	// Addr is host:port of the redis-server.
	Addr     string
	Username string
	Password string
	DB       int
	// TLS, when set, secures the connection.
	TLS *tls.Config
	// KeyPrefix starts every key; the caller's key follows
	// "<prefix>ratelimit:". Empty means DefaultKeyPrefix.
	KeyPrefix string
	// PerSecond is each caller's sustained rate, fleet-wide.
	PerSecond float64
	// Burst is how many requests a caller may send at once, fleet-wide.
	Burst int
	// Timeout bounds each exchange with Redis (dial, read, write). Zero
	// means DefaultTimeout.
	Timeout time.Duration
	// Pause is how long the limiter stops asking a Redis that failed. Zero
	// means DefaultPause.
	Pause time.Duration
	// Now is the clock of the pause; nil means time.Now. The limit itself
	// runs on the redis-server's clock.
	Now func() time.Time
}

// Redis is a fleet-wide per-caller limit. It is safe for concurrent use;
// call Close when done.
type Redis struct {
	client   *redis.Client
	prefix   string
	interval int64 // microseconds between requests at PerSecond
	burst    int64 // microseconds of tolerance: interval · Burst
	pause    time.Duration
	now      func() time.Time
	// downUntil is the Unix nanosecond time until which Redis is not asked.
	downUntil atomic.Int64
}

// NewRedis returns a limiter for opts. It does not connect: the first call
// does.
func NewRedis(opts Options) (*Redis, error) {
	switch {
	case opts.Addr == "":
		return nil, errors.New("ratelimit: Addr is required")
	case !(opts.PerSecond > 0) || math.IsInf(opts.PerSecond, 0):
		return nil, fmt.Errorf("ratelimit: PerSecond %v must be a positive number", opts.PerSecond)
	case opts.Burst < 1:
		return nil, fmt.Errorf("ratelimit: Burst %d must be at least 1", opts.Burst)
	case opts.Timeout < 0 || opts.Pause < 0:
		return nil, errors.New("ratelimit: negative Timeout or Pause")
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Pause == 0 {
		opts.Pause = DefaultPause
	}
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = DefaultKeyPrefix
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	interval := max(int64(math.Round(1e6/opts.PerSecond)), 1)
	return &Redis{
		client: redis.NewClient(&redis.Options{
			Addr:         opts.Addr,
			Username:     opts.Username,
			Password:     opts.Password,
			DB:           opts.DB,
			TLSConfig:    opts.TLS,
			DialTimeout:  opts.Timeout,
			ReadTimeout:  opts.Timeout,
			WriteTimeout: opts.Timeout,
			MaxRetries:   -1, // an answer late is an answer lost: fall back instead
			// No CLIENT MAINT_NOTIFICATIONS handshake: plain redis-server
			// does not know it.
			MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		}),
		prefix:   opts.KeyPrefix + "ratelimit:",
		interval: interval,
		burst:    interval * int64(opts.Burst),
		pause:    opts.Pause,
		now:      opts.Now,
	}, nil
}

// gcra admits one request for KEYS[1] if its theoretical arrival time,
// less the burst tolerance, is not in the future, and stores the new one.
// ARGV: the emission interval and the burst tolerance, in microseconds.
// It answers {1, 0} or {0, microseconds to wait}.
var gcra = redis.NewScript(`
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local next = tat + interval
local wait = next - tolerance - now
if wait > 0 then return {0, wait} end
redis.call('SET', KEYS[1], next, 'PX', math.ceil((next - now) / 1000) + 1)
return {1, 0}
`)

// Allow admits one request from key now, or says how long to wait. An
// error (wrapping ErrUnavailable) means Redis could not decide: it failed,
// or failed within the last Pause; the caller then decides on its own.
func (r *Redis) Allow(ctx context.Context, key string) (wait time.Duration, ok bool, err error) {
	if r.now().UnixNano() < r.downUntil.Load() {
		return 0, false, ErrUnavailable
	}
	res, err := gcra.Run(ctx, r.client, []string{r.prefix + key}, r.interval, r.burst).Int64Slice()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("script answered %d values", len(res))
	}
	if err != nil {
		if ctx.Err() == nil {
			// Redis, not the caller, failed: leave it alone for a while.
			r.downUntil.Store(r.now().Add(r.pause).UnixNano())
		}
		return 0, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if res[0] == 1 {
		return 0, true, nil
	}
	return time.Duration(res[1]) * time.Microsecond, false, nil
}

// Close closes the connections to Redis.
func (r *Redis) Close() error { return r.client.Close() }
