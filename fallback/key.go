package fallback

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// keyVersion is the first segments of every key. Bump it when the key
// layout or the prompt normalisation changes, so that old entries are
// never read under the new meaning; they expire by TTL. v2 added the
// caller, the instructions and the request options.
const keyVersion = "gg:v2:"

// descHashLen is how many characters of the descriptor hash go into a key:
// 64 bits of a SHA-256 is plenty to tell apart the versions of one type.
const descHashLen = 16

// Scope is everything a cached result answers for: two requests share a
// result only when every field matches. A field left out would let one
// request be answered with another's result, for example a caller who
// forces truncation (a token limit of 1) with the answer another caller
// paid for.
type Scope struct {
	// TargetType is the fully-qualified message name, and DescriptorHash a
	// hex digest of its descriptor with its dependencies (such as
	// schema.Target.Hash), so that a changed message definition never
	// serves entries stored for the old one.
	TargetType, DescriptorHash string
	// Model is the route and model asked for.
	Model string
	// Caller is who asked: an authenticated subject, or the tenant that
	// callers guardgen cannot tell apart belong to.
	Caller string
	// Instructions is the caller's system text, compared exactly.
	Instructions string
	// Options encodes every other request option that changes the output
	// (sampling temperature, token limit, ...), compared exactly.
	Options []byte
	// Prompt is compared after [NormalizePrompt].
	Prompt string
}

// Key returns the cache key of s. The layout is
//
//	gg:v2:<TargetType>:<DescriptorHash[:16]>:<Model>:<sha256 in hex>
//
// where the digest covers Caller, Instructions, Options and the normalised
// Prompt, each preceded by its length so that no two different scopes
// share a digest. Prompts that differ only in white space, letter case or
// Unicode composition share a key. Colons and percent signs in TargetType,
// DescriptorHash and Model are percent-escaped, so no two different inputs
// produce the same key; the caller appears only inside the digest.
func Key(s Scope) string {
	desc := s.DescriptorHash
	if len(desc) > descHashLen {
		desc = desc[:descHashLen]
	}
	h := sha256.New()
	// Each part behind its length, written without copying it.
	var n [8]byte
	length := func(size int) {
		binary.BigEndian.PutUint64(n[:], uint64(size))
		h.Write(n[:])
	}
	length(len(s.Caller))
	io.WriteString(h, s.Caller)
	length(len(s.Instructions))
	io.WriteString(h, s.Instructions)
	length(len(s.Options))
	h.Write(s.Options)
	prompt := NormalizePrompt(s.Prompt)
	length(len(prompt))
	io.WriteString(h, prompt)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	var digest [2 * sha256.Size]byte
	hex.Encode(digest[:], sum[:])
	var b strings.Builder
	b.Grow(len(keyVersion) + len(s.TargetType) + len(desc) + len(s.Model) + 3 + 2*sha256.Size)
	b.WriteString(keyVersion)
	keyEscaper.WriteString(&b, s.TargetType)
	b.WriteByte(':')
	keyEscaper.WriteString(&b, desc)
	b.WriteByte(':')
	keyEscaper.WriteString(&b, s.Model)
	b.WriteByte(':')
	b.Write(digest[:])
	return b.String()
}

// asciiSpace is unicode.IsSpace for ASCII.
var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// keyEscaper makes ':' appear in a key only as a separator. '%' is escaped
// too, so that an input containing "%3A" cannot meet an escaped ':'.
var keyEscaper = strings.NewReplacer("%", "%25", ":", "%3A")

// NormalizePrompt returns prompt in the form [Key] hashes: Unicode NFC,
// leading and trailing white space removed, every run of white space
// (Unicode's definition) replaced by one space, and lower case. Folding
// case means prompts that differ only in case share cached results; that
// is the intent for a fallback, which is served degraded and with its age.
//
// It is strings.ToLower(strings.Join(strings.Fields(norm.NFC.String(p)),
// " ")) in one pass and one allocation (a key is made on every call, and
// prompts run to kilobytes); FuzzNormalizePrompt holds it to that, since
// a key that changed would miss every stored entry.
func NormalizePrompt(prompt string) string {
	s := norm.NFC.String(prompt)
	var b strings.Builder
	b.Grow(len(s))
	space := false // white space since the last word, after the first
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf { // ASCII, most prompts: no decoding
			i++
			if asciiSpace[c] {
				space = b.Len() > 0
				continue
			}
			if space {
				b.WriteByte(' ')
				space = false
			}
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b.WriteByte(c)
			continue
		}
		// An invalid byte decodes as utf8.RuneError, which is what
		// strings.ToLower writes for it.
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}
