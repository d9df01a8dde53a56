package server_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	examplesv1 "github.com/guardgen/guardgen/gen/guardgen/examples/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// streamed is what a client saw of one GenerateStream call.
type streamed struct {
	events []*guardgenv1.GenerateStreamResponse
	// resp is the final response; err the status the stream ended with.
	resp *guardgenv1.GenerateResponse
	err  error
}

func (s streamed) partials() []*guardgenv1.PartialMessage {
	var out []*guardgenv1.PartialMessage
	for _, ev := range s.events {
		if p := ev.GetPartial(); p != nil {
			out = append(out, p)
		}
	}
	return out
}

// kinds names the events in order: p1 (a partial of attempt 1), r1 (a
// reset of attempt 1), response.
func (s streamed) kinds() []string {
	var out []string
	for _, ev := range s.events {
		switch {
		case ev.GetPartial() != nil:
			out = append(out, "p"+itoa(ev.GetPartial().GetAttempt()))
		case ev.GetReset_() != nil:
			out = append(out, "r"+itoa(ev.GetReset_().GetAttempt()))
		case ev.GetResponse() != nil:
			out = append(out, "response")
		}
	}
	return out
}

func itoa(n int32) string { return string(rune('0' + n)) }

// timedEvent is a stream event and when the client received it.
type timedEvent struct {
	ev *guardgenv1.GenerateStreamResponse
	at time.Time
}

// readEvents reads a GenerateStream call to its end: its events, each
// with when it arrived, and the error it ended with (nil at its end). It
// takes the call's results as they are: readEvents(gen.GenerateStream(...)).
func readEvents(s grpc.ServerStreamingClient[guardgenv1.GenerateStreamResponse], err error) ([]timedEvent, error) {
	if err != nil {
		return nil, err
	}
	var out []timedEvent
	for {
		ev, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, timedEvent{ev, time.Now()})
	}
}

// generateStream calls GenerateStream with a fault plan and reads it to
// its end.
func generateStream(t *testing.T, h *harness, plan string, req *guardgenv1.GenerateRequest) streamed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if plan != "" {
		ctx = withFaults(ctx, plan)
	}
	events, err := readEvents(h.gen.GenerateStream(ctx, req))
	out := streamed{err: err}
	for _, e := range events {
		out.events = append(out.events, e.ev)
		if r := e.ev.GetResponse(); r != nil {
			out.resp = r
		}
	}
	if out.err == nil && (out.resp == nil || out.events[len(out.events)-1].GetResponse() == nil) {
		t.Fatalf("the stream ended OK without the response last: %v", out.kinds())
	}
	return out
}

