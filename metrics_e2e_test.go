package main

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	goredis "github.com/redis/go-redis/v9"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/guardgen/guardgen/app"
	"github.com/guardgen/guardgen/app/apptest"
	"github.com/guardgen/guardgen/config"
	"github.com/guardgen/guardgen/fallback/redistest"
	configv1 "github.com/guardgen/guardgen/gen/guardgen/config/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers/synthetic"
)

const ticketType = "guardgen.examples.v1.TicketClassification"

// parseConfig is config.Parse of a YAML text, failing the test on error.
func parseConfig(t *testing.T, yaml string) *configv1.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// TestMetricsAfterTraffic runs traffic that takes every path that records a
// metric through guardgen as main wires it, then scrapes /metrics: every
// family the telemetry package defines is there, and the exposition passes
// `promtool check metrics` (required when CI=true).
func TestMetricsAfterTraffic(t *testing.T) {
	t.Parallel()
	cfg := parseConfig(t, `
llm_pipeline:
  execution:
    base_delay_seconds: 0.001
    max_delay_seconds: 0.1 # above the synthetic rate limit's 50 ms RetryInfo
server:
  rate_limit:
    requests_per_second: 0.001
    burst: 30
providers:
  - name: synthetic
    type: synthetic
    prices:
      - model: "*"
        input_per_million: 0.15
        output_per_million: 0.6
`)
	srv := apptest.Start(t, cfg, app.Options{})
	gen := guardgenv1.NewGenerationServiceClient(srv.Dial(t))
	call := func(prompt, plan string) (*guardgenv1.GenerateResponse, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if plan != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, synthetic.FaultsMetadataKey, plan)
		}
		return gen.Generate(ctx, &guardgenv1.GenerateRequest{Prompt: prompt, TargetType: ticketType})
	}
	traffic := []struct {
		name, prompt, plan string
		code               codes.Code
		degraded           bool
	}{
		{"success (and cached)", "My invoice is wrong", "", codes.OK, false},
		{"transport retry", "My invoice is wrong", "rate_limit,ok", codes.OK, false},
		{"re-ask", "My invoice is wrong", "malformed,ok", codes.OK, false},
		{"input failure", "My invoice is wrong", "content_filter", codes.FailedPrecondition, false},
		{"cache hit", "My invoice is wrong", "length", codes.OK, true},
		{"retries exhausted, degraded from the cache, alert", "My invoice is wrong", "unavailable,unavailable,unavailable", codes.OK, true},
		{"cache miss, failure", "A prompt never answered before", "length", codes.Aborted, false},
	}
	for _, tt := range traffic {
		resp, err := call(tt.prompt, tt.plan)
		if status.Code(err) != tt.code || resp.GetDegraded() != tt.degraded {
			t.Errorf("%s: code %v (%v), degraded %v; want %v, %v", tt.name, status.Code(err), err, resp.GetDegraded(), tt.code, tt.degraded)
		}
	}
	// A target with semantic marks: field confidence and a verifier call.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := gen.Generate(ctx, &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: "guardgen.examples.v1.VerifiedTicketClassification"}); err != nil {
		t.Errorf("semantic checks: %v", err)
	}
	shed := false
	for range 40 { // the burst is 30 and nothing refills it in time
		_, err := call("My invoice is wrong", "")
		if status.Code(err) == codes.ResourceExhausted {
			shed = true
			break
		}
	}
	if !shed {
		t.Error("the rate limit never shed a request")
	}

	families := scrape(t, srv)
	// The Redis cache's own families: writes, its breaker, and an entry
	// refused (one written by something else).
	for name, f := range scrape(t, redisTraffic(t)) {
		if families[name] == nil {
			families[name] = f
		}
	}
	for _, inst := range definedInstruments(t) {
		base := "llm_pipeline_" + strings.ReplaceAll(inst, ".", "_")
		if families[base] == nil && families[base+"_total"] == nil && families[base+"_seconds"] == nil {
			t.Errorf("instrument %q: no family %s[_total|_seconds] in the scrape", inst, base)
		}
	}
	// The GenAI semantic conventions' instruments keep their own names.
	for _, name := range []string{"gen_ai_client_operation_duration_seconds", "gen_ai_client_token_usage"} {
		if families[name] == nil {
			t.Errorf("no family %s in the scrape", name)
		}
	}
}

// scrape reads srv's /metrics, checks the exposition with promtool and
// parses it.
func scrape(t *testing.T, srv *apptest.Server) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	srv.App.Metrics().Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.Bytes()
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse exposition: %v\n%s", err, body)
	}
	promtoolCheck(t, body)
	return families
}

// redisTraffic runs guardgen with a Redis cache through a stored answer
// and a refused entry, and returns it.
func redisTraffic(t *testing.T) *apptest.Server {
	t.Helper()
	redisAddr := redistest.Start(t).Addr
	cfg := parseConfig(t, "cache:\n  backend: redis\n  hmac_key_env: CACHE_KEY\n  redis: {address: "+redisAddr+"}\n")
	srv := apptest.Start(t, cfg, app.Options{Getenv: func(string) string { return "metrics test cache key, 32 bytes or more" }})
	gen := guardgenv1.NewGenerationServiceClient(srv.Dial(t))
	call := func(plan string) error {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		ctx = metadata.AppendToOutgoingContext(ctx, synthetic.FaultsMetadataKey, plan)
		_, err := gen.Generate(ctx, &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: ticketType})
		return err
	}
	if err := call("ok"); err != nil {
		t.Fatal(err)
	}
	raw := goredis.NewClient(&goredis.Options{Addr: redisAddr})
	defer raw.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		keys, err := raw.Keys(t.Context(), "guardgen:*").Result()
		if err == nil && len(keys) == 1 {
			if err := raw.Set(t.Context(), keys[0], "written by something else", 0).Err(); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("guardgen stored nothing in Redis")
		}
	}
	if err := call("length"); status.Code(err) != codes.Aborted {
		t.Errorf("truncated call with a foreign entry in Redis: %v, want ABORTED", err)
	}
	return srv
}

// definedInstruments lists the instrument names (without the prefix) that
// telemetry.Metrics creates, read from the source of its instruments method
// so that a new instrument cannot be missed here: every string literal
// passed to its counter, seconds and name helpers.
func definedInstruments(t *testing.T) []string {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), "telemetry/metrics.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range file.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "instruments" {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			id, ok := call.Fun.(*ast.Ident)
			if !ok || (id.Name != "counter" && id.Name != "seconds" && id.Name != "name") {
				return true
			}
			if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					names = append(names, s)
				}
			}
			return true
		})
	}
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) < 10 {
		t.Fatalf("found %d instruments in telemetry/metrics.go (%v): has instruments() changed shape?", len(names), names)
	}
	return names
}

// promtoolCheck pipes the exposition through `promtool check metrics`. A
// missing promtool skips the check, except under CI=true.
func promtoolCheck(t *testing.T, exposition []byte) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is not on PATH (CI=true requires it; Debian package prometheus)")
		}
		t.Log("promtool is not on PATH; skipping `promtool check metrics`")
		return
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = bytes.NewReader(exposition)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out.String())
	}
}
