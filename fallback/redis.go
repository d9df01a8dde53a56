package fallback

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// RedisOptions configures [NewRedis]. The address, TTL, timeouts and
// entry bound are required: config.Default holds the defaults (the
// timeouts are short because a cache lookup happens on a request that is
// already degrading: a slow Redis should cost a miss, not the caller's
// deadline).
type RedisOptions struct {
	// Addr is host:port of the Redis server.
	Addr string
	// Username and Password authenticate (AUTH); empty means none.
	Username string
	Password string
	// DB is the database number.
	DB int
	// KeyPrefix is prepended to every [Key], e.g. "staging:", so that
	// deployments can share a server without sharing entries.
	KeyPrefix string
	// TTL is how long Redis keeps an entry (SET ... EX); at least a
	// millisecond. Redis stores it in whole seconds unless it has a
	// fractional second, in which case it uses PX.
	TTL time.Duration
	// DialTimeout bounds connecting; positive.
	DialTimeout time.Duration
	// ReadTimeout and WriteTimeout bound each socket read and write;
	// positive.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// PoolSize is the maximum number of connections. Zero means
	// go-redis's default (10 per GOMAXPROCS).
	PoolSize int
	// TLS, when set, secures the connection.
	TLS *tls.Config
	// HMACKey authenticates every stored value: Put tags it, and Get
	// refuses a value without a valid tag for its key
	// ([ErrUnauthenticated]), so that whoever can write to the server
	// cannot make guardgen serve what guardgen did not store. Required, at
	// least [MinHMACKeyBytes] bytes, shared by every replica.
	HMACKey []byte
	// MaxEntryBytes bounds a stored value: Get reads no more than this and
	// refuses a longer value ([ErrTooLarge]); Put refuses to store one.
	// Positive.
	MaxEntryBytes int
	// Now is the clock that fills a zero StoredAt. Nil means time.Now.
	Now func() time.Time
}

// Redis is a [Cache] in a Redis server, shared by every guardgen replica
// that uses the same server, DB and KeyPrefix. Each entry is one string
// key written with SET and an expiry and read with GET; the value is a
// versioned binary encoding of [Entry] (one format byte, then protobuf
// wire-format fields, the last one an HMAC-SHA256 tag over the key and the
// rest), so any replica can read what another wrote, a future format is
// seen as [ErrCorrupt] rather than misread, and a value guardgen did not
// write under that key is [ErrUnauthenticated]. A value is read with
// GETRANGE up to MaxEntryBytes, so a huge value costs no more than that.
//
// Every call is bounded by the dial, read and write timeouts and by ctx's
// deadline, and is retried at most once (network errors, timeouts), so a
// call against a dead or stuck server fails within about twice the timeouts.
// Errors are returned wrapped; callers treat them as misses, so a Redis
// outage degrades the cache, never a request. Redis is safe for concurrent
// use; call Close when done.
type Redis struct {
	client   *redis.Client
	prefix   string
	ttl      time.Duration
	now      func() time.Time
	secret   []byte
	maxBytes int
}

