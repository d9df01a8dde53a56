package partial

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/guardgen/guardgen/extract"
)

// Message returns the partial message: the complete values, and, with
// Options.Strings, the string field being written as far as it is, whose
// path is then growing. Strings of fields limited to a list of values,
// and strings inside list elements and map entries (which come whole),
// are not shown growing. The message is the builder's own, valid until
// the next Write; with a growing string it is a copy.
func (b *Builder) Message() (msg proto.Message, growing string) {
	if !b.opts.Strings || b.err != nil {
		return b.msg, ""
	}
	path, text, ok := b.scan.Growing()
	if !ok {
		return b.msg, ""
	}
	u, ok := b.resolve(extract.Value{Path: path})
	if !ok || !growable(b, u) {
		return b.msg, ""
	}
	value, err := b.decode(u, closeString(text))
	if err != nil {
		return b.msg, ""
	}
	msg = proto.CloneOf(b.msg)
	proto.Merge(msg, value)
	return msg, u.json
}

// Growing returns the path of the string field being written, when
// Options.Strings shows it growing; "" otherwise.
func (b *Builder) Growing() string {
	if !b.opts.Strings || b.err != nil {
		return ""
	}
	path, _, ok := b.scan.Growing()
	if !ok {
		return ""
	}
	if u, ok := b.resolve(extract.Value{Path: path}); ok && growable(b, u) {
		return u.json
	}
	return ""
}

// growable reports whether u is a string field that may be shown growing.
func growable(b *Builder, u unit) bool {
	for _, h := range u.hops {
		if h.kind != hopField {
			return false
		}
	}
	fd := u.fd
	return fd != nil && !u.container && !fd.IsList() && !fd.IsMap() && fd.Kind() == protoreflect.StringKind && !b.t.Limited(fd)
}

// closeString closes a string cut off at the end of text, which starts
// with its opening quote: an escape cut in two is left out, and the
// opening quote closes it.
func closeString(text string) string {
	end := len(text)
	// \uXXXX cut short.
	for k := 1; k <= 5 && k < end; k++ {
		if text[end-k] == 'u' && end-k-1 >= 1 && text[end-k-1] == '\\' && backslashes(text[:end-k]) {
			if k < 5 {
				end = end - k - 1
			}
			break
		}
	}
	// A lone backslash.
	if backslashes(text[:end]) {
		end--
	}
	return text[:end] + text[:1]
}

// backslashes reports whether s ends in an odd run of backslashes: an
// escape that has begun.
func backslashes(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 1 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}
