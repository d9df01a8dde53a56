package fallback_test

import (
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"

	"github.com/guardgen/guardgen/fallback"
)

const (
	ticket = "guardgen.examples.v1.TicketClassification"
	hashA  = "aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbcccccccccccccccc0000000000000000"
	hashB  = "1111111111111111bbbbbbbbbbbbbbbbcccccccccccccccc0000000000000000"
)

type keyArgs struct{ typ, hash, prompt, model string }

func (a keyArgs) key() string {
	return fallback.Key(fallback.Scope{TargetType: a.typ, DescriptorHash: a.hash, Prompt: a.prompt, Model: a.model})
}

func key(typ, hash, prompt, model string) string { return keyArgs{typ, hash, prompt, model}.key() }

func TestKeySame(t *testing.T) {
	t.Parallel()
	base := keyArgs{ticket, hashA, "Classify: my invoice is wrong", "gpt-4o-mini"}
	tests := []struct {
		name string
		args keyArgs
	}{
		{"identical", base},
		{"surrounding white space", keyArgs{ticket, hashA, "  \n\tClassify: my invoice is wrong \r\n", "gpt-4o-mini"}},
		{"inner white space runs", keyArgs{ticket, hashA, "Classify:\n\n  my\tinvoice  is\u00a0wrong", "gpt-4o-mini"}},
		{"case", keyArgs{ticket, hashA, "CLASSIFY: My Invoice Is Wrong", "gpt-4o-mini"}},
		{"hash beyond 16 characters", keyArgs{ticket, hashA[:16] + "ffff", "Classify: my invoice is wrong", "gpt-4o-mini"}},
	}
	want := base.key()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.args.key(); got != want {
				t.Errorf("Key = %q, want %q", got, want)
			}
		})
	}
}

func TestKeyUnicodeNormalization(t *testing.T) {
	t.Parallel()
	composed := key(ticket, hashA, "caf\u00e9 bill", "m")    // é as one code point
	decomposed := key(ticket, hashA, "cafe\u0301 bill", "m") // e + combining acute
	if composed != decomposed {
		t.Errorf("NFC-equivalent prompts got different keys:\n%s\n%s", composed, decomposed)
	}
}

func TestKeyDifferent(t *testing.T) {
	t.Parallel()
	base := keyArgs{ticket, hashA, "classify: my invoice is wrong", "gpt-4o-mini"}
	tests := []struct {
		name string
		args keyArgs
	}{
		{"model", keyArgs{ticket, hashA, base.prompt, "gpt-4o"}},
		{"type", keyArgs{"guardgen.examples.v1.Other", hashA, base.prompt, base.model}},
		{"descriptor hash", keyArgs{ticket, hashB, base.prompt, base.model}},
		{"prompt words", keyArgs{ticket, hashA, "classify: my invoice is right", base.model}},
		{"prompt punctuation", keyArgs{ticket, hashA, "classify my invoice is wrong", base.model}},
		{"white space inside a word", keyArgs{ticket, hashA, "classify: my in voice is wrong", base.model}},
	}
	want := base.key()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.args.key(); got == want {
				t.Errorf("Key = %q, same as the base key", got)
			}
		})
	}
}

// TestKeyNoSeparatorCollision: colons inside a component cannot shift a
// boundary and make two different inputs share a key.
func TestKeyNoSeparatorCollision(t *testing.T) {
	t.Parallel()
	a := key("t", "h", "p", "llama3:8b")
	b := key("t", "h:llama3", "p", "8b")
	c := key("t", "h", "p", "llama3%3A8b")
	if a == b || a == c || b == c {
		t.Errorf("collision among %q, %q, %q", a, b, c)
	}
	if n := strings.Count(a, ":"); n != 5 {
		t.Errorf("Key %q has %d colons, want 5 separators", a, n)
	}
}

// TestKeyScope: the caller, the instructions and the options are part of
// what a result answers for, and their boundaries cannot be shifted.
func TestKeyScope(t *testing.T) {
	t.Parallel()
	base := fallback.Scope{TargetType: ticket, DescriptorHash: hashA, Model: "default/gpt-4o-mini", Caller: "token:ab12",
		Instructions: "Be terse.", Options: []byte{0x20, 0x01}, Prompt: "my invoice is wrong"}
	tests := []struct {
		name   string
		change func(*fallback.Scope)
	}{
		{"caller", func(s *fallback.Scope) { s.Caller = "token:cd34" }},
		{"no caller", func(s *fallback.Scope) { s.Caller = "" }},
		{"instructions", func(s *fallback.Scope) { s.Instructions = "Be verbose." }},
		{"instructions case", func(s *fallback.Scope) { s.Instructions = "be terse." }},
		{"options", func(s *fallback.Scope) { s.Options = []byte{0x20, 0x02} }},
		{"caller and instructions boundary", func(s *fallback.Scope) { s.Caller, s.Instructions = "token:ab12Be", " terse." }},
	}
	want := fallback.Key(base)
	if strings.Contains(want, "ab12") {
		t.Errorf("Key %q shows the caller", want)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := base
			tt.change(&s)
			if got := fallback.Key(s); got == want {
				t.Errorf("Key = %q, same as the base key", got)
			}
		})
	}
}

func TestNormalizePrompt(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{" \t\n ", ""},
		{"  Hello\r\n\r\n  World  ", "hello world"},
		{"ÉCOLE\u2003Cafe\u0301", "école café"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := fallback.NormalizePrompt(tt.in); got != tt.want {
				t.Errorf("NormalizePrompt(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzNormalizePrompt holds NormalizePrompt to its definition, by which
// every stored key was made: fold white space with strings.Fields, join
// with single spaces, lower-case with strings.ToLower, after NFC.
func FuzzNormalizePrompt(f *testing.F) {
	for _, seed := range []string{
		"", " ", "a", "  Hello\r\n\r\n  World  ",
		"ÉCOLE\u2003Cafe\u0301",    // an em space; a combining accent NFC composes
		"next\u0085line\u00a0nbsp", // NEL and no-break space are white space too
		"\u023a\u0130\u1e9e",       // lower case longer, shorter, or not one rune
		"bad \xff\xfe utf-8 \xc3",  // invalid bytes become U+FFFD, as ToLower writes them
		"\u200bzero width\ufeff",   // not white space to unicode.IsSpace
		"TAB\tVT\vFF\fCR\r",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p string) {
		want := strings.ToLower(strings.Join(strings.Fields(norm.NFC.String(p)), " "))
		if got := fallback.NormalizePrompt(p); got != want {
			t.Errorf("NormalizePrompt(%q) = %q, want %q", p, got, want)
		}
	})
}

func BenchmarkKey(b *testing.B) {
	prompt := strings.Repeat("Classify this support ticket:  my invoice  is wrong.\n", 40)
	for b.Loop() {
		key(ticket, hashA, prompt, "gpt-4o-mini")
	}
}
