package app_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guardgen/guardgen/app"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
)

// handlerStackLimit is what a call's goroutine may use. Each call in
// flight holds its whole stack while the upstream thinks: at 16 KiB, 10,000
// held calls need 160 MiB of stacks; one frame too many and every stack
// doubles to 32 KiB (320 MiB). This is what the issue-14 measurements found:
// the SDK's reflective encoding of an empty request and the large frames of
// a few interceptors had pushed every call past 16 KiB; values copied into
// frames (a metrics record, a call record) and method-value wrappers had
// kept a unary call's wait for the upstream just past 8 KiB, where it now
// fits (the answer's checks, and streamed calls, still reach past it).
const handlerStackLimit = 16 << 10

// TestHandlerStackStaysSmall: a call through the OpenAI provider, unary or
// streamed, from the gRPC server down to the upstream wait and back, runs
// within handlerStackLimit once the process is warm (caches filled, first
// connections made). The check runs in a child process under
// debug.SetMaxStack, which turns the first goroutine to outgrow the limit
// into a crash whose traceback names the frames that did it.
func TestHandlerStackStaysSmall(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector deepens every frame; .ci/run runs this test without -race")
	}
	if os.Getenv("GUARDGEN_STACK_CHILD") == "1" {
		handlerStackChild(t)
		return
	}
	t.Parallel()
	// The upstream runs here, outside the limit: its handlers are not
	// guardgen's.
	up := openaitest.New()
	t.Cleanup(up.Close)
	reply := openaitest.Reply(validTicket)
	reply.Delay = 100 * time.Millisecond
	up.SetDefault(reply)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHandlerStackStaysSmall$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "GUARDGEN_STACK_CHILD=1", "GUARDGEN_STACK_UPSTREAM="+up.URL())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, crashHead(string(out)))
	}
	if !strings.Contains(string(out), "calls within the limit") {
		t.Fatalf("the child did not run the calls:\n%s", out)
	}
}

// handlerStackChild makes the calls under the stack limit.
func handlerStackChild(t *testing.T) {
	srv := openaiGuardgenAt(t, os.Getenv("GUARDGEN_STACK_UPSTREAM"), "", app.Options{})
	gen := guardgenv1.NewGenerationServiceClient(srv.Dial(t))
	req := &guardgenv1.GenerateRequest{Prompt: "charged twice", TargetType: ticketType}
	call := func(stream bool) error {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		if !stream {
			_, err := gen.Generate(ctx, req)
			return err
		}
		s, err := gen.GenerateStream(ctx, req)
		if err != nil {
			return err
		}
		for {
			if _, err := s.Recv(); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
		}
	}
	// Warm: what runs once per process or target (type caches, the
	// target's request parts, validators) may go deeper, once.
	for _, stream := range []bool{false, true} {
		if err := call(stream); err != nil {
			t.Fatal(err)
		}
	}
	old := debug.SetMaxStack(handlerStackLimit)
	defer debug.SetMaxStack(old)
	// Many at once, so that new upstream connections are dialled too.
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Go(func() { errs <- call(i%4 == 3) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Log("32 calls within the limit")
}

// crashHead is the start of a crashed child's output: the overflow and the
// frames of the goroutine that outgrew the limit.
func crashHead(out string) string {
	if i := strings.Index(out, "goroutine stack exceeds"); i >= 0 {
		out = out[i:]
	}
	lines := strings.Split(out, "\n")
	return strings.Join(lines[:min(len(lines), 120)], "\n")
}
