package schema

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// fileResolver is what protodesc needs to link a file: protodesc.Resolver.
type fileResolver interface {
	FindFileByPath(string) (protoreflect.FileDescriptor, error)
	FindDescriptorByName(protoreflect.FullName) (protoreflect.Descriptor, error)
}

// chainFiles looks files and names up in each resolver in turn.
type chainFiles []fileResolver

// FindFileByPath returns the first resolver's file with that path.
func (c chainFiles) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	return first(c, func(r fileResolver) (protoreflect.FileDescriptor, error) { return r.FindFileByPath(path) })
}

// FindDescriptorByName returns the first resolver's descriptor with that name.
func (c chainFiles) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	return first(c, func(r fileResolver) (protoreflect.Descriptor, error) { return r.FindDescriptorByName(name) })
}

// chainTypes looks types up in each resolver in turn.
type chainTypes []typeResolver

// FindMessageByName returns the first resolver's message type with that name.
func (c chainTypes) FindMessageByName(name protoreflect.FullName) (protoreflect.MessageType, error) {
	return first(c, func(r typeResolver) (protoreflect.MessageType, error) { return r.FindMessageByName(name) })
}

// FindMessageByURL returns the first resolver's message type for that type URL.
func (c chainTypes) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	return first(c, func(r typeResolver) (protoreflect.MessageType, error) { return r.FindMessageByURL(url) })
}

// FindExtensionByName returns the first resolver's extension with that name.
func (c chainTypes) FindExtensionByName(name protoreflect.FullName) (protoreflect.ExtensionType, error) {
	return first(c, func(r typeResolver) (protoreflect.ExtensionType, error) { return r.FindExtensionByName(name) })
}

// FindExtensionByNumber returns the first resolver's extension of message
// with that field number.
func (c chainTypes) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	return first(c, func(r typeResolver) (protoreflect.ExtensionType, error) {
		return r.FindExtensionByNumber(message, field)
	})
}

// first returns the first answer of the resolvers, asked in turn, that is
// not an error; protoregistry.NotFound when none has one.
func first[R, T any](resolvers []R, find func(R) (T, error)) (T, error) {
	for _, r := range resolvers {
		if v, err := find(r); err == nil {
			return v, nil
		}
	}
	var zero T
	return zero, protoregistry.NotFound
}

// setLimits bound what a descriptor set may hold.
type setLimits struct {
	bytes    int
	files    int
	messages int
	depth    int
}