// TestStreamTicket: a TicketClassification stream shows partials with
// growing sets of complete fields, every one valid so far, then the
// response, whose message is the last partial's.
func TestStreamTicket(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	got := generateStream(t, h, "", &guardgenv1.GenerateRequest{Prompt: "I was charged twice for my subscription this month", TargetType: ticket})
	if got.err != nil {
		t.Fatal(got.err)
	}
	partials := got.partials()
	if len(partials) < 3 {
		t.Fatalf("%d partials, want at least 3: %v", len(partials), got.kinds())
	}
	var sets [][]string
	for i, p := range partials {
		sets = append(sets, p.GetCompleteFields())
		if i > 0 && len(p.GetCompleteFields()) <= len(partials[i-1].GetCompleteFields()) && !p.GetClosed() {
			t.Errorf("partial %d has %v complete, not more than before: %v", i, p.GetCompleteFields(), partials[i-1].GetCompleteFields())
		}
		if p.GetAttempt() != 1 || p.GetSemanticAttempt() != 1 {
			t.Errorf("partial %d is of attempt %d/%d, want 1/1", i, p.GetAttempt(), p.GetSemanticAttempt())
		}
		var msg examplesv1.TicketClassification
		if err := p.GetMessage().UnmarshalTo(&msg); err != nil {
			t.Fatalf("partial %d: %v", i, err)
		}
	}
	t.Logf("complete fields by partial: %v", sets)
	if want := []string{"category", "priority", "summary"}; !slices.Equal(sets[len(sets)-1], want) || !partials[len(partials)-1].GetClosed() {
		t.Errorf("last partial's complete fields = %v (closed %v), want %v, closed", sets[len(sets)-1], partials[len(partials)-1].GetClosed(), want)
	}
	var last, final examplesv1.TicketClassification
	_ = partials[len(partials)-1].GetMessage().UnmarshalTo(&last)
	if err := got.resp.GetMessage().UnmarshalTo(&final); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&last, &final) || got.resp.GetDegraded() {
		t.Errorf("response %v (degraded %v), last partial %v", &final, got.resp.GetDegraded(), &last)
	}
	rep := got.resp.GetReport()
	if rep.GetPartials() != int32(len(partials)) || rep.GetFirstPartial() == nil || len(rep.GetAttempts()) != 1 {
		t.Errorf("report partials %d, first partial %v, %d attempts", rep.GetPartials(), rep.GetFirstPartial(), len(rep.GetAttempts()))
	}
	// The unary call answers the same message.
	unary, err := generate(t, h, "", &guardgenv1.GenerateRequest{Prompt: "I was charged twice for my subscription this month", TargetType: ticket})
	if err != nil || unary.GetJson() != got.resp.GetJson() {
		t.Errorf("Generate answered %s (%v), GenerateStream %s", unary.GetJson(), err, got.resp.GetJson())
	}
}

// TestStreamResetThenCleanAttempt: a provider stream that breaks mid-way,
// with resets allowed: the client is told to drop the partials of the
// broken attempt, then gets the second attempt's and the response.
func TestStreamResetThenCleanAttempt(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	req := &guardgenv1.GenerateRequest{Prompt: "I was charged twice for my subscription this month", TargetType: ticket,
		Options: &guardgenv1.GenerateOptions{StreamResets: true}}
	got := generateStream(t, h, "stream_reset", req)
	if got.err != nil {
		t.Fatal(got.err)
	}
	kinds := got.kinds()
	i := slices.Index(kinds, "r1")
	if i < 1 || kinds[0] != "p1" || !slices.Contains(kinds[i:], "p2") || slices.Contains(kinds[i:], "p1") || kinds[len(kinds)-1] != "response" {
		t.Fatalf("events %v, want partials of attempt 1, a reset of it, partials of attempt 2, the response", kinds)
	}
	reset := got.events[i].GetReset_()
	if reset.GetReason() != guardgenv1.ResetReason_RESET_REASON_TRANSPORT_RETRY ||
		reset.GetFailure().GetReason() != guardgenv1.FailureReason_FAILURE_REASON_UPSTREAM_UNAVAILABLE {
		t.Errorf("reset %v, want a transport retry after UPSTREAM_UNAVAILABLE", reset)
	}
	attempts := got.resp.GetReport().GetAttempts()
	if len(attempts) != 2 || attempts[0].GetFailure().GetReason() != guardgenv1.FailureReason_FAILURE_REASON_UPSTREAM_UNAVAILABLE ||
		attempts[1].GetFailure() != nil || attempts[1].GetSemanticAttempt() != 1 {
		t.Errorf("attempts %v, want a broken one and a clean transport retry of the same generation", attempts)
	}
}

// TestStreamNoResetAfterPartials: without resets allowed, a stream that
// broke after its partials were sent is not retried: the call fails as
// Generate would, with a FailureDetail saying why retries stopped.
func TestStreamNoResetAfterPartials(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	got := generateStream(t, h, "stream_reset", &guardgenv1.GenerateRequest{Prompt: "My parcel never arrived", TargetType: ticket})
	if status.Code(got.err) != codes.Unavailable {
		t.Fatalf("ended with %v after %v, want UNAVAILABLE", got.err, got.kinds())
	}
	fd, _ := failureOf(t, got.err)
	if fd.GetMetadata()["retry_stopped"] != "stream_started" || fd.GetAttempts() != 1 || len(got.partials()) == 0 {
		t.Errorf("detail %v after %d partials, want one attempt and retry_stopped stream_started", fd, len(got.partials()))
	}
}

