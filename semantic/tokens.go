package semantic

import (
	"errors"
	"math"
	"sort"

	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
)

// errMisspelled means a provider's tokens are not its text, so no byte of
// the text can be tied to a token.
var errMisspelled = errors.New("the tokens do not spell the output")

// spelling places each token in the text its tokens spell.
type spelling struct {
	// ends[i] is where token i ends; it starts where token i-1 ends.
	ends     []int
	logprobs []float64
}

// spell checks that tokens, concatenated, are text and places them.
func spell(text string, tokens []*providerv1.TokenLogprob) (spelling, error) {
	sp := spelling{ends: make([]int, len(tokens)), logprobs: make([]float64, len(tokens))}
	at := 0
	for i, t := range tokens {
		b := t.GetToken()
		if len(b) > len(text)-at || text[at:at+len(b)] != string(b) {
			return spelling{}, errMisspelled
		}
		at += len(b)
		sp.ends[i] = at
		sp.logprobs[i] = min(t.GetLogprob(), 0) // a probability above 1 is noise
	}
	if at != len(text) {
		return spelling{}, errMisspelled
	}
	return sp, nil
}

// product multiplies the probabilities of the tokens that share a byte
// with text[start:end] and counts them.
func (sp spelling) product(start, end int) (float64, int) {
	first := sort.SearchInts(sp.ends, start+1) // the first token ending past start
	sum, n := 0.0, 0
	for i := first; i < len(sp.ends); i++ {
		tokenStart := 0
		if i > 0 {
			tokenStart = sp.ends[i-1]
		}
		if tokenStart >= end {
			break
		}
		if sp.ends[i] > tokenStart { // an empty token covers no byte
			sum += sp.logprobs[i]
			n++
		}
	}
	return math.Exp(sum), n
}
