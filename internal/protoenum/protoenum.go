// Package protoenum names proto enum values the way guardgen shows them:
// without the prefix buf lint requires of every value (the enum's name in
// upper snake case), so FAILURE_REASON_RATE_LIMITED is RATE_LIMITED in an
// ErrorInfo reason, a metric label or a log line, and rate_limited in a
// configuration file. The names come from the enum descriptors, so no Go
// copy of an enum exists to fall out of step with the proto.
package protoenum

import (
	"strconv"
	"strings"
	"unicode"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Name is e's value name without its enum's prefix, e.g. RATE_LIMITED for
// FAILURE_REASON_RATE_LIMITED; a number the enum does not declare is
// written in decimal, as protoimpl's String does.
func Name(e protoreflect.Enum) string {
	ed := e.Descriptor()
	v := ed.Values().ByNumber(e.Number())
	if v == nil {
		return strconv.Itoa(int(e.Number()))
	}
	return strings.TrimPrefix(string(v.Name()), Prefix(ed))
}

// Lower is Name in lower case, e.g. rate_limited: how configuration files
// and metric labels that are not enum names spell values.
func Lower(e protoreflect.Enum) string { return strings.ToLower(Name(e)) }

// Lookup returns the number of ed's value whose Name or Lower is name;
// ok is false when there is none. The full value name, prefix included,
// is not accepted: files spell values one way.
func Lookup(ed protoreflect.EnumDescriptor, name string) (n protoreflect.EnumNumber, ok bool) {
	if name == "" || (name != strings.ToLower(name) && name != strings.ToUpper(name)) {
		return 0, false
	}
	v := ed.Values().ByName(protoreflect.Name(Prefix(ed) + strings.ToUpper(name)))
	if v == nil {
		return 0, false
	}
	return v.Number(), true
}

// Prefix is the prefix buf lint (ENUM_VALUE_PREFIX) requires of ed's
// values: its name in upper snake case and an underscore, e.g.
// FAILURE_REASON_ for FailureReason.
func Prefix(ed protoreflect.EnumDescriptor) string {
	name := string(ed.Name())
	var b strings.Builder
	for i, r := range name {
		if i > 0 && unicode.IsUpper(r) {
			prev := rune(name[i-1])
			nextLower := i+1 < len(name) && unicode.IsLower(rune(name[i+1]))
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || unicode.IsUpper(prev) && nextLower {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	b.WriteByte('_')
	return b.String()
}
