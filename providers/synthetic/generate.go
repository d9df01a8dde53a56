package synthetic

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/guardgen/guardgen/internal/orderedjson"
)

const (
	// fullDepth is the nesting depth (objects and arrays entered) up to
	// which objects carry every property and arrays at least one element;
	// beyond it only required properties and minItems elements appear, so
	// recursion ends.
	fullDepth = 3
	// hardDepth and maxInstance stop schemas whose required properties
	// recurse forever or fan out: past them every value is null.
	hardDepth   = 16
	maxInstance = 1 << 20
)

// epoch is where generated date-times start (plus up to a year).
var epoch = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)

// fallbackWords stand in for a prompt without letters or digits.
var fallbackWords = []string{"synthetic", "sample", "value"}

// generator writes one JSON instance of a schema. Everything it draws comes
// from rng, seeded from the prompt, so one prompt always gives one instance.
type generator struct {
	rng    *rand.Rand
	pcg    rand.PCG // rng's source, kept in the generator: one allocation fewer
	prompt string
	words  []string // lowercased prompt words, split lazily
	clock  time.Time
	buf    []byte
	first  [256]byte // buf's first backing array

	// violate, when set, is the node the schema fault breaks: its first
	// occurrence is written as violation instead of a valid value.
	violate   *node
	violation []byte
	// backwards makes date-times decrease in document order (the
	// business_rule fault); the draws stay those of the valid instance.
	backwards bool
}

func newGenerator(seed uint64, prompt string) *generator {
	g := &generator{prompt: prompt}
	g.pcg.Seed(seed, seed^0x9e3779b97f4a7c15)
	g.rng = rand.New(&g.pcg)
	g.buf = g.first[:0]
	g.clock = epoch.Add(time.Duration(g.rng.IntN(365*24*60)) * time.Minute)
	return g
}

// instance generates an instance of s; with violate it breaks the rule the
// schema fault targets.
func instance(s *compiled, seed uint64, prompt string, violate bool) []byte {
	g := newGenerator(seed, prompt)
	if violate {
		g.violate, g.violation = s.violation, s.violationValue
	}
	g.value(s.root, 0)
	return g.buf
}

// backwardsInstance generates the valid instance of s but with date-times
// decreasing in document order, so an ordering rule between them (such as
// resolved_at >= detected_at) breaks while every field rule holds.
func backwardsInstance(s *compiled, seed uint64, prompt string) []byte {
	g := newGenerator(seed, prompt)
	g.backwards = true
	g.value(s.root, 0)
	return g.buf
}

func (g *generator) value(n *node, depth int) {
	n = deref(n)
	if depth > hardDepth || len(g.buf) > maxInstance {
		g.buf = append(g.buf, "null"...)
		return
	}
	if n == g.violate {
		// Generate the valid value anyway and replace it, so the rest of the
		// instance draws the same numbers and matches the valid one.
		g.violate = nil
		mark := len(g.buf)
		g.value(n, depth)
		g.buf = append(g.buf[:mark], g.violation...)
		return
	}
	switch {
	case n.konst != nil:
		g.buf = append(g.buf, n.konst...)
		return
	case len(n.enum) > 0:
		g.buf = append(g.buf, n.enum[g.rng.IntN(len(n.enum))]...)
		return
	case len(n.alternatives) > 0 && n.kind == kindAny:
		g.value(g.alternative(n, depth), depth+1)
		return
	}
	switch n.kind {
	case kindObject:
		g.object(n, depth)
	case kindArray:
		g.array(n, depth)
	case kindString:
		g.buf = orderedjson.AppendString(g.buf, g.str(n))
	case kindInteger, kindNumber:
		g.number(n)
	case kindBoolean:
		g.buf = strconv.AppendBool(g.buf, g.rng.IntN(2) == 1)
	default:
		g.buf = append(g.buf, "null"...)
	}
}

// alternative chooses an anyOf/oneOf branch; deep down it prefers a null
// branch, which ends recursion through nullable references.
func (g *generator) alternative(n *node, depth int) *node {
	var real []*node
	for _, a := range n.alternatives {
		if d := deref(a); d.kind == kindNull && len(d.enum) == 0 && d.konst == nil {
			if depth > fullDepth {
				return a
			}
			continue
		}
		real = append(real, a)
	}
	if len(real) == 0 {
		return n.alternatives[0]
	}
	return real[g.rng.IntN(len(real))]
}