// TestStreamAbortsOnBrokenRule: a field that completes with a value its
// rule forbids stops the model at once; the attempt fails as a finished
// output would (RULE_VIOLATION, re-asked with the violation), the client
// is told to drop its partials, and the re-ask answers.
func TestStreamAbortsOnBrokenRule(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	req := &guardgenv1.GenerateRequest{Prompt: "My parcel never arrived and support does not answer", TargetType: ticket,
		Options: &guardgenv1.GenerateOptions{MaxOutputTokens: 256}}
	got := generateStream(t, h, "schema", req)
	if got.err != nil {
		t.Fatal(got.err)
	}
	kinds := got.kinds()
	if i := slices.Index(kinds, "r1"); i < 0 || slices.Contains(kinds[i:], "p1") || !slices.Contains(kinds[i:], "p2") {
		t.Fatalf("events %v, want attempt 1's partials reset before attempt 2's", kinds)
	}
	for _, p := range got.partials() {
		if p.GetAttempt() == 1 && slices.Contains(p.GetCompleteFields(), "priority") {
			t.Errorf("a partial shows priority 6 complete: %s", p.GetJson())
		}
	}
	attempts := got.resp.GetReport().GetAttempts()
	if len(attempts) != 2 {
		t.Fatalf("%d attempts, want 2", len(attempts))
	}
	first := attempts[0]
	abort := first.GetAbort()
	if first.GetFailure().GetReason() != guardgenv1.FailureReason_FAILURE_REASON_RULE_VIOLATION || abort.GetField() != "priority" {
		t.Fatalf("first attempt failure %v, abort %v; want RULE_VIOLATION stopped at priority", first.GetFailure(), abort)
	}
	if abort.GetTokenLimit() != 256 || abort.GetOutputTokens() <= 0 || abort.GetSavedOutputTokens() != 256-abort.GetOutputTokens() {
		t.Errorf("abort %v: want the tokens written and 256 less them saved", abort)
	}
	if got.resp.GetReport().GetSavedOutputTokens() != abort.GetSavedOutputTokens() {
		t.Errorf("report saved %d, want %d", got.resp.GetReport().GetSavedOutputTokens(), abort.GetSavedOutputTokens())
	}
	t.Logf("events %v; abort %v", kinds, abort)
	reset := got.events[slices.Index(kinds, "r1")].GetReset_()
	if reset.GetReason() != guardgenv1.ResetReason_RESET_REASON_REASK || reset.GetFailure().GetReason() != guardgenv1.FailureReason_FAILURE_REASON_RULE_VIOLATION {
		t.Errorf("reset %v, want a re-ask after RULE_VIOLATION", reset)
	}
}

// TestStreamFailsAsGenerate: a failure ends the stream with the status and
// FailureDetail Generate gives; truncated output ends on the truncation row
// of the matrix even though some fields were shown complete.
func TestStreamFailsAsGenerate(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	for _, plan := range []string{"content_filter", "length", "rate_limit,rate_limit,rate_limit", "schema,schema"} {
		t.Run(plan, func(t *testing.T) {
			t.Parallel()
			req := &guardgenv1.GenerateRequest{Prompt: "Nothing cached for " + plan, TargetType: ticket}
			got := generateStream(t, h, plan, req)
			_, unaryErr := generate(t, h, plan, req)
			if got.err == nil || unaryErr == nil {
				t.Fatalf("stream %v, unary %v; want both to fail", got.err, unaryErr)
			}
			want, _ := failureOf(t, unaryErr)
			gotDetail, _ := failureOf(t, got.err)
			if status.Code(got.err) != status.Code(unaryErr) {
				t.Errorf("stream code %v, unary %v", status.Code(got.err), status.Code(unaryErr))
			}
			opts := []cmp.Option{protocmp.Transform(), protocmp.IgnoreFields(&guardgenv1.FailureDetail{}, "metadata", "message", "output_preview")}
			if diff := cmp.Diff(want, gotDetail, opts...); diff != "" {
				t.Errorf("FailureDetail (-unary +stream):\n%s", diff)
			}
		})
	}
}

