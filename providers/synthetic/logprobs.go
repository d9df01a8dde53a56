package synthetic

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"unicode/utf8"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// anyValue, as the low_confidence argument, lowers every value.
const anyValue = "*"

// LowConfidence is the probability of each token of a value the
// low_confidence fault names: a value of one token has this confidence,
// a longer one less.
const LowConfidence = 0.15

// logprobs returns plausible token log-probabilities for content, as a
// confident model would have them: each token between 0.998 and 0.9998,
// drawn from the prompt's seed, except that every token of the values at
// the dotted key path low (indices left out; anyValue for all) gets
// LowConfidence. The tokens spell content exactly.
func logprobs(content string, seed uint64, low string) []*providerv1.TokenLogprob {
	rng := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	var lowSpans [][2]int
	if low != "" {
		lowSpans = valueSpans(content, low)
	}
	tokens := tokenize(content)
	out := make([]*providerv1.TokenLogprob, len(tokens))
	at := 0
	for i, t := range tokens {
		lp := -(0.0002 + 0.0018*rng.Float64())
		if overlaps(lowSpans, at, at+len(t)) {
			lp = math.Log(LowConfidence)
		}
		out[i] = &providerv1.TokenLogprob{Token: []byte(t), Logprob: lp}
		at += len(t)
	}
	return out
}

// tokenize splits s roughly as a BPE tokenizer would: a run of up to four
// letters or digits with an optional leading space, or any other single
// character.
func tokenize(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		j := i
		if s[j] == ' ' && j+1 < len(s) && alnum(s[j+1]) {
			j++
		}
		k := j
		for k < len(s) && k-j < 4 && alnum(s[k]) {
			k++
		}
		if k == j { // not a word: one character
			_, size := utf8.DecodeRuneInString(s[j:])
			k = j + size
		}
		out = append(out, s[i:k])
		i = k
	}
	return out
}

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func overlaps(spans [][2]int, start, end int) bool {
	for _, s := range spans {
		if start < s[1] && s[0] < end {
			return true
		}
	}
	return false
}

// valueSpans finds the scalar values of the JSON document doc whose key
// path, dotted and without indices, is path (anyValue: every one), as
// byte spans with their quotes. A document that is not JSON has none.
func valueSpans(doc, path string) [][2]int {
	type frame struct {
		object    bool
		key       string
		expectKey bool
	}
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var stack []*frame
	var spans [][2]int
	keys := func() string {
		var b strings.Builder
		for _, f := range stack {
			if f.object {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			}
		}
		return b.String()
	}
	for {
		before := int(dec.InputOffset())
		tok, err := dec.Token()
		if err != nil {
			return spans
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if top != nil && top.object {
					top.expectKey = true // after this value, the next key
				}
				stack = append(stack, &frame{object: d == '{', expectKey: d == '{'})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if top != nil && top.object && top.expectKey {
			top.key, _ = tok.(string)
			top.expectKey = false
			continue
		}
		if path == anyValue || keys() == path {
			start := before + len(doc[before:]) - len(strings.TrimLeft(doc[before:], " \t\r\n:,"))
			spans = append(spans, [2]int{start, int(dec.InputOffset())})
		}
		if top != nil && top.object {
			top.expectKey = true
		}
	}
}
