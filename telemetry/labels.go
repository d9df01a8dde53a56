package telemetry

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/internal/protoenum"
)

// Label values used where the real value is absent or over a bound.
const (
	// labelNone is the value of an unspecified enum label (an OK request
	// has no failure domain).
	labelNone = "none"
	// labelUnknown replaces an empty free-form value or an enum number
	// that the compiled-in descriptor does not know.
	labelUnknown = "unknown"
	// labelOther replaces a free-form value once its label has reached
	// its distinct-value bound.
	labelOther = "other"
)

// maxLabelValueLen bounds the length of one free-form label value.
const maxLabelValueLen = 128

// ErrInvalidPrefix is returned by NewMetrics for a metrics prefix that
// cannot start an OpenTelemetry instrument name.
var ErrInvalidPrefix = errors.New("telemetry: invalid metrics prefix")

// metricPrefix turns a configured prefix into the instrument name prefix:
// characters outside [A-Za-z0-9_.] become '_', dots at either end are
// dropped, and runs of dots collapse. The Prometheus exporter turns the
// dots into underscores ("llm.pipeline" → "llm_pipeline_").
func metricPrefix(prefix string) (string, error) {
	if prefix == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidPrefix)
	}
	var b strings.Builder
	lastDot := true // drops leading dots
	for _, r := range prefix {
		switch {
		case r == '.':
			if lastDot {
				continue
			}
			b.WriteRune('.')
			lastDot = true
			continue
		case r == '_', r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		default:
			b.WriteRune('_')
		}
		lastDot = false
	}
	p := strings.TrimSuffix(b.String(), ".")
	if p == "" || !isASCIILetter(p[0]) {
		return "", fmt.Errorf("%w %q: must start with a letter", ErrInvalidPrefix, prefix)
	}
	return p, nil
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// enumLabel is the name of an enum value without its prefix
// (protoenum.Name): "none" for zero, "unknown" for a number the descriptor
// lacks (so a corrupt value cannot mint a new series per number).
func enumLabel(e protoreflect.Enum) string {
	n := e.Number()
	if n == 0 {
		return labelNone
	}
	if e.Descriptor().Values().ByNumber(n) == nil {
		return labelUnknown
	}
	return protoenum.Name(e)
}

// DomainLabel is the label value of a failure domain, e.g. "OUTPUT_SEMANTIC".
func DomainLabel(d guardgenv1.FailureDomain) string { return enumLabel(d) }

// ActionLabel is the label value of a recovery action, e.g. "ALERT_AND_DEGRADE".
func ActionLabel(a guardgenv1.RecoveryAction) string { return enumLabel(a) }

// ReasonLabel is the label value of a failure reason, e.g. "RETRIES_EXHAUSTED".
func ReasonLabel(r guardgenv1.FailureReason) string { return enumLabel(r) }

// codeLabels are the canonical upper-case gRPC code names, as in
// google.rpc.Code; codes.Code.String spells them in CamelCase.
var codeLabels = [...]string{
	codes.OK:                 "OK",
	codes.Canceled:           "CANCELLED",
	codes.Unknown:            "UNKNOWN",
	codes.InvalidArgument:    "INVALID_ARGUMENT",
	codes.DeadlineExceeded:   "DEADLINE_EXCEEDED",
	codes.NotFound:           "NOT_FOUND",
	codes.AlreadyExists:      "ALREADY_EXISTS",
	codes.PermissionDenied:   "PERMISSION_DENIED",
	codes.ResourceExhausted:  "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.Aborted:            "ABORTED",
	codes.OutOfRange:         "OUT_OF_RANGE",
	codes.Unimplemented:      "UNIMPLEMENTED",
	codes.Internal:           "INTERNAL",
	codes.Unavailable:        "UNAVAILABLE",
	codes.DataLoss:           "DATA_LOSS",
	codes.Unauthenticated:    "UNAUTHENTICATED",
}

// providerOutcome is "ok" for codes.OK and the upper-case code name
// otherwise.
func providerOutcome(c codes.Code) string {
	if c == codes.OK {
		return outcomeOK
	}
	if int(c) < len(codeLabels) {
		return codeLabels[c]
	}
	return labelUnknown
}

// boundedLabel admits the first max distinct values of one free-form label
// and maps any later newcomer to "other". It is safe for concurrent use.
type boundedLabel struct {
	max  int
	mu   sync.RWMutex
	seen map[string]struct{}
}

func newBoundedLabel(max int) *boundedLabel {
	return &boundedLabel{max: max, seen: make(map[string]struct{}, max)}
}

// value returns the label value to record for v.
func (b *boundedLabel) value(v string) string {
	v = cleanLabelValue(v)
	b.mu.RLock()
	_, ok := b.seen[v]
	b.mu.RUnlock()
	if ok {
		return v
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.seen[v]; ok {
		return v
	}
	if len(b.seen) >= b.max {
		return labelOther
	}
	b.seen[v] = struct{}{}
	return v
}

// cleanLabelValue makes v a valid, short label value: Prometheus rejects
// invalid UTF-8, and an empty value would read as an absent label.
func cleanLabelValue(v string) string {
	if v == "" {
		return labelUnknown
	}
	if !utf8.ValidString(v) {
		v = strings.ToValidUTF8(v, "\uFFFD")
	}
	if len(v) > maxLabelValueLen {
		cut := maxLabelValueLen
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		v = v[:cut]
	}
	return v
}