func (g *generator) object(n *node, depth int) {
	// Choose the branch of each oneOf; the losers' properties are left out.
	var winners, losers []string
	for _, group := range n.oneOf {
		w := g.rng.IntN(len(group))
		for i, branch := range group {
			if i == w {
				winners = append(winners, branch...)
			} else {
				losers = append(losers, branch...)
			}
		}
	}
	g.buf = append(g.buf, '{')
	count := 0
	for _, p := range n.props {
		won := p.oneOf && contains(winners, p.name)
		if p.oneOf && !won && contains(losers, p.name) {
			continue
		}
		if depth > fullDepth && !p.required && !won {
			continue
		}
		if count > 0 {
			g.buf = append(g.buf, ',')
		}
		count++
		g.buf = append(g.buf, p.key...)
		if s := deref(p.schema); depth > fullDepth && s.nullable && (s.kind == kindObject || s.kind == kindArray) {
			g.buf = append(g.buf, "null"...)
			continue
		}
		g.value(p.schema, depth+1)
	}
	if n.additional != nil {
		g.entries(n, depth, count)
	}
	g.buf = append(g.buf, '}')
}

// entries writes a map's entries after the count properties already written.
func (g *generator) entries(n *node, depth, count int) {
	lo, hi := n.minProps, n.minProps
	if depth <= fullDepth {
		lo = max(lo, 1)
		hi = lo + 1
	}
	if n.maxProps >= 0 {
		lo, hi = min(lo, n.maxProps), min(hi, n.maxProps)
	}
	want := lo + g.rng.IntN(hi-lo+1)
	var seen []string
	for i := 0; i < want && len(g.buf) <= maxInstance; i++ {
		key, ok := "", false
		for range 8 {
			key = g.key(n)
			if !contains(seen, key) && !n.hasProp(key) {
				ok = true
				break
			}
		}
		if !ok {
			continue
		}
		seen = append(seen, key)
		if count > 0 {
			g.buf = append(g.buf, ',')
		}
		count++
		g.buf = orderedjson.AppendString(g.buf, key)
		g.buf = append(g.buf, ':')
		g.value(n.additional, depth+1)
	}
}

func (g *generator) key(n *node) string {
	if n.keys == nil {
		w := g.wordList()
		return w[g.rng.IntN(len(w))]
	}
	k := deref(n.keys)
	if len(k.enum) > 0 {
		s, err := strconv.Unquote(string(k.enum[g.rng.IntN(len(k.enum))]))
		if err == nil {
			return s
		}
	}
	return g.str(k)
}

func (n *node) hasProp(name string) bool {
	for _, p := range n.props {
		if p.name == name {
			return true
		}
	}
	return false
}

func (g *generator) array(n *node, depth int) {
	lo, hi := n.minItems, n.minItems
	if depth <= fullDepth {
		lo = max(lo, 1)
		hi = lo + 1
	}
	if n.maxItems >= 0 {
		lo, hi = min(lo, n.maxItems), min(hi, n.maxItems)
	}
	want := lo + g.rng.IntN(hi-lo+1)
	g.buf = append(g.buf, '[')
	if n.items == nil {
		n = &node{items: &node{kind: kindString, maxLength: -1}}
	}
	var starts []int // element offsets, for uniqueItems
	for i := 0; i < want && len(g.buf) <= maxInstance; i++ {
		mark := len(g.buf)
		for try := 0; ; try++ {
			if i > 0 {
				g.buf = append(g.buf, ',')
			}
			start := len(g.buf)
			g.value(n.items, depth+1)
			if !n.unique || !g.repeats(starts, start) {
				starts = append(starts, start)
				break
			}
			g.buf = g.buf[:mark]
			if try == 8 { // no new distinct element: stop early
				g.buf = append(g.buf, ']')
				return
			}
		}
	}
	g.buf = append(g.buf, ']')
}

// repeats reports whether the element written from start equals an earlier
// one.
func (g *generator) repeats(starts []int, start int) bool {
	last := g.buf[start:]
	for i, s := range starts {
		end := start - 1 // the ',' before the last element
		if i+1 < len(starts) {
			end = starts[i+1] - 1
		}
		if bytes.Equal(g.buf[s:end], last) {
			return true
		}
	}
	return false
}

