package schema

import (
	"fmt"
	"regexp/syntax"
)

// checkPattern parses a regular expression from a request-defined rule and
// bounds the size of the program it compiles to, before anything compiles
// it. Go's regexp, like RE2, refuses only programs of millions of
// instructions (about 128 MiB); a short pattern of nested counted
// repetitions ("(((a{100}){100}){100})") reaches that, so the bound here is
// the operator's, in instructions. It returns the estimated size.
func checkPattern(pattern string, maxInsts int) (int, error) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return 0, fmt.Errorf("does not parse: %w", err)
	}
	n := progSize(re, maxInsts+1)
	if n > maxInsts {
		return n, fmt.Errorf("compiles to more than %d instructions", maxInsts)
	}
	return n, nil
}

// progSize estimates how many instructions regexp/syntax compiles re to,
// without expanding counted repetitions as Simplify would. It follows the
// compiler's shape (a literal is one instruction per rune, x{n,m} is n
// copies of x and m-n optional ones) and saturates at limit, so that nested
// repetitions cannot overflow it.
func progSize(re *syntax.Regexp, limit int) int {
	sat := func(n int) int { return min(n, limit) }
	mul := func(a, b int) int {
		if a != 0 && b > limit/a {
			return limit
		}
		return sat(a * b)
	}
	switch re.Op {
	case syntax.OpLiteral:
		return sat(len(re.Rune))
	case syntax.OpCapture:
		return sat(2 + progSize(re.Sub[0], limit))
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
		return sat(1 + progSize(re.Sub[0], limit))
	case syntax.OpConcat, syntax.OpAlternate:
		n := len(re.Sub)
		for _, sub := range re.Sub {
			n = sat(n + progSize(sub, limit))
		}
		return n
	case syntax.OpRepeat:
		sub := progSize(re.Sub[0], limit)
		copies := re.Max
		if copies < 0 {
			copies = re.Min + 1 // x{n,} is n copies and a star
		}
		return sat(mul(max(copies, 1), sub+1))
	}
	return 1 // a character class, an anchor, an empty match
}
