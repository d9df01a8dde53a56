package main

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/guardgen/guardgen/app"
	"github.com/guardgen/guardgen/app/apptest"
	"github.com/guardgen/guardgen/config"
	configv1 "github.com/guardgen/guardgen/gen/guardgen/config/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
	"github.com/guardgen/guardgen/soak/hostile"
)

// Regression tests for issue 11's request-side defects: each sends the
// hostile input through real gRPC to guardgen as app.New wires it and
// checks the fixed behaviour. Every call carries a deadline, so a
// regression fails as DEADLINE_EXCEEDED instead of hanging; memory is
// measured as bytes allocated by the process around the calls (the tests
// that measure do not run in parallel).

const generateMethod = "/guardgen.v1.GenerationService/Generate"

// detailOf returns the FailureDetail of err's status, failing the test
// when there is none.
func detailOf(t *testing.T, err error) *guardgenv1.FailureDetail {
	t.Helper()
	for _, d := range status.Convert(err).Details() {
		if fd, ok := d.(*guardgenv1.FailureDetail); ok {
			return fd
		}
	}
	t.Fatalf("status %v has no FailureDetail", err)
	return nil
}

// allocated runs f and returns the bytes the process allocated meanwhile.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func callCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestCELBombsRefused (issue 11 defect 1): request-defined types whose CEL
// rule would build a string of 8^11 bytes or run 64 million comprehension
// steps are refused with INVALID_ARGUMENT naming the rule, by Generate and
// DescribeTarget alike, while four of them at once leave an ordinary call
// unaffected. Before, each held a core for minutes or allocated gigabytes.
func TestCELBombsRefused(t *testing.T) {
	srv := apptest.Start(t, config.Default(), app.Options{})
	conn := srv.Dial(t)
	gen := guardgenv1.NewGenerationServiceClient(conn)
	targets := guardgenv1.NewTargetServiceClient(conn)
	bombs := []hostile.Type{
		hostile.CELType("bomb.strings", hostile.StringBombRule()),
		hostile.CELType("bomb.loops", hostile.ComprehensionBombRule(6)),
	}
	check := func(err error) {
		t.Helper()
		if status.Code(err) != codes.InvalidArgument {
			t.Fatalf("code %v (%v), want InvalidArgument", status.Code(err), err)
		}
		d := detailOf(t, err)
		if d.GetReason() != guardgenv1.FailureReason_FAILURE_REASON_INVALID_DESCRIPTOR_SET ||
			d.GetMetadata()["rule"] != "hostile.rule" || !strings.Contains(d.GetMessage(), "estimated cost") {
			t.Errorf("detail %v, want INVALID_DESCRIPTOR_SET naming rule hostile.rule and its cost", d)
		}
	}
	grew := allocated(func() {
		var wg sync.WaitGroup
		for i := range 4 {
			b := bombs[i%len(bombs)]
			wg.Go(func() {
				_, err := gen.Generate(callCtx(t, 5*time.Second), &guardgenv1.GenerateRequest{
					Prompt: "anything", TargetType: b.Name, DescriptorSet: b.Set,
				})
				check(err)
			})
		}
		_, err := gen.Generate(callCtx(t, 5*time.Second), &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: ticketType})
		if err != nil {
			t.Errorf("an ordinary call beside the bombs: %v", err)
		}
		fine := hostile.CELType("fine.cel", "this.text.size() < 1000 && this.tags.all(x, x.size() < 100)")
		resp, err := gen.Generate(callCtx(t, 5*time.Second), &guardgenv1.GenerateRequest{Prompt: "anything", TargetType: fine.Name, DescriptorSet: fine.Set})
		if err != nil || resp.GetDegraded() {
			t.Errorf("a request-defined type with affordable CEL rules: %v (degraded %v)", err, resp.GetDegraded())
		}
		wg.Wait()
		for _, b := range bombs {
			_, err := targets.DescribeTarget(callCtx(t, 5*time.Second), &guardgenv1.DescribeTargetRequest{TargetType: b.Name, DescriptorSet: b.Set})
			check(err)
		}
	})
	if grew > 256<<20 {
		t.Errorf("refusing the bombs allocated %d MiB", grew>>20)
	}
	size := proto.Size(bombs[0].Set)
	t.Logf("a %d-byte descriptor set; the calls allocated %d MiB", size, grew>>20)
}