func (g *generator) str(n *node) string {
	if n.format != "" {
		if s, ok := g.formatted(n.format); ok {
			return s
		}
	}
	switch {
	case n.int64String:
		return strconv.Itoa(1 + g.rng.IntN(100))
	case n.pattern != nil:
		return n.pattern.generate(g.rng, n.minLength, n.maxLength)
	case n.base64:
		b := make([]byte, 3*(1+g.rng.IntN(4)))
		for i := range b {
			b[i] = byte(g.rng.Uint32())
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	return g.text(n.minLength, n.maxLength)
}

// text builds a short phrase from the prompt's words, fitted to the length
// bounds (in runes, as JSON Schema and protovalidate count them).
func (g *generator) text(minLen, maxLen int) string {
	w := g.wordList()
	k := 2 + g.rng.IntN(4)
	start := g.rng.IntN(len(w))
	var b strings.Builder
	for i, runes := 0, 0; i < k || runes < minLen; i++ {
		if i > 0 {
			b.WriteByte(' ')
			runes++
		}
		word := w[(start+i)%len(w)]
		b.WriteString(word)
		runes += utf8.RuneCountInString(word)
	}
	s := b.String()
	if maxLen >= 0 && utf8.RuneCountInString(s) > maxLen {
		s = truncateRunes(s, maxLen)
		s = strings.TrimRight(s, " ")
	}
	if n := utf8.RuneCountInString(s); n < minLen {
		s += strings.Repeat("x", minLen-n)
	}
	return s
}

func truncateRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

func (g *generator) wordList() []string {
	if g.words == nil {
		g.words = strings.FieldsFunc(strings.ToLower(g.prompt), func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r)
		})
		if len(g.words) == 0 {
			g.words = fallbackWords
		}
	}
	return g.words
}

// tick advances the clock, so date-times increase in document order (and
// rules such as resolved_at >= detected_at hold); backwards, it moves the
// clock back by the same step instead.
func (g *generator) tick() time.Time {
	step := time.Duration(1+g.rng.IntN(180))*time.Minute + time.Duration(g.rng.IntN(60))*time.Second
	if g.backwards {
		step = -step
	}
	g.clock = g.clock.Add(step)
	return g.clock
}

var (
	names   = []string{"alex", "sam", "kim", "jordan", "riley", "casey"}
	domains = []string{"example.com", "example.org", "example.net"}
)

func (g *generator) formatted(format string) (string, bool) {
	pick := func(from []string) string { return from[g.rng.IntN(len(from))] }
	switch format {
	case "date-time":
		return g.tick().Format(time.RFC3339), true
	case "date":
		return g.tick().Format(time.DateOnly), true
	case "time":
		return g.tick().Format(time.TimeOnly) + "Z", true
	case "email":
		return pick(names) + "." + pick(names) + "@" + pick(domains), true
	case "uri", "uri-reference", "iri":
		return "https://" + pick(domains) + "/" + pick(names), true
	case "uuid":
		var b [16]byte
		for i := range b {
			b[i] = byte(g.rng.Uint32())
		}
		b[6] = b[6]&0x0f | 0x40 // version 4
		b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), true
	case "hostname":
		return pick(names) + "-" + strconv.Itoa(1+g.rng.IntN(99)) + "." + pick(domains), true
	case "ipv4":
		return fmt.Sprintf("10.%d.%d.%d", g.rng.IntN(256), g.rng.IntN(256), 1+g.rng.IntN(254)), true
	case "ipv6":
		return fmt.Sprintf("2001:db8::%x", 1+g.rng.IntN(0xffff)), true
	case "duration":
		return strconv.Itoa(1+g.rng.IntN(3600)) + "s", true
	}
	return "", false
}

// number picks inside the bounds, preferring 1..100 so counts are positive.
func (g *generator) number(n *node) {
	lo, hi := math.Inf(-1), math.Inf(1)
	if n.minimum.set {
		lo = n.minimum.v
	}
	if n.maximum.set {
		hi = n.maximum.v
	}
	integer := n.kind == kindInteger
	if b := n.exclusiveMinimum; b.set && b.v >= lo {
		if integer {
			lo = math.Floor(b.v) + 1
		} else {
			lo = math.Nextafter(b.v, math.Inf(1))
		}
	}
	if b := n.exclusiveMaximum; b.set && b.v <= hi {
		if integer {
			hi = math.Ceil(b.v) - 1
		} else {
			hi = math.Nextafter(b.v, math.Inf(-1))
		}
	}
	if integer {
		lo, hi = math.Ceil(lo), math.Floor(hi)
	}
	a, b := max(lo, 1), min(hi, 100)
	switch {
	case a > b && hi < 1:
		a, b = max(lo, hi-99), hi
	case a > b:
		a, b = lo, min(hi, lo+99)
	}
	if a > b { // empty range: the schema contradicts itself
		a, b = lo, lo
	}
	if integer {
		v := a + float64(g.rng.Int64N(int64(b-a)+1))
		g.buf = strconv.AppendFloat(g.buf, v, 'f', 0, 64)
		return
	}
	v := math.Round((a+g.rng.Float64()*(b-a))*100) / 100
	if v < a || v > b {
		v = a + (b-a)/2
	}
	g.buf = strconv.AppendFloat(g.buf, v, 'f', -1, 64)
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
