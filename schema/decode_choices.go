package schema

import (
	"slices"
	"strings"
	"unicode"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// choices are the values a field allows when they form a list: an enum's
// values (those its rules admit), or the strings of an "in" rule. An
// answer that is not one of them is matched to one in two ways, each only
// when exactly one value fits:
//
//   - written another way: in another case or with spaces around it
//     ("Billing " for billing);
//   - inside a longer answer, as whole words: "Billing — the customer was
//     charged twice" for billing, "High: customers cannot pay" for
//     SEVERITY_HIGH. An answer naming two allowed values is left alone.
type choices struct {
	values []string // the allowed values: enum value names, or the strings
	// folded maps a value in lower case to its index, or -1 when two
	// values share it.
	folded map[string]int
	// phrases maps an allowed value's words (lower case, see splitWords) to its
	// index, or -1 when two values share them; maxWords is the longest.
	phrases  map[string]int
	maxWords int
}

// maxChoiceText bounds the answers searched for an allowed value: a
// sentence, not a document.
const maxChoiceText = 256

// newChoices returns the choices of values of fd, or nil when they are
// not limited to a list.
func newChoices(fd protoreflect.FieldDescriptor, fr *validatepb.FieldRules) *choices {
	switch {
	case fd.Kind() == protoreflect.EnumKind && fd.Enum().FullName() != "google.protobuf.NullValue":
		return enumChoices(fd.Enum(), fr.GetEnum())
	case fd.Kind() == protoreflect.StringKind && len(fr.GetString().GetIn()) > 0:
		c := &choices{values: fr.GetString().GetIn()}
		for i, v := range c.values {
			c.add(v, v, i)
		}
		return c
	}
	return nil
}

// enumChoices lists the values of ed that the rules admit, other than the
// zero value; each matches by its name without the type prefix.
func enumChoices(ed protoreflect.EnumDescriptor, er *validatepb.EnumRules) *choices {
	c := &choices{}
	values := ed.Values()
	common := commonPrefix(values)
	var numbers []protoreflect.EnumNumber
	for i := range values.Len() {
		v := values.Get(i)
		n := int32(v.Number())
		if n == 0 || slices.Contains(numbers, v.Number()) ||
			(er.HasConst() && er.GetConst() != n) ||
			(len(er.GetIn()) > 0 && !slices.Contains(er.GetIn(), n)) ||
			slices.Contains(er.GetNotIn(), n) {
			continue
		}
		numbers = append(numbers, v.Number())
		name := string(v.Name())
		short := trimTypePrefix(name, string(ed.Name()))
		if short == "" && len(name) > len(common) {
			short = name[len(common):]
		}
		if short == "" {
			short = name
		}
		c.values = append(c.values, name)
		c.add(short, name, len(c.values)-1)
	}
	if len(c.values) == 0 {
		return nil
	}
	return c
}

// add indexes the value at index i under the text that names it.
func (c *choices) add(text, value string, i int) {
	if c.folded == nil {
		c.folded, c.phrases = map[string]int{}, map[string]int{}
	}
	put := func(m map[string]int, k string) {
		if j, ok := m[k]; ok && j != i {
			m[k] = -1
		} else {
			m[k] = i
		}
	}
	put(c.folded, strings.ToLower(value))
	w := splitWords(text)
	if len(w) == 0 {
		return
	}
	put(c.phrases, strings.Join(w, " "))
	c.maxWords = max(c.maxWords, len(w))
}

// allows reports whether s is an allowed value as it is.
func (c *choices) allows(s string) bool {
	return slices.Contains(c.values, s)
}

// spelled returns the one allowed value s is written as, give or take
// case and surrounding spaces.
func (c *choices) spelled(s string) (string, bool) {
	if c == nil {
		return "", false
	}
	i, ok := c.folded[strings.ToLower(strings.TrimSpace(s))]
	if !ok || i < 0 {
		return "", false
	}
	return c.values[i], true
}

// within returns the one allowed value whose words appear, as whole
// words, in s; false when none or several do, or s is too long to search,
// or s holds JSON punctuation: a piece of broken JSON is not an answer.
// A value found only inside another one's words ("high" in "very high")
// does not count.
func (c *choices) within(s string) (string, bool) {
	if c == nil || len(s) > maxChoiceText || c.maxWords == 0 || strings.ContainsAny(s, `{}[]"`) {
		return "", false
	}
	w := splitWords(s)
	type span struct{ from, to, value int }
	var found []span
	for i := range w {
		for n := 1; n <= c.maxWords && i+n <= len(w); n++ {
			if j, ok := c.phrases[strings.Join(w[i:i+n], " ")]; ok {
				found = append(found, span{i, i + n, j})
			}
		}
	}
	value := -1
	for _, f := range found {
		inside := slices.ContainsFunc(found, func(g span) bool {
			return g != f && g.from <= f.from && f.to <= g.to
		})
		switch {
		case inside || f.value == value:
		case f.value < 0 || value >= 0:
			return "", false
		default:
			value = f.value
		}
	}
	if value < 0 {
		return "", false
	}
	return c.values[value], true
}

// splitWords splits s into lower-case words of letters and digits: "Very-High"
// and "very_high" are both [very high].
func splitWords(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}
