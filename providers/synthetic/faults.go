package synthetic

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/guardgen/guardgen/internal/orderedjson"
	"github.com/guardgen/guardgen/providers"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// FaultsMetadataKey is the request metadata key holding the fault plan: a
// comma-separated list with one entry per successive provider call of one
// Generate request (entry i answers call i, as numbered by
// providers.CallMetadataKey). Calls beyond the plan answer ok.
const FaultsMetadataKey = "x-guardgen-synthetic-faults"

// ErrorInfoDomain is the google.rpc.ErrorInfo domain of the provider's
// simulated upstream errors.
const ErrorInfoDomain = "synthetic.guardgen.dev"

// Refusal is the refusal text of the refusal fault.
const Refusal = "I can't help with that request."

// Verdicts of the synthetic verifier: a verification call answers
// SupportedReason for ok, RejectedReason for verify_reject.
const (
	SupportedReason = "synthetic verifier: the source text supports every value"
	RejectedReason  = "synthetic verifier: the source text does not support the values given"
)

// reply is what a fault answers, before usage and model are filled in.
type reply struct {
	content string
	finish  providerv1.FinishReason
	refusal string
	// low names the values whose tokens get a low probability when the
	// request asks for logprobs: a dotted key path, or "" for none.
	low string
}

// request is what a fault answers from: the schema and the prompt seed,
// whether the call verifies rather than generates, and the plan entry's
// argument. The valid instance is generated on demand, so error faults
// cost nothing.
type request struct {
	schema       *compiled
	seed         uint64
	prompt       string
	verification bool
	arg          string
}

// valid is the valid answer: an instance of the schema, or, for a
// verification call, a verdict that every value is supported.
func (r *request) valid() []byte {
	if r.verification {
		return verdict(true, SupportedReason)
	}
	return instance(r.schema, r.seed, r.prompt, false)
}

func verdict(supported bool, reason string) []byte {
	b, _ := json.Marshal(map[string]any{"supported": supported, "reason": reason}) // plain values always marshal
	return b
}

func stop(b []byte) reply {
	return reply{content: string(b), finish: providerv1.FinishReason_FINISH_REASON_STOP}
}

// fault is one entry of a fault plan: either an upstream failure, as the
// gRPC status a real provider would return, or a reply built from the
// request.
type fault struct {
	name   string
	status func(ctx context.Context, p *Provider) *status.Status
	answer func(r *request) reply
	// arg says the entry may take an argument: name:arg.
	arg bool
	// verifies says the entry answers verification calls only.
	verifies bool
	// reset breaks a stream halfway (a unary call: UNAVAILABLE); slow
	// delays the first chunk (a unary call: the answer) by the entry's
	// argument, a duration, DefaultSlowStart without one.
	reset, slow bool
}

// DefaultSlowStart is how long slow_start delays the first chunk when its
// entry names no duration; MaxSlowStart bounds the duration it may name.
const (
	DefaultSlowStart = time.Second
	MaxSlowStart     = time.Minute
)

// planned is how a plan entry shapes the delivery of its answer.
type planned struct {
	reset bool
	slow  time.Duration
}

// streamed reads the delivery the entry asks for from its argument.
func (f *fault) streamed(arg string) (planned, error) {
	p := planned{reset: f.reset}
	if !f.slow {
		return p, nil
	}
	p.slow = DefaultSlowStart
	if arg != "" {
		d, err := time.ParseDuration(arg)
		if err != nil || d < 0 || d > MaxSlowStart {
			return p, status.Errorf(codes.InvalidArgument, "synthetic: %s takes a duration from 0 to %s, e.g. slow_start:250ms", f.name, MaxSlowStart)
		}
		p.slow = d
	}
	return p, nil
}

