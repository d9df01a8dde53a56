package soak_test

import (
	"math/rand/v2"
	"testing"
	"unicode/utf8"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/guardgen/guardgen/soak"
)

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestHostileRequests checks the generators, not guardgen: each kind
// draws what it says, inline types are well-formed descriptor sets (whose
// CEL rules compile; nothing is evaluated here), and raw requests are wire
// bytes with invalid UTF-8 in a string field.
func TestHostileRequests(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, kind := range soak.HostileKinds {
		t.Run(string(kind), func(t *testing.T) {
			h := soak.NewHostile(rng, kind, prompts, ticketType)
			if forms := btoi(h.Request != nil) + btoi(h.Raw != nil) + btoi(h.Headers != nil); h.Kind != kind || forms != 1 {
				t.Fatalf("kind %s, request %v, raw %d bytes", h.Kind, h.Request != nil, len(h.Raw))
			}
			switch kind {
			case soak.HostileOversize:
				if n := len(h.Request.GetPrompt()); n <= 256<<10 {
					t.Errorf("prompt of %d bytes, want more than 256 KiB", n)
				}
			case soak.HostileCEL, soak.HostileRegex:
				// Its one file imports only buf/validate/validate.proto,
				// which the server knows, as this process does.
				fd, err := protodesc.NewFile(h.Request.GetDescriptorSet().GetFile()[0], protoregistry.GlobalFiles)
				if err != nil {
					t.Fatal(err)
				}
				md := fd.Messages().ByName(protoreflect.Name("Hostile"))
				if md == nil || string(md.FullName()) != h.Request.GetTargetType() {
					t.Fatalf("target %s is not the file's message", h.Request.GetTargetType())
				}
				if kind == soak.HostileRegex {
					return // compiling the 13 KB pattern is the bomb itself
				}
				if _, err := protovalidate.New(protovalidate.WithMessageDescriptors(md),
					protovalidate.WithExtensionTypeResolver(protoregistry.GlobalTypes)); err != nil {
					t.Errorf("rules do not compile: %v", err)
				}
			case soak.HostileUTF8:
				for b := h.Raw; len(b) > 0; {
					num, typ, n := protowire.ConsumeTag(b)
					v, m := protowire.ConsumeBytes(b[n:])
					if n < 0 || typ != protowire.BytesType || m < 0 {
						t.Fatalf("malformed raw request")
					}
					if num == 1 && !utf8.Valid(v) {
						return
					}
					b = b[n+m:]
				}
				t.Error("no prompt with invalid UTF-8")
			case soak.HostileHeaders:
				if len(h.Headers) < 20 {
					t.Errorf("%d metadata entries, want at least 20", len(h.Headers))
				}
			case soak.HostileProbe:
				if h.Request.GetOptions().GetMaxOutputTokens() != 1 {
					t.Errorf("options %v, want max_output_tokens 1", h.Request.GetOptions())
				}
			case soak.HostileModel:
				if h.Request.GetOptions() == nil {
					t.Error("no options")
				}
			}
		})
	}
}