// checkShape enforces the file count, message count and nesting limits
// before anything is linked.
func checkShape(set *descriptorpb.FileDescriptorSet, lim setLimits) *ResolveError {
	if n := len(set.GetFile()); n > lim.files {
		return invalidSet(fmt.Sprintf("%d files exceed the limit of %d", n, lim.files))
	}
	count := 0
	var walk func(msgs []*descriptorpb.DescriptorProto, depth int) *ResolveError
	walk = func(msgs []*descriptorpb.DescriptorProto, depth int) *ResolveError {
		for _, m := range msgs {
			if depth > lim.depth {
				return invalidSet(fmt.Sprintf("message types nest more than %d deep", lim.depth))
			}
			if count++; count > lim.messages {
				return invalidSet(fmt.Sprintf("more than %d message types", lim.messages))
			}
			if err := walk(m.GetNestedType(), depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	for _, f := range set.GetFile() {
		if err := walk(f.GetMessageType(), 1); err != nil {
			return err
		}
	}
	return nil
}

// linkSet links the files of set that known does not already have, in
// dependency order, each against the new files and then the known ones. A
// new file may not declare a name that known resolves. It returns the new
// files in a registry of their own.
func linkSet(set *descriptorpb.FileDescriptorSet, known fileResolver) (*protoregistry.Files, *ResolveError) {
	byPath := make(map[string]*descriptorpb.FileDescriptorProto, len(set.GetFile()))
	for i, f := range set.GetFile() {
		path := f.GetName()
		if path == "" {
			return nil, invalidSet(fmt.Sprintf("file #%d has no name", i+1))
		}
		if _, dup := byPath[path]; dup {
			return nil, invalidSet(fmt.Sprintf("file %q appears twice", path))
		}
		byPath[path] = f
	}

	local := new(protoregistry.Files)
	linker := chainFiles{local, known}
	const (
		linking = 1
		linked  = 2
	)
	state := make(map[string]int, len(byPath))
	var link func(path, importer string) *ResolveError
	link = func(path, importer string) *ResolveError {
		switch state[path] {
		case linked:
			return nil
		case linking:
			return invalidSet(fmt.Sprintf("file %q imports itself through %q", path, importer))
		}
		if _, err := known.FindFileByPath(path); err == nil {
			state[path] = linked // the server's own copy wins
			return nil
		}
		fdp, ok := byPath[path]
		if !ok {
			return invalidSet(fmt.Sprintf("file %q imports %q, which is neither in the set nor known", importer, path))
		}
		state[path] = linking
		for _, dep := range fdp.GetDependency() {
			if err := link(dep, path); err != nil {
				return err
			}
		}
		if name, ok := redefinition(fdp, known); ok {
			return invalidSet(fmt.Sprintf("file %q redefines known type %q", path, name))
		}
		fd, err := protodesc.NewFile(fdp, linker)
		if err != nil {
			return invalidSet(fmt.Sprintf("file %q: %v", path, trimProtoPrefix(err)))
		}
		if err := local.RegisterFile(fd); err != nil {
			return invalidSet(fmt.Sprintf("file %q: %v", path, trimProtoPrefix(err)))
		}
		state[path] = linked
		return nil
	}
	for _, f := range set.GetFile() {
		if err := link(f.GetName(), ""); err != nil {
			return nil, err
		}
	}
	return local, nil
}

// redefinition returns the first name declared by fdp that known already
// resolves.
func redefinition(fdp *descriptorpb.FileDescriptorProto, known fileResolver) (protoreflect.FullName, bool) {
	pkg := protoreflect.FullName(fdp.GetPackage())
	var found protoreflect.FullName
	has := func(name protoreflect.FullName) bool {
		if _, err := known.FindDescriptorByName(name); err == nil {
			found = name
			return true
		}
		return false
	}
	enums := func(scope protoreflect.FullName, es []*descriptorpb.EnumDescriptorProto) bool {
		for _, e := range es {
			if has(scope.Append(protoreflect.Name(e.GetName()))) {
				return true
			}
			for _, v := range e.GetValue() {
				if has(scope.Append(protoreflect.Name(v.GetName()))) {
					return true
				}
			}
		}
		return false
	}
	fields := func(scope protoreflect.FullName, fs []*descriptorpb.FieldDescriptorProto) bool {
		for _, f := range fs {
			if has(scope.Append(protoreflect.Name(f.GetName()))) {
				return true
			}
		}
		return false
	}
	var messages func(scope protoreflect.FullName, ms []*descriptorpb.DescriptorProto) bool
	messages = func(scope protoreflect.FullName, ms []*descriptorpb.DescriptorProto) bool {
		for _, m := range ms {
			name := scope.Append(protoreflect.Name(m.GetName()))
			if has(name) || enums(name, m.GetEnumType()) || fields(name, m.GetExtension()) ||
				messages(name, m.GetNestedType()) {
				return true
			}
		}
		return false
	}
	if messages(pkg, fdp.GetMessageType()) || enums(pkg, fdp.GetEnumType()) || fields(pkg, fdp.GetExtension()) {
		return found, true
	}
	for _, s := range fdp.GetService() {
		if has(pkg.Append(protoreflect.Name(s.GetName()))) {
			return found, true
		}
	}
	return "", false
}

// declares reports whether any file of set declares a message named name.
func declares(set *descriptorpb.FileDescriptorSet, name protoreflect.FullName) bool {
	var walk func(scope protoreflect.FullName, ms []*descriptorpb.DescriptorProto) bool
	walk = func(scope protoreflect.FullName, ms []*descriptorpb.DescriptorProto) bool {
		for _, m := range ms {
			full := scope.Append(protoreflect.Name(m.GetName()))
			if full == name || (strings.HasPrefix(string(name), string(full)+".") && walk(full, m.GetNestedType())) {
				return true
			}
		}
		return false
	}
	for _, f := range set.GetFile() {
		if walk(protoreflect.FullName(f.GetPackage()), f.GetMessageType()) {
			return true
		}
	}
	return false
}

// imports reports whether a file of set imports the file at path.
func imports(set *descriptorpb.FileDescriptorSet, path string) bool {
	for _, f := range set.GetFile() {
		if slices.Contains(f.GetDependency(), path) {
			return true
		}
	}
	return false
}

// trimProtoPrefix drops the "proto: " that protobuf-go puts before errors.
func trimProtoPrefix(err error) string {
	return strings.TrimPrefix(err.Error(), "proto: ")
}

// messages lists the message types declared in a file, nested ones
// included and map entries left out, in declaration order.
func messages(fd protoreflect.FileDescriptor) []protoreflect.MessageDescriptor {
	var out []protoreflect.MessageDescriptor
	var walk func(ms protoreflect.MessageDescriptors)
	walk = func(ms protoreflect.MessageDescriptors) {
		for i := range ms.Len() {
			md := ms.Get(i)
			if md.IsMapEntry() {
				continue
			}
			out = append(out, md)
			walk(md.Messages())
		}
	}
	walk(fd.Messages())
	return out
}
