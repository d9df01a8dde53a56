package schema

import (
	"strconv"
	"strings"
)

// jsonStep is one step of the path from the output's root to the value
// the walk is at. The walker keeps the steps on a stack and writes the
// path out only when a change or an error names it, which most values
// never need.
type jsonStep struct {
	kind  stepKind
	name  string // a field's JSON name, or a key as the output wrote it
	index int
}

// stepKind is how a step is written.
type stepKind uint8

const (
	stepField  stepKind = iota // .name: a field, by its JSON name
	stepMember                 // .key, or ["key"] when key is no identifier
	stepMapKey                 // ["key"]
	stepIndex                  // [i]
)

// enter steps into a value; exit steps back out.
func (w *walker) enter(s jsonStep) { w.path = append(w.path, s) }
func (w *walker) exit()            { w.path = w.path[:len(w.path)-1] }

// enterField, enterMember, enterMapKey and enterItem step into a field by
// its JSON name, an object member by its key as written, a map entry and
// an array element.
func (w *walker) enterField(name string) { w.enter(jsonStep{kind: stepField, name: name}) }
func (w *walker) enterMember(key string) { w.enter(jsonStep{kind: stepMember, name: key}) }
func (w *walker) enterMapKey(key string) { w.enter(jsonStep{kind: stepMapKey, name: key}) }
func (w *walker) enterItem(i int)        { w.enter(jsonStep{kind: stepIndex, index: i}) }

// at writes out the path the walk is at: services[0].region,
// labels["team"], ["extra key"]; empty at the root.
func (w *walker) at() string {
	if len(w.path) == 0 {
		return ""
	}
	var b strings.Builder
	for _, s := range w.path {
		switch {
		case s.kind == stepIndex:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
		case s.kind == stepField || s.kind == stepMember && isIdentifier(s.name):
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.name)
		default:
			b.WriteByte('[')
			b.WriteString(quoteKey(s.name))
			b.WriteByte(']')
		}
	}
	return b.String()
}

// expected is the error for a value of the wrong kind where the walk is.
func (w *walker) expected(what string) *DecodeError {
	return &DecodeError{Path: w.at(), Reason: "expected " + what}
}

// failed places err, from a check that knows no path, where the walk is.
func (w *walker) failed(err *DecodeError) *DecodeError {
	if err != nil {
		err.Path = w.at()
	}
	return err
}
