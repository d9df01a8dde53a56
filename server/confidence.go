package server

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/guardgen/guardgen/classifier"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/semantic"
)

// maxConfidences bounds the values listed (and observed in metrics) for
// one answer: an output of thousands of values must not make a report
// thousands of entries long.
const maxConfidences = 256

// checkConfidence measures the candidate's values from the provider's
// token log-probabilities, when they were asked for. A critical value
// below its min_confidence fails the candidate (LOW_CONFIDENCE, naming the
// fields); any other value below its threshold, and a threshold that
// could not be checked, is a warning. Without log-probabilities nothing
// is measured and the report says so.
func (g *generation) checkConfidence(ctx context.Context, resp *providerv1.CompleteResponse, a *accepted) *classifier.Failure {
	if !g.wantsLogprobs() {
		return nil
	}
	c := a.candidate
	m := g.checks.Measure(g.target.Desc, semantic.Output{
		Content: resp.GetContent(),
		Tokens:  resp.GetLogprobs(),
		JSON:    string(c.JSON),
		Offset:  c.Offset,
		End:     c.End,
	})
	m.Values = append(m.Values, g.checks.Missing(a.msg, m)...)
	rep := &guardgenv1.ConfidenceReport{Available: m.Unavailable == "", UnavailableReason: m.Unavailable}
	if m.Unavailable != "" && g.checks.NeedsLogprobs() {
		g.sem.warn(warnConfidenceUnavailable, "", "min_confidence was not checked: %s", m.Unavailable)
	}
	target := string(g.target.Desc.FullName())
	var low []semantic.Confidence
	for _, v := range m.Values {
		if len(rep.Fields) == maxConfidences {
			rep.Omitted++
		} else {
			rep.Fields = append(rep.Fields, fieldConfidence(v))
			if v.Known {
				g.s.metrics.RecordConfidence(ctx, target, v.Value)
			}
		}
		switch {
		case v.Below() && v.Mark.Critical:
			low = append(low, v)
		case v.Below():
			g.sem.warn(warnLowConfidence, v.Path, "confidence %.3g is below min_confidence %.3g", v.Value, v.Mark.MinConfidence)
		case !v.Known && v.Mark.MinConfidence > 0 && m.Unavailable == "":
			g.sem.warn(warnConfidenceUnavailable, v.Path, "min_confidence was not checked: %s", v.Unavailable)
		}
	}
	g.sem.confidence = rep
	if len(low) == 0 {
		return nil
	}
	return lowConfidence(low)
}

// lowConfidence is the failure of critical values below their thresholds.
func lowConfidence(low []semantic.Confidence) *classifier.Failure {
	fields := make([]string, len(low))
	problems := make([]problem, len(low))
	var b strings.Builder
	for i, v := range low {
		fields[i] = v.Path
		problems[i] = problem{Field: v.Path, Message: fmt.Sprintf(
			"you wrote this value with confidence %.3g, below the %.3g required: reconsider it and give the value the input supports",
			v.Value, v.Mark.MinConfidence)}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (%.3g < %.3g)", v.Path, v.Value, v.Mark.MinConfidence)
	}
	return semanticFailureOf(guardgenv1.FailureReason_FAILURE_REASON_LOW_CONFIDENCE, fields, problems,
		"critical fields written with confidence below min_confidence: %s", b.String())
}

func fieldConfidence(v semantic.Confidence) *guardgenv1.FieldConfidence {
	fc := &guardgenv1.FieldConfidence{
		Path:              v.Path,
		Tokens:            int32(v.Tokens),
		UnavailableReason: v.Unavailable,
		MinConfidence:     v.Mark.MinConfidence,
		Critical:          v.Mark.Critical,
	}
	if v.Known {
		fc.Confidence = proto.Float64(v.Value)
	}
	return fc
}