// TestRequestTypePolicy: operators can turn request-defined types off, or
// only their CEL rules.
func TestRequestTypePolicy(t *testing.T) {
	t.Parallel()
	withCEL := hostile.CELType("policy.cel", "this.text.size() < 100")
	plain := hostile.PatternType("policy.plain", "^[a-z]+$")
	tests := []struct {
		name        string
		set         func(*configv1.RequestTypes)
		celCode     codes.Code
		plainCode   codes.Code
		wantMessage string
	}{
		{"defaults", func(*configv1.RequestTypes) {}, codes.OK, codes.OK, ""},
		{"CEL off", func(r *configv1.RequestTypes) { r.CelRules = proto.Bool(false) }, codes.InvalidArgument, codes.OK, "CEL rules in request-defined types are turned off"},
		{"types off", func(r *configv1.RequestTypes) { r.Allowed = proto.Bool(false) }, codes.InvalidArgument, codes.InvalidArgument, "request-defined types are turned off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := config.Default()
			tt.set(cfg.GetTargets().GetRequestTypes())
			targets := guardgenv1.NewTargetServiceClient(apptest.Start(t, cfg, app.Options{}).Dial(t))
			for _, c := range []struct {
				ht   hostile.Type
				want codes.Code
			}{{withCEL, tt.celCode}, {plain, tt.plainCode}} {
				_, err := targets.DescribeTarget(callCtx(t, 5*time.Second), &guardgenv1.DescribeTargetRequest{TargetType: c.ht.Name, DescriptorSet: c.ht.Set})
				if status.Code(err) != c.want {
					t.Fatalf("%s: code %v (%v), want %v", c.ht.Name, status.Code(err), err, c.want)
				}
				if err != nil && !strings.Contains(detailOf(t, err).GetMessage(), tt.wantMessage) {
					t.Errorf("%s: message %q, want %q", c.ht.Name, detailOf(t, err).GetMessage(), tt.wantMessage)
				}
			}
		})
	}
}

