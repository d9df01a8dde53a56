package schema

import (
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/guardgen/guardgen/internal/wellknown"
)

// wellKnown checks n against the JSON form protojson gives a well-known
// type.
func (w *walker) wellKnown(md protoreflect.MessageDescriptor, n *node, redact bool) *DecodeError {
	switch name := md.FullName(); {
	case wellknown.Wrapper(name):
		return w.scalar(md.Fields().ByName("value").Kind(), n, redact)
	case name == "google.protobuf.Timestamp":
		if n.kind != stringNode || !timestampOK(n.text) {
			return w.expected("an RFC 3339 timestamp such as 2024-01-02T15:04:05Z")
		}
	case name == "google.protobuf.Duration":
		if n.kind != stringNode || !durationOK(n.text) {
			return w.expected(`a duration in seconds such as "1.5s"`)
		}
	case name == "google.protobuf.FieldMask":
		if n.kind != stringNode {
			return w.expected("a string of comma-separated field paths")
		}
	case name == "google.protobuf.Struct":
		if n.kind != objectNode {
			return w.expected("an object")
		}
	case name == "google.protobuf.ListValue":
		if n.kind != arrayNode {
			return w.expected("an array")
		}
	case name == "google.protobuf.Any":
		return w.anyValue(n)
	}
	return nil // google.protobuf.Value takes any JSON
}

func (w *walker) anyValue(n *node) *DecodeError {
	if n.kind != objectNode {
		return w.expected("an object")
	}
	var url *node
	for i, key := range n.keys {
		if key == "@type" {
			url = n.vals[i]
		}
	}
	if url == nil || url.kind != stringNode {
		return w.atMember("@type", expected("a type URL string"))
	}
	mt, err := w.types.FindMessageByURL(url.text)
	if err != nil {
		return w.atMember("@type", &DecodeError{Reason: "unknown type URL"})
	}
	md := mt.Descriptor()
	if !wellknown.JSONForm(md.FullName()) || md.FullName() == "google.protobuf.Empty" {
		return w.fields(md, n, true)
	}
	w.enterField("value")
	defer w.exit()
	for i, key := range n.keys {
		if key == "value" {
			return w.message(md, n.vals[i], false)
		}
	}
	return w.expected("a value")
}
