package server

import (
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/guardgen/guardgen/schema"
)

// redacted replaces the value of every field marked debug_redact.
const redacted = `"[REDACTED]"`

// preview returns at most limit runes of output with the string values of
// the target's debug_redact fields masked; "" when limit is 0. It works on
// raw text because a preview is taken precisely when the output did not
// parse.
func preview(output string, target *schema.Target, limit int) string {
	if limit <= 0 {
		return ""
	}
	for _, name := range redactedNames(target.Desc) {
		output = maskStringValues(output, name)
	}
	if cut := truncateRunes(output, limit); len(cut) < len(output) {
		return cut + "…"
	}
	return output
}

// redactedNames lists the JSON and proto names of debug_redact fields in md
// and the messages it holds.
func redactedNames(md protoreflect.MessageDescriptor) []string {
	var names []string
	seen := map[protoreflect.FullName]bool{}
	var walk func(protoreflect.MessageDescriptor)
	walk = func(md protoreflect.MessageDescriptor) {
		if seen[md.FullName()] {
			return
		}
		seen[md.FullName()] = true
		fields := md.Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			if opts, ok := fd.Options().(*descriptorpb.FieldOptions); ok && opts.GetDebugRedact() {
				names = append(names, fd.JSONName())
				if string(fd.Name()) != fd.JSONName() {
					names = append(names, string(fd.Name()))
				}
			}
			if fd.Message() != nil {
				walk(fd.Message())
			}
		}
	}
	walk(md)
	return names
}

// maskStringValues replaces the string value after every "name": in s.
func maskStringValues(s, name string) string {
	key := `"` + name + `"`
	var b strings.Builder
	rest := s
	for {
		i := strings.Index(rest, key)
		if i < 0 {
			break
		}
		j := i + len(key)
		for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t' || rest[j] == '\n' || rest[j] == '\r') {
			j++
		}
		if j >= len(rest) || rest[j] != ':' {
			b.WriteString(rest[:j])
			rest = rest[j:]
			continue
		}
		j++
		for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t' || rest[j] == '\n' || rest[j] == '\r') {
			j++
		}
		if j >= len(rest) || rest[j] != '"' {
			b.WriteString(rest[:j])
			rest = rest[j:]
			continue
		}
		end := j + 1
		for end < len(rest) && rest[end] != '"' {
			if rest[end] == '\\' {
				end++
			}
			end++
		}
		b.WriteString(rest[:j])
		b.WriteString(redacted)
		if end >= len(rest) {
			rest = ""
			break
		}
		rest = rest[end+1:]
	}
	if b.Len() == 0 {
		return s
	}
	b.WriteString(rest)
	return b.String()
}
