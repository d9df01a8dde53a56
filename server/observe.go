package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/guardgen/guardgen/classifier"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/schema"
	"github.com/guardgen/guardgen/telemetry"
)

// observe records one Generate's outcome: the request metrics, the domain's
// sliding-window alert, and an immediate alert for ALERT_AND_DEGRADE
// failures (retries exhausted, breaker open, business rule, pipeline bug),
// which the decision matrix says must reach an operator, and for every
// failure of a domain the configuration routes to alert_and_degrade.
func (s *Server) observe(ctx context.Context, target *schema.Target, resp *guardgenv1.GenerateResponse, f *classifier.Failure, latency time.Duration) {
	outcome := outcomeOf(resp)
	var domain, action, reason = guardgenv1.FailureDomain(0), guardgenv1.RecoveryAction(0), guardgenv1.FailureReason(0)
	switch outcome {
	case telemetry.OutcomeFailed:
		domain, action, reason = f.Domain, f.Action, f.Reason
	case telemetry.OutcomeDegraded:
		d := resp.GetDegradation()
		domain, action, reason = d.GetDomain(), d.GetAction(), d.GetReason()
	}
	s.metrics.RecordRequest(ctx, telemetry.Request{
		Target: string(target.Desc.FullName()), Outcome: outcome,
		Domain: domain, Action: action, Reason: reason, Duration: latency,
	})
	if d := resp.GetDegradation(); f == nil && d.GetAction() == guardgenv1.RecoveryAction_RECOVERY_ACTION_ALERT_AND_DEGRADE {
		// A route's later entry answered because the first one was down:
		// no failure is final, but the one that moved the route must reach
		// an operator all the same.
		f = classifier.New(d.GetReason(), "%s", d.GetMessage())
	}
	if f == nil {
		return
	}
	if s.opts.Alerter != nil {
		s.opts.Alerter.Observe(ctx, f.Domain, f.Reason)
	}
	if f.Action == guardgenv1.RecoveryAction_RECOVERY_ACTION_ALERT_AND_DEGRADE ||
		s.opts.DomainActions[f.Domain] == guardgenv1.RecoveryAction_RECOVERY_ACTION_ALERT_AND_DEGRADE {
		s.metrics.RecordAlert(ctx, f.Domain)
		s.logger.LogAttrs(ctx, slog.LevelError, "alert",
			slog.Bool("alert", true),
			slog.String("domain", telemetry.DomainLabel(f.Domain)),
			slog.String("reason", classifier.ReasonName(f.Reason)),
			slog.String("target", string(target.Desc.FullName())),
			slog.Bool("degraded", resp != nil),
		)
	}
}

// outcomeOf says how a Generate ended: failed (no response), degraded, or ok.
func outcomeOf(resp *guardgenv1.GenerateResponse) telemetry.Outcome {
	switch {
	case resp == nil:
		return telemetry.OutcomeFailed
	case resp.GetDegraded():
		return telemetry.OutcomeDegraded
	}
	return telemetry.OutcomeOK
}
