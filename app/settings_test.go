package app_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/guardgen/guardgen/app"
	"github.com/guardgen/guardgen/app/apptest"
	"github.com/guardgen/guardgen/config"
	"github.com/guardgen/guardgen/fallback/redistest"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers/synthetic"
)

// TestLogSettings: telemetry.log_format picks JSON or text lines, and
// telemetry.log_level drops the lines below it: a call's "rpc" line is
// logged at info, not at warn.
func TestLogSettings(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		telemetry string
		want      string // a line holding this, or none when empty
	}{
		{"{log_format: json, log_level: info}", `"msg":"rpc"`},
		{"{log_format: text, log_level: info}", "msg=rpc"},
		{"{log_format: json, log_level: warn}", ""},
	} {
		var logs syncBuffer
		srv := apptest.Start(t, parse(t, "telemetry: "+tt.telemetry+"\n"), app.Options{LogOutput: &logs})
		if _, err := generatePlan(t, guardgenv1.NewGenerationServiceClient(srv.Dial(t)), "", nil); err != nil {
			t.Fatalf("%s: %v", tt.telemetry, err)
		}
		srv.App.SyncLogs()
		got := logs.String()
		switch {
		case tt.want == "" && strings.Contains(got, "rpc"):
			t.Errorf("%s: an info line was logged:\n%s", tt.telemetry, got)
		case tt.want != "" && !strings.Contains(got, tt.want):
			t.Errorf("%s: no line with %s:\n%s", tt.telemetry, tt.want, got)
		}
	}
}

// TestTokensFile: server.auth.tokens_file holds the bearer tokens, one a
// line: a listed token is let in, any other is UNAUTHENTICATED.
func TestTokensFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(file, []byte("alice:token-from-the-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := client(t, parse(t, fmt.Sprintf("server:\n  auth: {tokens_file: %q}\n", file)))
	for _, tt := range []struct {
		token string
		want  codes.Code
	}{
		{"token-from-the-file", codes.OK},
		{"another-token", codes.Unauthenticated},
	} {
		ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+tt.token)
		if _, err := generateCtx(ctx, c, "My invoice is wrong", ""); status.Code(err) != tt.want {
			t.Errorf("token %s: %v, want %v", tt.token, err, tt.want)
		}
	}
}

// TestCacheSettings: cache.max_entries bounds the memory cache (with one
// entry, a second request's answer evicts the first's, which no longer
// rescues a truncated request), cache.ttl_seconds ages entries out, and
// cache.tenant scopes unauthenticated callers' entries (a replica of
// another tenant, sharing the Redis, finds none of them).
func TestCacheSettings(t *testing.T) {
	t.Parallel()
	const first, second = "I was charged twice this month", "The app logs me out every hour"
	rescued := func(call func(string, string) (*guardgenv1.GenerateResponse, error), prompt string) bool {
		resp, err := call(prompt, "length")
		return err == nil && resp.GetDegradation().GetMetadata()["degradation"] == "cache"
	}
	t.Run("max_entries", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			entries int
			rescued bool
		}{{1, false}, {2, true}} {
			call := caller(t, client(t, parse(t, fmt.Sprintf("cache: {max_entries: %d}\n", tt.entries))))
			for _, p := range []string{first, second} {
				if _, err := call(p, ""); err != nil {
					t.Fatal(err)
				}
			}
			if got := rescued(call, first); got != tt.rescued {
				t.Errorf("max_entries %d: the first answer rescued a truncation: %v, want %v", tt.entries, got, tt.rescued)
			}
		}
	})
	t.Run("ttl_seconds", func(t *testing.T) {
		t.Parallel()
		call := caller(t, client(t, parse(t, "cache: {ttl_seconds: 0.05}\n")))
		if _, err := call(first, ""); err != nil {
			t.Fatal(err)
		}
		// The memory cache reads the wall clock in app: this is the one
		// wait, and it can only make the entry older.
		time.Sleep(100 * time.Millisecond)
		if rescued(call, first) {
			t.Error("an entry past ttl_seconds rescued a truncation")
		}
	})
	t.Run("tenant", func(t *testing.T) {
		t.Parallel()
		srv := redistest.Start(t)
		start := func(tenant string) func(string, string) (*guardgenv1.GenerateResponse, error) {
			opts := cacheKeyEnv
			opts.LogOutput = io.Discard
			// A generous timeout, as the other Redis tests have: under a
			// loaded CI machine the default 0.1 s lost the one write this
			// test waits for.
			gg := apptest.Start(t, parse(t, fmt.Sprintf(redisConfig, srv.Addr, "  tenant: "+tenant+"\n  timeout_seconds: 10\n")), opts)
			return caller(t, guardgenv1.NewGenerationServiceClient(gg.Dial(t)))
		}
		acme, other, acme2 := start("acme"), start("other"), start("acme")
		if _, err := acme(first, ""); err != nil {
			t.Fatal(err)
		}
		waitCached(t, srv.Addr)
		if rescued(other, first) {
			t.Error("another tenant's replica served acme's cached answer")
		}
		if !rescued(acme2, first) {
			t.Error("a second replica of tenant acme did not serve acme's cached answer")
		}
	})
}

