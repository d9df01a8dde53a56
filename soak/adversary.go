package soak

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/soak/hostile"
)

// HostileKind names one way a caller attacks guardgen; [NewHostile] draws
// a randomised request of each kind, built with package hostile where it
// has the input. The kinds are issue 11's attacks.
type HostileKind string

// Hostile kinds.
const (
	// HostileOversize: a prompt past server.max_prompt_bytes, or a whole
	// request past server.max_message_bytes.
	HostileOversize HostileKind = "oversize"
	// HostileCEL: an inline descriptor set whose message-level CEL rule is
	// expensive to run (a string that grows eightfold per step, nested
	// comprehensions).
	HostileCEL HostileKind = "cel"
	// HostileRegex: an inline descriptor set with a pattern rule of 13 KB
	// that compiles to millions of instructions.
	HostileRegex HostileKind = "regex"
	// HostileUTF8: invalid UTF-8 in a string field (raw wire bytes, which
	// a protobuf library would refuse to encode).
	HostileUTF8 HostileKind = "utf8"
	// HostileHeaders: many large metadata entries, sent over raw HTTP/2
	// (a gRPC client would refuse to send past the server's advertised
	// limit).
	HostileHeaders HostileKind = "headers"
	// HostileProbe: a normal prompt with max_output_tokens 1, which forces
	// truncation and so the cache: a caller probing for others' answers.
	HostileProbe HostileKind = "probe"
	// HostileModel: a model, token limit or route the caller should not
	// choose (any model, 1,048,576 tokens, the example config's drill
	// route).
	HostileModel HostileKind = "model"
)

// HostileKinds lists every kind.
var HostileKinds = []HostileKind{HostileOversize, HostileCEL, HostileRegex, HostileUTF8, HostileHeaders, HostileProbe, HostileModel}

// Hostile is one hostile call.
type Hostile struct {
	Kind HostileKind
	// Request is the request, or nil when Raw is set.
	Request *guardgenv1.GenerateRequest
	// Raw is the request's wire bytes, for requests no protobuf library
	// would encode; send it with [RawCodec].
	Raw []byte
	// Headers, when set, are the metadata of a raw HTTP/2 call
	// (hostile.Call) with an empty request, instead of Request or Raw.
	Headers []hostile.Header
}

// Limits of the defaults these requests are sized against
// (config.Default: server.max_prompt_bytes, server.max_message_bytes).
const (
	defaultMaxPromptBytes  = 256 << 10
	defaultMaxMessageBytes = 4 << 20
)

// NewHostile draws one request of kind from rng. prompts and target are
// the normal traffic's: the cache probe asks what others asked.
func NewHostile(rng *rand.Rand, kind HostileKind, prompts []string, target string) Hostile {
	h := Hostile{Kind: kind}
	prompt := prompts[rng.IntN(len(prompts))]
	switch kind {
	case HostileOversize:
		size := defaultMaxPromptBytes + 1 + rng.IntN(64<<10)
		if rng.IntN(4) == 0 {
			size = defaultMaxMessageBytes + 1 + rng.IntN(1<<20)
		}
		h.Request = &guardgenv1.GenerateRequest{Prompt: randomText(rng, size), TargetType: target}
	case HostileCEL:
		rule := hostile.StringBombRule()
		if rng.IntN(2) == 0 {
			rule = hostile.ComprehensionBombRule(3 + rng.IntN(4))
		}
		h.Request = inline(hostile.CELType(freshPackage(rng), rule), prompt)
	case HostileRegex:
		h.Request = inline(hostile.PatternType(freshPackage(rng), hostile.RegexBombPattern(rng.Int())), prompt)
	case HostileUTF8:
		h.Raw = hostile.InvalidUTF8Request(target)
	case HostileHeaders:
		// 20 to 120 entries of 100 bytes to 100 KB: from under the
		// server's limit to 10 MB.
		h.Headers = hostile.MetadataBomb(20+rng.IntN(100), 100+rng.IntN(100<<10))
	case HostileProbe:
		h.Request = &guardgenv1.GenerateRequest{Prompt: prompt, TargetType: target,
			Options: &guardgenv1.GenerateOptions{MaxOutputTokens: 1}}
	case HostileModel:
		opts := &guardgenv1.GenerateOptions{}
		switch rng.IntN(3) {
		case 0:
			opts.Model = "gpt-hostile-" + strconv.Itoa(rng.IntN(1000))
		case 1:
			opts.MaxOutputTokens = 1 << 20
		default:
			opts.Route = "drill"
		}
		h.Request = &guardgenv1.GenerateRequest{Prompt: prompt, TargetType: target, Options: opts}
	default:
		panic(fmt.Sprintf("soak: unknown hostile kind %q", kind))
	}
	return h
}

// ParseHostileKinds reads a comma-separated list of kinds; "all" is every
// kind.
func ParseHostileKinds(s string) ([]HostileKind, error) {
	if s == "all" {
		return HostileKinds, nil
	}
	var out []HostileKind
	for name := range strings.SplitSeq(s, ",") {
		k := HostileKind(strings.TrimSpace(name))
		found := false
		for _, known := range HostileKinds {
			found = found || k == known
		}
		if !found {
			return nil, fmt.Errorf("unknown hostile kind %q (want some of %v, or all)", k, HostileKinds)
		}
		out = append(out, k)
	}
	return out, nil
}

// randomText is n bytes of printable ASCII.
func randomText(rng *rand.Rand, n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz      ,.0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

// freshPackage is a package name no earlier request used, so that every
// inline type is new to the server's type cache.
func freshPackage(rng *rand.Rand) string { return fmt.Sprintf("hostile.v%d", rng.Uint32()) }

// inline asks for t, defined by its own descriptor set.
func inline(t hostile.Type, prompt string) *guardgenv1.GenerateRequest {
	return &guardgenv1.GenerateRequest{Prompt: prompt, TargetType: t.Name, DescriptorSet: t.Set}
}

// RawCodec sends a *[]byte as the request's wire bytes and keeps the
// response's as a *[]byte; pass it with grpc.ForceCodec to send what a
// protobuf library would refuse to encode. It is named "proto", so the
// server decodes the request as it would any other.
type RawCodec struct{}

// Marshal returns *v.
func (RawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("soak: RawCodec marshals *[]byte, not %T", v)
	}
	return *b, nil
}

// Unmarshal stores a copy of data in *v.
func (RawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("soak: RawCodec unmarshals into *[]byte, not %T", v)
	}
	*b = append((*b)[:0], data...)
	return nil
}

// Name is the protobuf codec's.
func (RawCodec) Name() string { return "proto" }
