package schema

import (
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/guardgen/guardgen/internal/wellknown"
)

// wellKnownFiles declare the well-known types that are targets in every
// resolver: google.protobuf.Struct, Value and ListValue, and the wrapper
// types, so that a caller can ask for any JSON shape, a top-level array or
// scalar included. A request's descriptor set may import them.
var wellKnownFiles = []protoreflect.FileDescriptor{
	structpb.File_google_protobuf_struct_proto,
	wrapperspb.File_google_protobuf_wrappers_proto,
}

// Form is the kind of JSON value a target's answer is at the top level.
type Form uint8

// Forms of answer.
const (
	// FormObject is a JSON object: any message but the ones below.
	FormObject Form = iota
	// FormArray is a JSON array: google.protobuf.ListValue.
	FormArray
	// FormScalar is a string, number or boolean: the wrapper types.
	FormScalar
	// FormAny is any JSON value: google.protobuf.Value.
	FormAny
)

// Form returns the kind of JSON value the target's answer is.
func (t *Target) Form() Form {
	switch name := t.Desc.FullName(); {
	case name == "google.protobuf.ListValue":
		return FormArray
	case name == "google.protobuf.Value":
		return FormAny
	case wellknown.Wrapper(name):
		return FormScalar
	}
	return FormObject
}

// byNameWellKnownLast orders target names by full name, the well-known
// types after the rest: a list of what is known starts with the types a
// caller defined.
func byNameWellKnownLast(a, b string) int {
	if wa, wb := wellknown.JSONForm(protoreflect.FullName(a)), wellknown.JSONForm(protoreflect.FullName(b)); wa != wb {
		if wa {
			return 1
		}
		return -1
	}
	return strings.Compare(a, b)
}

// wellKnownTargets returns the files whose messages are compiled-in
// targets: compiled, and the well-known files it does not hold already.
func wellKnownTargets(compiled []protoreflect.FileDescriptor) []protoreflect.FileDescriptor {
	files := slices.Clone(compiled)
	for _, fd := range wellKnownFiles {
		if !slices.Contains(files, fd) {
			files = append(files, fd)
		}
	}
	return files
}
