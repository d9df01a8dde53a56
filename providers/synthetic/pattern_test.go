package synthetic

import (
	"math/rand/v2"
	"regexp"
	"testing"
	"unicode/utf8"
)

func TestPatternGenerate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern        string
		minLen, maxLen int
	}{
		{`^[a-z]{2}-[a-z]+-[0-9]$`, 0, -1},
		{`^[a-z][a-z0-9_]{0,31}$`, 0, -1},
		{`^\d{3}-\d{4}$`, 0, -1},
		{`^(foo|bar)+baz?$`, 0, -1},
		{`^\w+@\w+\.com$`, 0, -1},
		{`^[A-Z][a-z]*$`, 0, -1},
		{`^[^0-9]{3}$`, 0, -1},
		{`^\W\s\S$`, 0, -1},
		{`(?i)^abc$`, 0, -1},
		{`^$`, 0, -1},
		{`a|b|c`, 0, -1},
		{`^[\p{Greek}]{2}$`, 0, -1},
		{`^x{2,}y*$`, 0, 4},
		{`^.{5,10}$`, 6, 9},
		{`^[a-f0-9]{8}(-[a-f0-9]{4}){3}-[a-f0-9]{12}$`, 0, -1},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			t.Parallel()
			p, err := compilePattern(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			re := regexp.MustCompile(tt.pattern)
			for seed := range uint64(100) {
				got := p.generate(rand.New(rand.NewPCG(seed, seed)), tt.minLen, tt.maxLen)
				n := utf8.RuneCountInString(got)
				if !re.MatchString(got) || n < tt.minLen || (tt.maxLen >= 0 && n > tt.maxLen) {
					t.Fatalf("seed %d: %q does not fit", seed, got)
				}
			}
		})
	}
}

// TestPatternFallsBackToMinimal shows a pattern the walker cannot satisfy
// (a word boundary between two word characters) still yields its minimal
// string rather than looping.
func TestPatternFallsBackToMinimal(t *testing.T) {
	t.Parallel()
	p, err := compilePattern(`^a\bb$`)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.generate(rand.New(rand.NewPCG(1, 2)), 0, -1); got != "ab" {
		t.Errorf("got %q, want the minimal %q", got, "ab")
	}
}