// NewRedis returns a Redis cache for opts. It does not connect: the first
// call does, so a Redis that is down at start does not stop guardgen (use
// [Redis.Ping] to report it). It fails only on invalid options.
func NewRedis(opts RedisOptions) (*Redis, error) {
	if opts.Addr == "" {
		return nil, errors.New("fallback: redis Addr is empty")
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{
		{"DialTimeout", opts.DialTimeout},
		{"ReadTimeout", opts.ReadTimeout},
		{"WriteTimeout", opts.WriteTimeout},
	} {
		if d.d <= 0 {
			return nil, fmt.Errorf("fallback: redis %s is not positive: %v", d.name, d.d)
		}
	}
	if opts.TTL < time.Millisecond {
		return nil, fmt.Errorf("fallback: redis TTL %v is under Redis's 1 ms resolution", opts.TTL)
	}
	if opts.PoolSize < 0 {
		return nil, fmt.Errorf("fallback: redis PoolSize is negative: %d", opts.PoolSize)
	}
	if len(opts.HMACKey) < MinHMACKeyBytes {
		return nil, fmt.Errorf("fallback: redis HMACKey has %d bytes, want at least %d", len(opts.HMACKey), MinHMACKeyBytes)
	}
	if opts.MaxEntryBytes <= 0 {
		return nil, fmt.Errorf("fallback: redis MaxEntryBytes is not positive: %d", opts.MaxEntryBytes)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	client := redis.NewClient(&redis.Options{
		Addr:         opts.Addr,
		Username:     opts.Username,
		Password:     opts.Password,
		DB:           opts.DB,
		DialTimeout:  opts.DialTimeout,
		ReadTimeout:  opts.ReadTimeout,
		WriteTimeout: opts.WriteTimeout,
		PoolSize:     opts.PoolSize,
		TLSConfig:    opts.TLS,
		// Honour the caller's deadline as well as the socket timeouts.
		ContextTimeoutEnabled: true,
		// One retry covers a pooled connection the server closed; more
		// would spend the degraded request's time on a cache.
		MaxRetries: 1,
		// go-redis redials up to 5 times per connection by default
		// (DialerRetries <= 0 means 5); once is enough for a cache.
		DialerRetries: 1,
		// Maintenance notifications are a Redis Cloud feature that
		// needs RESP3 push handling; a cache has no use for them.
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	return &Redis{client: client, prefix: opts.KeyPrefix, ttl: opts.TTL, now: opts.Now,
		secret: bytes.Clone(opts.HMACKey), maxBytes: opts.MaxEntryBytes}, nil
}

// Get returns the entry under key. A missing or expired key is a miss with
// a nil error; a Redis failure, a value larger than MaxEntryBytes
// ([ErrTooLarge]), one without a valid tag ([ErrUnauthenticated]) or an
// undecodable one ([ErrCorrupt]) is an error, which callers treat as a
// miss.
func (r *Redis) Get(ctx context.Context, key string) (Entry, bool, error) {
	full := r.prefix + key
	// One byte past the limit tells a value at the limit from a longer
	// one, without reading the rest. A missing key reads as "".
	b, err := r.client.GetRange(ctx, full, 0, int64(r.maxBytes)).Bytes()
	if redis.HasErrorPrefix(err, "WRONGTYPE") {
		// Something else put a list or a hash there: the entry is bad,
		// not the server.
		return Entry{}, false, fmt.Errorf("fallback: redis get: %w", ErrCorrupt)
	}
	if err != nil {
		return Entry{}, false, fmt.Errorf("fallback: redis get: %w", err)
	}
	switch {
	case len(b) == 0:
		return Entry{}, false, nil
	case len(b) > r.maxBytes:
		return Entry{}, false, fmt.Errorf("fallback: redis get: %w", ErrTooLarge)
	}
	if b, err = verifyTag(b, r.secret, full); err != nil {
		return Entry{}, false, fmt.Errorf("fallback: redis get: %w", err)
	}
	e, err := unmarshalEntry(b)
	if err != nil {
		return Entry{}, false, fmt.Errorf("fallback: redis get: %w", err)
	}
	return e, true, nil
}

// Put stores e under key with the TTL, setting StoredAt from the clock when
// it is zero. The write replaces any entry there and restarts its TTL.
func (r *Redis) Put(ctx context.Context, key string, e Entry) error {
	if e.StoredAt.IsZero() {
		e.StoredAt = r.now()
	}
	full := r.prefix + key
	value := appendTag(marshalEntry(e), r.secret, full)
	if len(value) > r.maxBytes {
		return fmt.Errorf("fallback: redis set: %w", ErrTooLarge)
	}
	if err := r.client.Set(ctx, full, value, r.ttl).Err(); err != nil {
		return fmt.Errorf("fallback: redis set: %w", err)
	}
	return nil
}

// Ping checks that the server answers, for start-up logs and health.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("fallback: redis ping: %w", err)
	}
	return nil
}

// Close closes the connections. The Redis must not be used afterwards.
func (r *Redis) Close() error {
	if err := r.client.Close(); err != nil {
		return fmt.Errorf("fallback: redis close: %w", err)
	}
	return nil
}