// TestRegexBombsAndTypeCache (issue 11 defect 2): sixteen distinct sets with
// a 13 KB pattern that compiles to ~100 MB are refused before it is
// compiled; sets with patterns under the bound are kept, but the type
// cache holds no more than its byte budget. Before, 16 sets reached 3.8 GB.
func TestRegexBombsAndTypeCache(t *testing.T) {
	const budget = 8 << 20
	cfg := config.Default()
	cfg.GetTargets().GetRequestTypes().CacheBytes = proto.Uint64(budget)
	targets := guardgenv1.NewTargetServiceClient(apptest.Start(t, cfg, app.Options{}).Dial(t))
	describe := func(ht hostile.Type) error {
		_, err := targets.DescribeTarget(callCtx(t, 10*time.Second), &guardgenv1.DescribeTargetRequest{TargetType: ht.Name, DescriptorSet: ht.Set})
		return err
	}
	grew := allocated(func() {
		for i := range 16 {
			err := describe(hostile.PatternType(fmt.Sprintf("regex.bomb%d", i), hostile.RegexBombPattern(i)))
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(detailOf(t, err).GetMessage(), "pattern compiles to more than 10000 instructions") {
				t.Fatalf("bomb %d: %v", i, err)
			}
		}
	})
	if grew > 128<<20 {
		t.Errorf("refusing 16 regex bombs allocated %d MiB", grew>>20)
	}
	t.Logf("refusing 16 regex bombs (each ~100 MB compiled) allocated %d MiB", grew>>20)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range 40 { // each about 0.7 MiB of heap: 28 MiB without the byte bound
		if err := describe(hostile.PatternType(fmt.Sprintf("regex.ok%d", i), strings.Repeat("[a-y]{1,999}", 4))); err != nil {
			t.Fatalf("pattern under the bound: %v", err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	kept := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if kept > 2*budget {
		t.Errorf("40 request-defined types kept %d MiB of heap with an %d MiB type cache", kept>>20, budget>>20)
	}
	t.Logf("40 request-defined types of ~0.7 MiB each: %.1f MiB of heap kept with an %d MiB type cache", float64(kept)/(1<<20), budget>>20)
}

// rawCodec sends and receives message bytes as they are, so a test can put
// on the wire what no generated client would.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*(v.(*[]byte)) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

// TestTransportMistakes (issue 11 defect 9): client mistakes that grpc-go
// lets the server answer get a FailureDetail: a string field that is not
// UTF-8, a request over the size limit, a deadline shorter than the
// deadline margin. The ones grpc-go answers itself are pinned here as
// README documents them: a request over twice the limit, a malformed
// grpc-timeout.
func TestTransportMistakes(t *testing.T) {
	t.Parallel()
	up := openaitest.New()
	t.Cleanup(up.Close)
	up.SetDefault(openaitest.Step{Hang: true})
	cfg := parseConfig(t, `
providers:
  - {name: synthetic, type: synthetic}
  - {name: hung, type: openai, base_url: "`+up.URL()+`"}
routes:
  - {name: default, entries: [{provider: synthetic}]}
  - {name: hung, entries: [{provider: hung}]}
server:
  max_message_bytes: 1048576
`)
	srv := apptest.Start(t, cfg, app.Options{})
	conn := srv.Dial(t)
	gen := guardgenv1.NewGenerationServiceClient(conn)

	t.Run("invalid UTF-8", func(t *testing.T) {
		var out []byte
		err := conn.Invoke(callCtx(t, 5*time.Second), generateMethod,
			hostile.InvalidUTF8Request(ticketType), &out, grpc.ForceCodecV2(rawCodec{}))
		d := detailOf(t, err)
		if status.Code(err) != codes.InvalidArgument || d.GetMetadata()["field"] != "prompt" ||
			d.GetReason() != guardgenv1.FailureReason_FAILURE_REASON_INVALID_REQUEST || len(d.GetViolations()) != 1 {
			t.Errorf("got %v with %v; want InvalidArgument naming prompt", err, d)
		}
	})
	t.Run("not protobuf", func(t *testing.T) {
		var out []byte
		err := conn.Invoke(callCtx(t, 5*time.Second), generateMethod,
			[]byte{0x0a, 0xff, 0xff, 0xff}, &out, grpc.ForceCodecV2(rawCodec{}))
		if d := detailOf(t, err); status.Code(err) != codes.InvalidArgument || d.GetReason() != guardgenv1.FailureReason_FAILURE_REASON_INVALID_REQUEST {
			t.Errorf("got %v with %v; want InvalidArgument", err, d)
		}
	})
	t.Run("over the size limit", func(t *testing.T) {
		_, err := gen.Generate(callCtx(t, 5*time.Second), &guardgenv1.GenerateRequest{Prompt: strings.Repeat("x", 1536<<10), TargetType: ticketType})
		d := detailOf(t, err)
		if status.Code(err) != codes.ResourceExhausted || d.GetReason() != guardgenv1.FailureReason_FAILURE_REASON_REQUEST_TOO_LARGE ||
			d.GetMetadata()["limit_bytes"] != strconv.Itoa(1<<20) {
			t.Errorf("got %v with %v; want ResourceExhausted, REQUEST_TOO_LARGE", err, d)
		}
	})
	t.Run("over twice the size limit: grpc-go answers", func(t *testing.T) {
		_, err := gen.Generate(callCtx(t, 5*time.Second), &guardgenv1.GenerateRequest{Prompt: strings.Repeat("x", 3<<20), TargetType: ticketType})
		if status.Code(err) != codes.ResourceExhausted || len(status.Convert(err).Details()) != 0 {
			t.Errorf("got %v with details %v; README documents a bare ResourceExhausted", err, status.Convert(err).Details())
		}
	})
	t.Run("deadline under the margin", func(t *testing.T) {
		// 150 ms is under twice the 100 ms margin: the server keeps half.
		_, err := gen.Generate(callCtx(t, 150*time.Millisecond), &guardgenv1.GenerateRequest{
			Prompt: "My invoice is wrong", TargetType: ticketType, Options: &guardgenv1.GenerateOptions{Route: "hung"},
		})
		if d := detailOf(t, err); status.Code(err) != codes.DeadlineExceeded || d.GetReason() != guardgenv1.FailureReason_FAILURE_REASON_DEADLINE_EXCEEDED {
			t.Errorf("got %v with %v; want DeadlineExceeded with a FailureDetail", err, d)
		}
	})
	t.Run("unknown method", func(t *testing.T) {
		var out []byte
		err := conn.Invoke(callCtx(t, 5*time.Second), "/guardgen.v1.GenerationService/Nope", []byte{}, &out, grpc.ForceCodecV2(rawCodec{}))
		if d := detailOf(t, err); status.Code(err) != codes.Unimplemented || d.GetReason() != guardgenv1.FailureReason_FAILURE_REASON_UNKNOWN_METHOD {
			t.Errorf("got %v with %v; want Unimplemented, UNKNOWN_METHOD", err, d)
		}
	})
	t.Run("malformed grpc-timeout: grpc-go answers", func(t *testing.T) {
		st, err := hostile.Call(callCtx(t, 5*time.Second), srv.Addr, generateMethod, []hostile.Header{hostile.MalformedTimeout})
		if err != nil || st.Code != strconv.Itoa(int(codes.Internal)) || st.Details {
			t.Errorf("got grpc-status %q (details %v, %v); README documents a bare INTERNAL", st.Code, st.Details, err)
		}
	})
}

// TestMetadataBomb (issue 11 defect 10): 50 calls each carrying 100
// metadata entries of 100 KB are refused by the transport, which keeps
// none of it: the process allocates a small fraction of the 500 MB sent,
// and the server answers ordinary calls afterwards. Before, the server
// accepted header lists up to grpc-go's 16 MiB default (485 MB of RSS).
func TestMetadataBomb(t *testing.T) {
	srv := apptest.Start(t, config.Default(), app.Options{})
	block := hostile.EncodeHeaders(srv.Addr, generateMethod, hostile.MetadataBomb(100, 100<<10))
	var refused int
	grew := allocated(func() {
		for range 50 {
			st, err := hostile.CallBlock(callCtx(t, 10*time.Second), srv.Addr, block)
			if err != nil {
				t.Fatal(err)
			}
			if st.Code == "" || st.Code == strconv.Itoa(int(codes.Internal)) {
				refused++
			}
		}
	})
	if refused != 50 {
		t.Errorf("%d of 50 calls with 10 MB of metadata were refused by the transport, want all (the others reached a handler)", refused)
	}
	if grew > 100<<20 {
		t.Errorf("50 calls with 10 MB of metadata each allocated %d MiB", grew>>20)
	}
	t.Logf("50 × 10 MB of metadata: the process allocated %d MiB", grew>>20)
	gen := guardgenv1.NewGenerationServiceClient(srv.Dial(t))
	if _, err := gen.Generate(callCtx(t, 5*time.Second), &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: ticketType}); err != nil {
		t.Errorf("an ordinary call after the bomb: %v", err)
	}
	ctx := metadata.AppendToOutgoingContext(callCtx(t, 5*time.Second), "x-request-id", "ordinary-sized")
	if _, err := gen.Generate(ctx, &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: ticketType}); err != nil {
		t.Errorf("an ordinary call with metadata: %v", err)
	}
}

// TestRoutePolicy (issue 11 defect 12): a request may name only the models
// its route allows and ask for at most the route's output token limit;
// the example configuration's drill route answers only the drill subject.
func TestRoutePolicy(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("deploy/config/guardgen.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Keep the example's routes, auth and limits; serve the default route
	// from the synthetic provider and cache in memory, so nothing external
	// is needed.
	cfg.Cache.Backend, cfg.Cache.TtlSeconds, cfg.Cache.MaxEntries = proto.String("memory"), proto.Float64(60), proto.Uint32(100)
	for _, r := range cfg.GetRoutes() {
		for _, e := range r.GetEntries() {
			e.Provider, e.Model = "synthetic", ""
		}
	}
	cfg.Server.RateLimit = nil
	getenv := func(k string) string {
		if k == "GUARDGEN_TOKENS" {
			return "ordinary-token,drill:drill-token"
		}
		return ""
	}
	gen := guardgenv1.NewGenerationServiceClient(apptest.Start(t, cfg, app.Options{Getenv: getenv}).Dial(t))
	call := func(token string, opts *guardgenv1.GenerateOptions) error {
		ctx := callCtx(t, 5*time.Second)
		if token != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
		}
		_, err := gen.Generate(ctx, &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: ticketType, Options: opts})
		return err
	}
	tests := []struct {
		name      string
		token     string
		opts      *guardgenv1.GenerateOptions
		code      codes.Code
		wantField string
	}{
		{"ordinary call", "ordinary-token", nil, codes.OK, ""},
		{"allowed model, lower token limit", "ordinary-token", &guardgenv1.GenerateOptions{Model: "gpt-4o-mini", MaxOutputTokens: 1}, codes.OK, ""},
		{"model not allowed", "ordinary-token", &guardgenv1.GenerateOptions{Model: "o1-pro"}, codes.InvalidArgument, "options.model"},
		{"token limit over the route's", "ordinary-token", &guardgenv1.GenerateOptions{MaxOutputTokens: 1048576}, codes.InvalidArgument, "options.max_output_tokens"},
		{"drill route, ordinary caller", "ordinary-token", &guardgenv1.GenerateOptions{Route: "drill"}, codes.PermissionDenied, "options.route"},
		{"drill route, drill subject", "drill-token", &guardgenv1.GenerateOptions{Route: "drill"}, codes.OK, ""},
		{"no token", "", nil, codes.Unauthenticated, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := call(tt.token, tt.opts)
			if status.Code(err) != tt.code {
				t.Fatalf("code %v (%v), want %v", status.Code(err), err, tt.code)
			}
			if err == nil {
				return
			}
			if d := detailOf(t, err); d.GetMetadata()["field"] != tt.wantField {
				t.Errorf("detail %v, want field %q", d, tt.wantField)
			}
		})
	}
}
