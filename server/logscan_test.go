package server_test

// The log scan: a representative run of traffic (every synthetic fault,
// bad and unauthenticated requests, a panicking provider, and the openai
// provider against an upstream that fails with 401, 400, 429 and 5xx bodies
// echoing the prompt and the API key) with the server's logger and
// slog.Default() writing to buffers that are then searched for the prompt,
// the instructions, the API key, the caller's token and "Bearer". The same
// run with LogRawPayloads must show the prompt, or the scan could not fail.

import (
	"bytes"
	"context"
	"encoding/json"
	"log"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers/openai"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
	"github.com/guardgen/guardgen/providers/synthetic"
	"github.com/guardgen/guardgen/server"
	"github.com/guardgen/guardgen/telemetry"
)

const (
	// promptCanary starts every prompt; "zanzibarquokka" is a word the
	// synthetic provider copies into its output, so an output in a log
	// shows up too.
	promptCanary = "PROMPT-CANARY-7f3a"
	canaryPrompt = promptCanary + " my zanzibarquokka invoice was charged twice"
	// instructionsCanary is caller-supplied system text, a payload as well.
	instructionsCanary = "INSTRUCTIONS-CANARY-q9v"
	testAPIKey         = "sk-test-SECRET-123"
	callerToken        = "gg-token-SECRET-456"
	wrongToken         = "gg-wrong-SECRET-789"
)

// neverLogged may appear in no log line, whatever the configuration.
var neverLogged = []string{testAPIKey, callerToken, wrongToken, "SECRET", "Bearer"}

// payloadWords appear in logs only under LogRawPayloads.
var payloadWords = []string{promptCanary, "zanzibarquokka", instructionsCanary}

// lockedBuffer is a bytes.Buffer for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// captureDefaultLog points slog.Default() and the log package at w until
// the returned restore is called. slog.SetDefault redirects the log
// package too, and restoring the old slog default does not undo that, so
// the log package's writer and flags are restored by hand.
func captureDefaultLog(w *lockedBuffer) (restore func()) {
	oldSlog, oldWriter, oldFlags := slog.Default(), log.Writer(), log.Flags()
	slog.SetDefault(slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})))
	return func() {
		slog.SetDefault(oldSlog)
		log.SetOutput(oldWriter)
		log.SetFlags(oldFlags)
	}
}

func TestLogsCarryNoPayloadsOrSecrets(t *testing.T) {
	// Not parallel: it swaps slog.Default(), which parallel tests would
	// write to as well. Sequential tests run while parallel ones wait.
	var defaultLog lockedBuffer
	restore := captureDefaultLog(&defaultLog)
	t.Cleanup(restore)

	var off, on lockedBuffer
	t.Run("payloads off", func(t *testing.T) { logTraffic(t, &off, false) })
	t.Run("payloads on", func(t *testing.T) { logTraffic(t, &on, true) })
	restore()

	for _, scan := range []struct {
		name, text string
		forbidden  []string
	}{
		{"server log, payloads off", off.String(), append(payloadWords, neverLogged...)},
		{"server log, payloads on", on.String(), neverLogged},
		{"slog.Default()", defaultLog.String(), append(payloadWords, neverLogged...)},
	} {
		if scan.text == "" {
			t.Errorf("%s is empty: the scan saw nothing", scan.name)
		}
		for _, s := range scan.forbidden {
			if line := lineWith(scan.text, s); line != "" {
				t.Errorf("%s contains %q:\n%s", scan.name, s, line)
			}
		}
	}
	// The alerter logs to slog.Default(); an empty capture would make its
	// scan vacuous.
	if !strings.Contains(defaultLog.String(), `"alert":true`) {
		t.Errorf("slog.Default() saw no alert lines:\n%s", defaultLog.String())
	}
	// The scan can fail: with LogRawPayloads the prompt and the output are
	// in the request lines, cut to PreviewLength.
	for _, s := range []string{`"prompt":"` + promptCanary, "zanzibarquokka"} {
		if !strings.Contains(on.String(), s) {
			t.Errorf("LogRawPayloads: log lacks %q:\n%s", s, on.String())
		}
	}
	if strings.Contains(on.String(), strings.Repeat(promptCanary, 10)) {
		t.Error("LogRawPayloads: the oversized prompt was logged whole, not cut to PreviewLength")
	}
}