// faults is the table of plan entries, in the order Faults lists them.
var faults = []fault{
	{name: "ok", answer: func(r *request) reply { return stop(r.valid()) }},
	{name: "rate_limit", status: func(_ context.Context, p *Provider) *status.Status {
		st := status.New(codes.ResourceExhausted, "synthetic: rate limited")
		withDetails, err := st.WithDetails(
			&errdetails.ErrorInfo{Reason: "RATE_LIMITED", Domain: ErrorInfoDomain},
			&errdetails.RetryInfo{RetryDelay: durationpb.New(p.retryDelay)},
		)
		if err != nil { // only for details that cannot marshal, which these always do
			return st
		}
		return withDetails
	}},
	{name: "unavailable", status: func(context.Context, *Provider) *status.Status {
		return status.New(codes.Unavailable, "synthetic: upstream unavailable")
	}},
	{name: "timeout", status: func(context.Context, *Provider) *status.Status {
		return status.New(codes.DeadlineExceeded, "synthetic: upstream timed out")
	}},
	// hang is an upstream that never answers: the call ends only when its
	// context does, as the caller's deadline or a per-attempt timeout says.
	{name: "hang", status: func(ctx context.Context, _ *Provider) *status.Status {
		<-ctx.Done()
		return status.FromContextError(ctx.Err())
	}},
	{name: "length", answer: func(r *request) reply {
		return reply{content: string(truncated(r.valid())), finish: providerv1.FinishReason_FINISH_REASON_LENGTH}
	}},
	{name: "content_filter", answer: func(*request) reply {
		return reply{finish: providerv1.FinishReason_FINISH_REASON_CONTENT_FILTER}
	}},
	{name: "refusal", answer: func(*request) reply {
		return reply{finish: providerv1.FinishReason_FINISH_REASON_REFUSAL, refusal: Refusal}
	}},
	{name: "fence", answer: func(r *request) reply {
		return stop(bytes.Join([][]byte{[]byte("```json\n"), r.valid(), []byte("\n```")}, nil))
	}},
	{name: "prose", answer: func(r *request) reply {
		return stop(bytes.Join([][]byte{
			[]byte("Sure! Here is the result you asked for:\n\n"), r.valid(),
			[]byte("\n\nLet me know if you need anything else."),
		}, nil))
	}},
	{name: "malformed", answer: func(r *request) reply { return stop(malformed(r.valid())) }},
	{name: "schema", answer: func(r *request) reply { return stop(instance(r.schema, r.seed, r.prompt, true)) }},
	{name: "unknown_field", answer: func(r *request) reply { return stop(withUnknownField(r.valid(), r.schema.root)) }},
	{name: "business_rule", answer: func(r *request) reply { return stop(backwardsInstance(r.schema, r.seed, r.prompt)) }},
	{name: "low_confidence", arg: true, answer: func(r *request) reply {
		rep := stop(r.valid())
		rep.low = r.arg
		if rep.low == "" {
			rep.low = anyValue
		}
		return rep
	}},
	{name: "verify_reject", verifies: true, answer: func(*request) reply { return stop(verdict(false, RejectedReason)) }},
	{name: "stream_reset", reset: true, answer: func(r *request) reply { return stop(r.valid()) }},
	{name: "slow_start", arg: true, slow: true, answer: func(r *request) reply { return stop(r.valid()) }},
}

// Faults lists the fault plan entries the provider understands.
func Faults() []string {
	names := make([]string, len(faults))
	for i, f := range faults {
		names[i] = f.name
	}
	return names
}

// faultFor returns the plan entry for this call and its argument: the plan
// comes from FaultsMetadataKey, the call number from
// providers.CallMetadataKey (absent: 1). Every entry of the plan is
// checked, so a typo fails the first call rather than a later one.
func faultFor(ctx context.Context) (*fault, string, error) {
	plan := strings.Join(metadata.ValueFromIncomingContext(ctx, FaultsMetadataKey), ",")
	if strings.TrimSpace(plan) == "" {
		return &faults[0], "", nil
	}
	call := 1
	if v := metadata.ValueFromIncomingContext(ctx, providers.CallMetadataKey); len(v) > 0 {
		n, err := strconv.Atoi(strings.TrimSpace(v[0]))
		if err != nil || n < 1 {
			return nil, "", status.Errorf(codes.InvalidArgument, "synthetic: %s %q is not a call number", providers.CallMetadataKey, v[0])
		}
		call = n
	}
	chosen, chosenArg := &faults[0], ""
	for i, entry := range strings.Split(plan, ",") {
		name, arg, hasArg := strings.Cut(strings.TrimSpace(entry), ":")
		f := lookup(name)
		switch {
		case f == nil:
			return nil, "", status.Errorf(codes.InvalidArgument, "synthetic: unknown fault %q; known: %s",
				name, strings.Join(Faults(), ", "))
		case hasArg && !f.arg:
			return nil, "", status.Errorf(codes.InvalidArgument, "synthetic: fault %q takes no argument", name)
		}
		if i == call-1 {
			chosen, chosenArg = f, arg
		}
	}
	return chosen, chosenArg, nil
}

func lookup(name string) *fault {
	for i := range faults {
		if faults[i].name == name {
			return &faults[i]
		}
	}
	return nil
}

// truncated cuts a document to its first half, at a rune boundary so the
// text stays valid UTF-8 for the proto string, and always short of the
// whole.
func truncated(doc []byte) []byte {
	i := len(doc) / 2
	for i > 0 && i < len(doc) && doc[i]&0xC0 == 0x80 { // continuation byte
		i--
	}
	return doc[:i]
}

// malformed removes the ':' after the first key, which no bounded repair
// (fences, prose, trailing commas, quotes, brackets) restores.
func malformed(doc []byte) []byte {
	if len(doc) > 2 && doc[0] == '{' && doc[1] == '"' {
		for i := 2; i < len(doc); i++ {
			switch doc[i] {
			case '\\':
				i++
			case '"':
				if i+1 < len(doc) && doc[i+1] == ':' {
					out := bytes.Clone(doc)
					out[i+1] = ' '
					return out
				}
			}
		}
	}
	return []byte(`{"synthetic" "malformed"}`)
}

// unknownField is the extra root property of the unknown_field fault.
const unknownField = "x_unexpected_note"

// withUnknownField adds a root property the schema does not declare.
func withUnknownField(doc []byte, root *node) []byte {
	root = deref(root)
	if len(doc) < 2 || doc[0] != '{' {
		return doc
	}
	name := unknownField
	for root.hasProp(name) {
		name += "_"
	}
	out := bytes.Clone(doc[:len(doc)-1])
	if len(doc) > 2 {
		out = append(out, ',')
	}
	out = orderedjson.AppendString(out, name)
	out = append(out, `:"synthetic extra field"}`...)
	return out
}
