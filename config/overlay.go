package config

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// overlay applies src to dst by the package's merge rules and returns dst:
// set scalars replace, set lists and maps replace wholesale, set messages
// merge field by field. Unlike proto.Merge, a list in src never appends to
// dst's. Values are copied, so dst shares no memory with src.
func overlay[M proto.Message](dst, src M) M {
	overlayMessage(dst.ProtoReflect(), src.ProtoReflect())
	return dst
}

func overlayMessage(dst, src protoreflect.Message) {
	src.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			dst.Clear(fd)
			to, from := dst.Mutable(fd).List(), v.List()
			for i := range from.Len() {
				to.Append(clone(fd, from.Get(i)))
			}
		case fd.IsMap():
			dst.Clear(fd)
			to := dst.Mutable(fd).Map()
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				to.Set(k, clone(fd.MapValue(), mv))
				return true
			})
		case fd.Message() != nil:
			overlayMessage(dst.Mutable(fd).Message(), v.Message())
		default:
			dst.Set(fd, v)
		}
		return true
	})
}

// clone deep-copies a list element or map value of field fd.
func clone(fd protoreflect.FieldDescriptor, v protoreflect.Value) protoreflect.Value {
	if fd.Message() == nil {
		return v // scalars and strings are values (Config has no bytes fields)
	}
	return protoreflect.ValueOfMessage(proto.Clone(v.Message().Interface()).ProtoReflect())
}
