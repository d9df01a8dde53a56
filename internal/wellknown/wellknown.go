// Package wellknown says which protobuf message types have a JSON form of
// their own: the one place schema, semantic, partial and the fast decoder
// ask, so that they agree.
package wellknown

import "google.golang.org/protobuf/reflect/protoreflect"

// wrappers are the wrapper types: their JSON form is the scalar they wrap.
var wrappers = map[protoreflect.FullName]bool{
	"google.protobuf.DoubleValue": true, "google.protobuf.FloatValue": true,
	"google.protobuf.Int64Value": true, "google.protobuf.UInt64Value": true,
	"google.protobuf.Int32Value": true, "google.protobuf.UInt32Value": true,
	"google.protobuf.BoolValue": true, "google.protobuf.StringValue": true,
	"google.protobuf.BytesValue": true,
}

// JSONForm reports whether protojson reads and writes messages of type
// name in a form of their own rather than as an object of their fields:
// Any, Timestamp, Duration, FieldMask, Struct, Value, ListValue, Empty and
// the wrappers. Other google.protobuf messages (the descriptor types) are
// objects of their fields like any message.
func JSONForm(name protoreflect.FullName) bool {
	switch name {
	case "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.Struct",
		"google.protobuf.Value", "google.protobuf.ListValue", "google.protobuf.FieldMask",
		"google.protobuf.Empty", "google.protobuf.Any":
		return true
	}
	return wrappers[name]
}

// Wrapper reports whether name is a wrapper type (google.protobuf.Int64Value,
// StringValue, ...), whose JSON form is the scalar it wraps.
func Wrapper(name protoreflect.FullName) bool { return wrappers[name] }
