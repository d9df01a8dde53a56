package synthetic

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"regexp/syntax"
	"unicode/utf8"
)

// pattern is a compiled "pattern" keyword: the RE2 tree to walk and the
// regexp that checks what the walk produced.
type pattern struct {
	re   *regexp.Regexp
	tree *syntax.Regexp
	// minimal is the string the walk gives when every choice takes its
	// smallest option; the fallback when random walks keep failing.
	minimal string
}

func compilePattern(src string) (*pattern, error) {
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", src, err)
	}
	tree, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", src, err)
	}
	p := &pattern{re: re, tree: tree}
	p.minimal = string(walk(nil, tree, nil))
	return p, nil
}

// patternAttempts bounds the random walks before falling back to the
// minimal string. Walks fail on constructs the walker does not model (\b,
// anchors in the middle of a pattern) and when minLength or maxLength
// narrow the pattern's own lengths, which the walk does not aim for.
const patternAttempts = 16

// generate returns a string that matches p and has between minLen and maxLen
// runes (maxLen < 0: unbounded), when the walk finds one.
func (p *pattern) generate(rng *rand.Rand, minLen, maxLen int) string {
	var buf []byte
	for range patternAttempts {
		buf = walk(rng, p.tree, buf[:0])
		n := utf8.RuneCount(buf)
		if n >= minLen && (maxLen < 0 || n <= maxLen) && p.re.Match(buf) {
			return string(buf)
		}
	}
	return p.minimal
}

// maxRepeat bounds how far beyond its minimum a repeat goes, so x* and
// x{0,1000} stay short.
const maxRepeat = 6

// walk appends a string matching re. A nil rng takes the smallest choice
// everywhere. Anchors and word boundaries emit nothing; the caller verifies
// the result with the compiled regexp.
func walk(rng *rand.Rand, re *syntax.Regexp, b []byte) []byte {
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			b = utf8.AppendRune(b, r)
		}
	case syntax.OpCharClass:
		b = utf8.AppendRune(b, pickClass(rng, re.Rune))
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b = append(b, byte('a'+intN(rng, 26)))
	case syntax.OpCapture:
		b = walk(rng, re.Sub[0], b)
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		lo, hi := re.Min, re.Max
		switch re.Op {
		case syntax.OpStar:
			lo, hi = 0, -1
		case syntax.OpPlus:
			lo, hi = 1, -1
		case syntax.OpQuest:
			lo, hi = 0, 1
		}
		if hi < 0 || hi > lo+maxRepeat {
			hi = lo + maxRepeat
		}
		for range lo + intN(rng, hi-lo+1) {
			b = walk(rng, re.Sub[0], b)
		}
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			b = walk(rng, sub, b)
		}
	case syntax.OpAlternate:
		b = walk(rng, re.Sub[intN(rng, len(re.Sub))], b)
	}
	// OpEmptyMatch, OpNoMatch, anchors and boundaries add nothing.
	return b
}

// intN is rng.IntN, or 0 (the smallest choice) without an rng.
func intN(rng *rand.Rand, n int) int {
	if rng == nil || n <= 1 {
		return 0
	}
	return rng.IntN(n)
}

// Preferred rune ranges, tried in order: a class such as [^0-9] or \W spans
// all of Unicode, and readable ASCII is the better pick.
var preferredRanges = [][2]rune{
	{'a', 'z'}, {'0', '9'}, {'A', 'Z'}, {'!', '~'}, {' ', ' '},
}

// pickClass picks a rune from a character class given as [lo, hi] pairs.
func pickClass(rng *rand.Rand, ranges []rune) rune {
	if len(ranges) == 0 {
		return 'a'
	}
	// Count the class's alphanumerics, then its printable ASCII, and pick
	// uniformly inside the first tier that is not empty.
	for _, tier := range [][][2]rune{preferredRanges[:3], preferredRanges[3:]} {
		total := 0
		for _, pr := range tier {
			total += overlap(ranges, pr)
		}
		if total == 0 {
			continue
		}
		k := intN(rng, total)
		for _, pr := range tier {
			for i := 0; i+1 < len(ranges); i += 2 {
				lo, hi := max(ranges[i], pr[0]), min(ranges[i+1], pr[1])
				if lo > hi {
					continue
				}
				if size := int(hi - lo + 1); k >= size {
					k -= size
					continue
				}
				return lo + rune(k)
			}
		}
	}
	// Nothing printable: take a rune near the start of the first range,
	// stepping over the surrogates UTF-8 cannot carry.
	lo, hi := ranges[0], ranges[1]
	r := lo + rune(intN(rng, int(min(hi-lo+1, 64))))
	if r >= 0xD800 && r <= 0xDFFF {
		r = 0xE000
	}
	return r
}

func overlap(ranges []rune, pr [2]rune) int {
	n := 0
	for i := 0; i+1 < len(ranges); i += 2 {
		if lo, hi := max(ranges[i], pr[0]), min(ranges[i+1], pr[1]); lo <= hi {
			n += int(hi - lo + 1)
		}
	}
	return n
}
