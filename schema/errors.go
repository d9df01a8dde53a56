package schema

import (
	"errors"
	"strconv"
	"strings"
)

// ErrUnknownTarget means the target type is neither known to the server nor
// defined by the request.
var ErrUnknownTarget = errors.New("unknown target type")

// ErrInvalidDescriptorSet means a request's descriptor set cannot be used:
// it is too large, malformed, incomplete, does not define the target, or
// redefines a type the server already knows.
var ErrInvalidDescriptorSet = errors.New("invalid descriptor set")

// Fields named by [ResolveError.Field]: the request fields of
// guardgen.v1.GenerateRequest that the problem is about.
const (
	FieldTargetType    = "target_type"
	FieldDescriptorSet = "descriptor_set"
)

// ResolveError says why a target could not be resolved. Err is
// [ErrUnknownTarget] or [ErrInvalidDescriptorSet]; Field names the request
// field at fault and Reason says what is wrong with it, in words safe to
// return to the caller.
type ResolveError struct {
	Field  string
	Reason string
	Err    error
	// Element and Rule name the type or field and the rule of a
	// request-defined type that was refused, when one was.
	Element, Rule string
}

// Error returns "field: reason".
func (e *ResolveError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap returns the sentinel error.
func (e *ResolveError) Unwrap() error { return e.Err }

func invalidSet(reason string) *ResolveError {
	return &ResolveError{Field: FieldDescriptorSet, Reason: reason, Err: ErrInvalidDescriptorSet}
}

// DecodeError says why model output does not decode into the target type.
// Path is the JSON path of the offending value ("services[0].region"),
// empty for the document as a whole; Reason never quotes the output itself.
type DecodeError struct {
	Path   string
	Reason string
}

// Error returns "path: reason", or the reason alone at the root.
func (e *DecodeError) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + ": " + e.Reason
}

// joinNames lists names for an error message, at most limit of them.
func joinNames(names []string, limit int) string {
	if len(names) <= limit {
		return strings.Join(names, ", ")
	}
	var b strings.Builder
	b.WriteString(strings.Join(names[:limit], ", "))
	b.WriteString(", and ")
	b.WriteString(strconv.Itoa(len(names) - limit))
	b.WriteString(" more")
	return b.String()
}