// waitCached waits until a write to the Redis at addr has landed (writes
// are queued off the request path).
func waitCached(t *testing.T, addr string) {
	t.Helper()
	raw := goredis.NewClient(&goredis.Options{Addr: addr})
	defer raw.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if n, err := raw.DBSize(t.Context()).Result(); err == nil && n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no cache entry in Redis after 10 s")
		}
	}
}

// TestRedisDatabaseAndPassword: cache.redis and server.rate_limit.redis
// authenticate with the password from password_env and use database db.
func TestRedisDatabaseAndPassword(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	raw := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	if err := raw.ConfigSet(t.Context(), "requirepass", "sesame").Err(); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	admin := func(db int) *goredis.Client {
		c := goredis.NewClient(&goredis.Options{Addr: srv.Addr, Password: "sesame", DB: db})
		t.Cleanup(func() { c.Close() })
		return c
	}
	yaml := fmt.Sprintf(`
cache:
  backend: redis
  hmac_key_env: CACHE_KEY
  redis: {address: %q, password_env: REDIS_PASSWORD, db: 3}
server:
  rate_limit:
    # slow enough that the bucket's key outlives the check
    requests_per_second: 0.01
    burst: 1
    redis: {address: %q, password_env: REDIS_PASSWORD, db: 5}
`, srv.Addr, srv.Addr)
	env := map[string]string{"CACHE_KEY": strings.Repeat("k", 32), "REDIS_PASSWORD": "sesame"}
	gg := apptest.Start(t, parse(t, yaml), app.Options{Getenv: func(k string) string { return env[k] }, LogOutput: io.Discard})
	call := caller(t, guardgenv1.NewGenerationServiceClient(gg.Dial(t)))
	if _, err := call("I was charged twice this month", ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for db, what := range map[int]string{3: "cache entry", 5: "rate-limit bucket"} {
		for n := int64(0); n == 0; time.Sleep(10 * time.Millisecond) {
			var err error
			if n, err = admin(db).DBSize(ctx).Result(); err != nil {
				t.Fatalf("db %d: no %s (%v)", db, what, err)
			}
		}
	}
	if n, err := admin(0).DBSize(ctx).Result(); err != nil || n != 0 {
		t.Errorf("db 0 holds %d keys (%v), want none", n, err)
	}
}

// TestSyntheticModelAgrees: config's default model for a synthetic
// provider is the one the synthetic provider reports.
func TestSyntheticModelAgrees(t *testing.T) {
	t.Parallel()
	if config.SyntheticModel != synthetic.Model {
		t.Errorf("config.SyntheticModel %q, synthetic.Model %q", config.SyntheticModel, synthetic.Model)
	}
}

// TestLogsWrittenByShutdown: the log lines are written by a goroutine of
// their own, and every line logged before Serve returns is in LogOutput
// when it has returned, with no SyncLogs.
func TestLogsWrittenByShutdown(t *testing.T) {
	t.Parallel()
	// A slow log destination, so that lines are still waiting when the
	// calls end.
	var logs syncBuffer
	slow := writerFunc(func(p []byte) (int, error) {
		time.Sleep(5 * time.Millisecond)
		return logs.Write(p)
	})
	cfg := parse(t, "server: {metrics_listen: \"\", drain_delay_seconds: 0}\n")
	a, err := app.New(t.Context(), cfg, app.Options{LogOutput: slow, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := apptest.Serve(t, a)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const calls = 50
	c := guardgenv1.NewGenerationServiceClient(conn)
	for range calls {
		if _, err := generatePlan(t, c, "", nil); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	if got := strings.Count(logs.String(), `"msg":"rpc"`); got != calls {
		t.Errorf("%d rpc lines after Serve returned, want %d", got, calls)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