// TestStreamValidatesRequest: a bad request is refused at the edge with the
// field and the reason, as for Generate.
func TestStreamValidatesRequest(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	got := generateStream(t, h, "", &guardgenv1.GenerateRequest{TargetType: ticket})
	if status.Code(got.err) != codes.InvalidArgument || len(got.events) != 0 {
		t.Fatalf("%v after %d events, want INVALID_ARGUMENT before any", got.err, len(got.events))
	}
	fd, _ := failureOf(t, got.err)
	if len(fd.GetViolations()) == 0 || fd.GetViolations()[0].GetField().GetElements()[0].GetFieldName() != "prompt" {
		t.Errorf("violations %v, want one on prompt", fd.GetViolations())
	}
}

// TestStreamStrings: with stream_strings a summary shows as it grows; the
// category, limited to a list, only once complete.
func TestStreamStrings(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	req := &guardgenv1.GenerateRequest{Prompt: "I was charged twice for my subscription this month and nobody answers my emails", TargetType: ticket,
		Options: &guardgenv1.GenerateOptions{StreamStrings: true}}
	got := generateStream(t, h, "", req)
	if got.err != nil {
		t.Fatal(got.err)
	}
	var growing []string
	for _, p := range got.partials() {
		if slices.Contains(p.GetGrowingFields(), "category") {
			t.Errorf("category shown growing: %s", p.GetJson())
		}
		if slices.Equal(p.GetGrowingFields(), []string{"summary"}) {
			var msg examplesv1.TicketClassification
			_ = p.GetMessage().UnmarshalTo(&msg)
			growing = append(growing, msg.GetSummary())
		}
	}
	if len(growing) < 2 {
		t.Fatalf("summary shown growing %d times, want several", len(growing))
	}
	for i := 1; i < len(growing); i++ {
		if !strings.HasPrefix(growing[i], growing[i-1]) || len(growing[i]) <= len(growing[i-1]) {
			t.Errorf("summary went from %q to %q", growing[i-1], growing[i])
		}
	}
}

// TestStreamStopsOnBusinessRule: a message-level business rule is checked
// as soon as the fields it reads are complete, so the model is stopped
// there (the synthetic business_rule answer breaks resolved_at >=
// detected_at at its fourth field), not when the report closes: no
// partial shows the fields written after, and the stream ends as Generate
// does, ABORTED with BUSINESS_RULE.
func TestStreamStopsOnBusinessRule(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	req := &guardgenv1.GenerateRequest{Prompt: "Payments API returned 503s in eu-west-1 from 09:12 to 09:40", TargetType: incident}
	got := generateStream(t, h, "business_rule", req)
	fd, _ := failureOf(t, got.err)
	if status.Code(got.err) != codes.Aborted || fd.GetReason() != guardgenv1.FailureReason_FAILURE_REASON_BUSINESS_RULE || fd.GetMetadata()["stream_stopped"] != "true" {
		t.Fatalf("stream ended %v (%v), want ABORTED BUSINESS_RULE with the stream stopped", got.err, fd)
	}
	var shown []string
	for _, p := range got.partials() {
		shown = p.GetCompleteFields()
		if slices.Contains(shown, "services") || slices.Contains(shown, "resolvedAt") {
			t.Errorf("a partial shows %v complete: the model was not stopped at resolved_at", shown)
		}
	}
	if !slices.Contains(shown, "detectedAt") {
		t.Errorf("last partial's complete fields %v, want detectedAt among them", shown)
	}
}
