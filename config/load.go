package config

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"buf.build/go/protoyaml"
	"go.yaml.in/yaml/v3"

	configv1 "github.com/guardgen/guardgen/gen/guardgen/config/v1"
)

// Error is one problem in a configuration file.
type Error struct {
	// File is the name the file was read under.
	File string
	// Line and Column locate the problem, from 1; 0 when unknown.
	Line, Column int
	// Reason says what is wrong. For a broken rule it is the field path, the
	// rule's message and its id.
	Reason string
}

// Error formats e as file:line:column: reason, the form editors and CI
// annotations recognise.
func (e *Error) Error() string {
	switch {
	case e.Line == 0:
		return e.File + ": " + e.Reason
	case e.Column == 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Reason)
}

// Load reads the configuration file at path and returns it overlaid on
// [Default]. Errors are [*Error]s (joined when there are several) naming
// path, line and column.
func Load(path string) (*configv1.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes YAML data read from the file name, overlays it on
// [Default] and validates the result. Unknown keys, values of the wrong type
// and broken rules fail with [*Error]s, joined when there are several.
func Parse(name string, data []byte) (*configv1.Config, error) {
	// Decode first and check the rules only on a file that decodes: a value
	// protoyaml cannot decode is stored as zero, and a key it does not know
	// is dropped, and the rules would report those again, less clearly.
	file := &configv1.Config{}
	err := protoyaml.UnmarshalOptions{Path: name}.Unmarshal(data, file)
	if dups := duplicateKeys(name, data); err != nil || len(dups) > 0 {
		return nil, sorted(append(dups, describe(data, positioned(name, err))...))
	}
	v := &fileValidator{}
	file.Reset()
	if err := (protoyaml.UnmarshalOptions{Path: name, Validator: v}).Unmarshal(data, file); err != nil {
		return nil, sorted(positioned(name, err))
	}
	if v.merged == nil {
		// protoyaml skips the validator for a document without content
		// (empty, or comments only): the defaults apply, checked here.
		v.merged = overlay(Default(), file)
		if err := Validate(v.merged); err != nil {
			return nil, &Error{File: name, Reason: err.Error()}
		}
	}
	return v.merged, nil
}

// positioned turns protoyaml's and yaml's errors into *Errors.
//
// protoyaml v0.8.0 reports each problem as an unexported error type whose
// Error() is "path:line:column cause", then the offending source line and a
// caret, and whose Unwrap() is the cause; several are joined with
// errors.Join. positioned keeps the position and the cause and drops the
// source line on purpose: it may hold a secret pasted into the wrong key.
// TestErrorsCarryPositions pins this against the pinned protoyaml version.
func positioned(name string, err error) []*Error {
	var errs []*Error
	for _, e := range leaves(err) {
		errs = append(errs, position(name, e)...)
	}
	return errs
}

// sorted orders errs by position and joins them.
func sorted(errs []*Error) error {
	slices.SortStableFunc(errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}

// duplicateKeys reports keys set twice in one mapping. yaml.Node decoding,
// which protoyaml uses, keeps both, and protoyaml lets the last scalar win
// and appends lists, so a repeated key would silently change a value.
func duplicateKeys(name string, data []byte) []*Error {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return nil // protoyaml reports syntax errors
	}
	var out []*Error
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			first := map[string]*yaml.Node{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if prev, ok := first[k.Value]; ok && k.Kind == yaml.ScalarNode {
					out = append(out, &Error{File: name, Line: k.Line, Column: k.Column,
						Reason: fmt.Sprintf("key %q is already set at line %d", k.Value, prev.Line)})
				} else if k.Kind == yaml.ScalarNode {
					first[k.Value] = k
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	return out
}

// leaves flattens errors.Join trees.
func leaves(err error) []error {
	if err == nil {
		return nil
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range joined.Unwrap() {
		out = append(out, leaves(e)...)
	}
	return out
}

func position(name string, err error) []*Error {
	if cause := errors.Unwrap(err); cause != nil {
		head, _, _ := strings.Cut(err.Error(), "\n")
		if pos, ok := strings.CutSuffix(head, " "+cause.Error()); ok {
			if pos, ok := strings.CutPrefix(pos, name+":"); ok {
				l, c, _ := strings.Cut(pos, ":")
				line, lerr := strconv.Atoi(l)
				col, cerr := strconv.Atoi(c)
				if lerr == nil && cerr == nil {
					return []*Error{{File: name, Line: line, Column: col, Reason: cause.Error()}}
				}
			}
		}
	}
	// A YAML syntax error, e.g. "yaml: line 3: did not find expected key",
	// kept as yaml words it: yaml.v3 counts lines from 0 for parser errors
	// ("did not find expected ...") and from 1 for scanner errors, so its
	// number is not a position this package can vouch for.
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return []*Error{{File: name, Reason: msg}}
}
