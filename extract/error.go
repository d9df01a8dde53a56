package extract

import (
	"errors"
	"strconv"
)

// Sentinel errors. Every error returned by [JSON] and [Candidates] is an
// [*Error] wrapping exactly one of them, so callers branch with errors.Is.
var (
	// ErrNoJSON means the text holds no JSON object at all. Top-level
	// arrays do not count: the targets are messages.
	ErrNoJSON = errors.New("extract: no JSON object")
	// ErrMalformed means an object-looking region is not valid JSON even
	// after the bounded repairs.
	ErrMalformed = errors.New("extract: malformed JSON")
	// ErrTruncated means the text ends inside an unterminated object,
	// array or string: the model's output was cut off. It wins over any
	// complete object found earlier in the same text.
	ErrTruncated = errors.New("extract: truncated JSON")
	// ErrTooLarge means the text is longer than [Options.MaxBytes], or
	// holds more values than [Options.MaxValues].
	ErrTooLarge = errors.New("extract: text too large")
)

// Error is the error returned by [JSON] and [Candidates]. It carries where
// in the input the problem is and a short fixed reason; it never quotes the
// input, which may hold user data.
type Error struct {
	// Err is one of the sentinel errors.
	Err error
	// Offset is the byte offset in the input the problem is reported at:
	// the offending byte for ErrMalformed, the start of the innermost
	// unterminated object, array or string for ErrTruncated.
	Offset int
	// Reason says what is wrong, e.g. "expected ':' after object key".
	Reason string
}

// Error returns the sentinel's text, the offset and the reason.
func (e *Error) Error() string {
	return e.Err.Error() + " at byte " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

// Unwrap returns the sentinel error.
func (e *Error) Unwrap() error { return e.Err }

// clone returns a copy of e on the heap, so that parsers, which hold their
// error by value, stay on the stack.
func (e Error) clone() *Error { return &e }