// lineWith returns the first line of text containing s, or "".
func lineWith(text, s string) string {
	for line := range strings.Lines(text) {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}

// logTraffic runs the representative traffic against servers logging to w.
func logTraffic(t *testing.T, w *lockedBuffer, payloads bool) {
	logger := slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts := func(o *server.Options) {
		o.Logger = logger
		o.LogRawPayloads = payloads
		o.PreviewLength = 120
		o.MaxPromptBytes = 2048
		o.Auth = server.Auth{Tokens: []string{callerToken}, OpenHealthAndReflection: true}
		o.Cache, o.CacheBackend = newMemoryCache(nil), "memory"
		// Logger nil: alerts go to slog.Default(), which is scanned too.
		alerter, err := telemetry.NewAlerter(telemetry.AlertOptions{Thresholds: map[guardgenv1.FailureDomain]int{
			infra: 1, input: 1, output: 1, pipeline: 1,
		}, Window: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		o.Alerter = alerter
	}
	authed := func() context.Context {
		return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+callerToken)
	}
	req := func() *guardgenv1.GenerateRequest {
		return &guardgenv1.GenerateRequest{Prompt: canaryPrompt, TargetType: ticket, Instructions: instructionsCanary}
	}
	call := func(h *harness, ctx context.Context, plan string, r *guardgenv1.GenerateRequest) error {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if plan != "" {
			ctx = withFaults(ctx, plan)
		}
		_, err := h.gen.Generate(ctx, r)
		return err
	}

	t.Run("synthetic", func(t *testing.T) {
		h := start(t, harnessOptions{set: opts})
		plans := []string{"", "rate_limit,ok", "unavailable,unavailable,unavailable", "malformed,malformed,malformed", "schema,schema"}
		plans = append(plans, synthetic.Faults()...)
		for _, plan := range plans {
			_ = call(h, authed(), plan, req())
		}
		// The same request after a truncation: served from the cache.
		if err := call(h, authed(), "length", req()); err != nil {
			t.Errorf("length after a cached answer: %v, want a degraded answer", err)
		}
		bad := []*guardgenv1.GenerateRequest{
			{Prompt: canaryPrompt, TargetType: "not a name"},
			{Prompt: canaryPrompt, TargetType: "acme.v1.Nope"},
			{Prompt: canaryPrompt, TargetType: "acme.v1.Invoice", DescriptorSet: redefinedTicket()},
			{Prompt: strings.Repeat(promptCanary, 200), TargetType: ticket},
		}
		for _, r := range bad {
			if err := call(h, authed(), "", r); status.Code(err) != codes.InvalidArgument {
				t.Errorf("bad request: %v, want InvalidArgument", err)
			}
		}
		// Within MaxPromptBytes but far past PreviewLength: logged, if at
		// all, as a preview.
		_ = call(h, authed(), "", &guardgenv1.GenerateRequest{Prompt: strings.Repeat(promptCanary, 100), TargetType: ticket})
		for _, md := range [][]string{nil, {"authorization", "Bearer " + wrongToken}, {"authorization", "Basic " + wrongToken}} {
			ctx := context.Background()
			if md != nil {
				ctx = metadata.AppendToOutgoingContext(ctx, md...)
			}
			if err := call(h, ctx, "", req()); status.Code(err) != codes.Unauthenticated {
				t.Errorf("token %v: %v, want Unauthenticated", md, err)
			}
		}
	})

	t.Run("panic", func(t *testing.T) {
		h := start(t, harnessOptions{provider: panicky{}, set: opts})
		if err := call(h, authed(), "", req()); status.Code(err) != codes.Internal {
			t.Errorf("panicking provider: %v, want Internal", err)
		}
	})

	t.Run("openai", func(t *testing.T) {
		up := openaitest.New()
		t.Cleanup(up.Close)
		p, err := openai.New(openai.Options{BaseURL: up.URL(), APIKey: testAPIKey, Model: "gpt-4o-mini", MaxResponseBytes: 4 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		h := start(t, harnessOptions{provider: p, set: opts})

		echo := "Incorrect API key provided: " + testAPIKey + ". Your prompt was: " + canaryPrompt
		steps := []struct {
			name  string
			steps []openaitest.Step
			want  codes.Code
			// echoes marks upstream answers that echo the prompt or the
			// key; the status the caller gets must not.
			echoes bool
		}{
			{"401 echoing key and prompt", []openaitest.Step{{Status: http.StatusUnauthorized, Error: &openaitest.APIError{
				Message: echo, Type: "invalid_request_error", Code: "invalid_api_key"}}}, codes.Internal, true},
			{"400 echoing prompt", []openaitest.Step{{Status: http.StatusBadRequest, Error: &openaitest.APIError{
				Message: "Invalid 'messages[1].content': " + canaryPrompt, Type: "invalid_request_error", Code: "invalid_value", Param: "messages"}}}, codes.InvalidArgument, true},
			{"content policy echoing prompt", []openaitest.Step{{Status: http.StatusBadRequest, Error: &openaitest.APIError{
				Message: "Rejected by our safety system: " + canaryPrompt, Type: "invalid_request_error", Code: "content_policy_violation"}}}, codes.FailedPrecondition, true},
			// Not before the failures above: a cached answer would degrade them.
			{"ok", []openaitest.Step{openaitest.Reply(validTicket)}, codes.OK, false},
			{"429 then ok", []openaitest.Step{openaitest.RateLimitedMs(1), openaitest.Reply(validTicket)}, codes.OK, false},
			{"5xx pages echoing prompt", []openaitest.Step{
				{Status: http.StatusBadGateway, Body: "<html>upstream said: " + canaryPrompt + " " + testAPIKey + "</html>"},
				{Status: http.StatusServiceUnavailable, Body: "<html>" + canaryPrompt + "</html>"},
				{Status: http.StatusInternalServerError, Error: &openaitest.APIError{Message: echo, Type: "server_error"}},
			}, codes.OK, true}, // degraded from the cache: the ok answer above is cached
			{"output echoing prompt, twice invalid", []openaitest.Step{
				openaitest.Reply(`{"category":"billing","priority":9,"summary":"` + canaryPrompt + `"}`),
				openaitest.Reply(`{"category":"billing","priority":9,"summary":"` + canaryPrompt + `"}`),
			}, codes.OK, false}, // degraded from the cache
		}
		for _, s := range steps {
			up.Enqueue(s.steps...)
			ctx, cancel := context.WithTimeout(authed(), 10*time.Second)
			resp, err := h.gen.Generate(ctx, req())
			cancel()
			if status.Code(err) != s.want {
				t.Errorf("%s: %v, want %v", s.name, err, s.want)
			}
			if !s.echoes {
				continue
			}
			// What the caller gets back: the status with its details, or
			// the degraded answer's FailureDetail.
			var got string
			if err != nil {
				got = prototext.Format(status.Convert(err).Proto())
			} else {
				got = prototext.Format(resp.GetDegradation())
			}
			for _, secret := range []string{promptCanary, testAPIKey, "SECRET"} {
				if strings.Contains(got, secret) {
					t.Errorf("%s: the caller's status echoes the upstream body (%q):\n%s", s.name, secret, got)
				}
			}
		}
		if up.Pending() != 0 {
			t.Errorf("%d scripted upstream answers were never asked for", up.Pending())
		}
		// The key did reach the wire, so its absence from the logs means
		// something.
		reqs := up.Requests()
		if len(reqs) == 0 || reqs[0].Header.Get("Authorization") != "Bearer "+testAPIKey {
			t.Fatalf("upstream did not receive the API key as a bearer token")
		}
	})
}

// fixedOutput is a provider that always answers with content.
type fixedOutput struct {
	providerv1.UnimplementedProviderServiceServer
	content string
}

func (f fixedOutput) Complete(context.Context, *providerv1.CompleteRequest) (*providerv1.CompleteResponse, error) {
	return &providerv1.CompleteResponse{Content: f.content, FinishReason: providerv1.FinishReason_FINISH_REASON_STOP}, nil
}

func TestLogRawPayloadsArePreviews(t *testing.T) {
	t.Parallel()
	var buf lockedBuffer
	// oncall_email is debug_redact in IncidentReport; the output fails
	// validation, so the logged output is the last one received.
	provider := fixedOutput{content: `{"title":"x","oncallEmail":"oncall-canary@example.com","severity":"SEVERITY_HIGH"}`}
	h := start(t, harnessOptions{provider: provider, set: func(o *server.Options) {
		o.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
		o.LogRawPayloads = true
		o.PreviewLength = 40
	}})
	prompt := strings.Repeat("0123456789", 10)
	_, err := generate(t, h, "", &guardgenv1.GenerateRequest{Prompt: prompt, TargetType: "guardgen.examples.v1.IncidentReport"})
	if status.Code(err) == codes.OK {
		t.Fatalf("Generate succeeded on an invalid output")
	}
	var line struct{ Prompt, Output string }
	for l := range strings.Lines(buf.String()) {
		if strings.Contains(l, `"msg":"rpc"`) {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if want := prompt[:40] + "…"; line.Prompt != want {
		t.Errorf("logged prompt = %q, want %q", line.Prompt, want)
	}
	if !strings.Contains(line.Output, redactedValue) || strings.Contains(buf.String(), "oncall-canary") {
		t.Errorf("logged output = %q: debug_redact field not masked", line.Output)
	}
	if n := utf8.RuneCountInString(line.Output); n > 41 {
		t.Errorf("logged output has %d runes, want at most PreviewLength+1", n)
	}
}

// redactedValue is what a debug_redact field's value becomes in a preview.
const redactedValue = `"[REDACTED]"`
