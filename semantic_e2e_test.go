package main

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/metadata"

	"github.com/guardgen/guardgen/app"
	"github.com/guardgen/guardgen/app/apptest"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers/synthetic"
)

// TestConfiguredSemantics marks TicketClassification, whose .proto has no
// marks, through targets.semantics, as the README's worked example does,
// with a verifier route of its own: one request is re-asked for low
// confidence, then for the verifier's rejection, and answers OK.
func TestConfiguredSemantics(t *testing.T) {
	t.Parallel()
	cfg := parseConfig(t, `
routes:
  - name: default
    entries: [{provider: synthetic}]
  - name: verifier
    entries: [{provider: synthetic, model: synthetic-small}]
targets:
  semantics:
    guardgen.examples.v1.TicketClassification:
      verifier_route: verifier
      fields:
        priority:
          critical: true
          min_confidence: 0.7
          verify: "Is this priority justified by the ticket?"
`)
	srv := apptest.Start(t, cfg, app.Options{})
	conn := srv.Dial(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, synthetic.FaultsMetadataKey, "low_confidence:priority,ok,verify_reject,ok,ok")
	resp, err := guardgenv1.NewGenerationServiceClient(conn).Generate(ctx,
		&guardgenv1.GenerateRequest{Prompt: "I was charged twice for my subscription this month", TargetType: ticketType})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	var got []string
	for _, a := range resp.GetReport().GetAttempts() {
		s := a.GetModel()
		if a.GetVerification() {
			s += " verification"
		}
		if f := a.GetFailure(); f != nil {
			s += " " + f.GetReason().String()
		}
		got = append(got, s)
	}
	want := []string{
		"synthetic-1 FAILURE_REASON_LOW_CONFIDENCE",
		"synthetic-1 FAILURE_REASON_VERIFICATION_FAILED",
		"synthetic-small verification",
		"synthetic-1",
		"synthetic-small verification",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
	if v := resp.GetReport().GetVerification(); v.GetRoute() != "verifier" || v.GetCalls() != 2 ||
		v.GetStatus() != guardgenv1.VerificationStatus_VERIFICATION_STATUS_SUPPORTED {
		t.Errorf("verification = %v", v)
	}

	d, err := guardgenv1.NewTargetServiceClient(conn).DescribeTarget(t.Context(), &guardgenv1.DescribeTargetRequest{TargetType: ticketType})
	if err != nil {
		t.Fatal(err)
	}
	if f := d.GetSemanticFields(); len(f) != 1 || f[0].GetPath() != "priority" || d.GetMessageSemantics().GetVerifierRoute() != "verifier" {
		t.Errorf("DescribeTarget semantics = %v, %v", f, d.GetMessageSemantics())
	}
}
