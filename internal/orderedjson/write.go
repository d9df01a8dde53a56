package orderedjson

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Append appends the compact JSON encoding of v, which must be one of the
// types the package documents or a json.RawMessage, written as it is (the
// caller vouches that it is valid JSON). Any other type is a bug in the
// caller, which builds its values from those types alone, and panics.
func Append(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, v)
	case string:
		return AppendString(b, v)
	case json.Number:
		return append(b, v...)
	case json.RawMessage:
		return append(b, v...)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case []string:
		return appendArray(b, v, AppendString)
	case []any:
		return appendArray(b, v, Append)
	case *Object:
		b = append(b, '{')
		for i, k := range v.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, k)
			b = append(b, ':')
			b = Append(b, v.vals[k])
		}
		return append(b, '}')
	}
	panic(fmt.Sprintf("orderedjson: cannot write %T as JSON", v))
}

// AppendString appends s as a JSON string, escaped as encoding/json does
// with HTML escaping off: <, > and & are left alone, which keeps patterns
// readable; invalid UTF-8 becomes \ufffd, so the result is always valid
// for a proto string field.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = AppendEscaped(b, s)
	return append(b, '"')
}

// AppendEscaped appends the contents of s as they go between the quotes
// of a JSON string (see AppendString), so that a string can be written in
// parts. Runs of characters that need no escape are copied at once.
func AppendEscaped(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			// Valid JSON, but not valid JavaScript source before ES2019.
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(b, s[start:]...)
}

// appendArray appends list as a JSON array, each element by appendElem.
func appendArray[T any](b []byte, list []T, appendElem func([]byte, T) []byte) []byte {
	b = append(b, '[')
	for i, e := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendElem(b, e)
	}
	return append(b, ']')
}
