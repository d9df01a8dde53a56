package schema

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"

	"buf.build/go/protovalidate"
	"cel.dev/cel-go/cel"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	examplesv1 "github.com/guardgen/guardgen/gen/guardgen/examples/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// Options configure a [Resolver]. The bounds on request-defined types
// that are settings of guardgen's configuration (MaxDescriptorSetBytes,
// CacheSize, CacheBytes, MaxCELCost, MaxRegexInstructions, MaxValueBytes)
// are required unless RequestTypesOff: config.Default holds their
// defaults. The structural bounds (MaxFiles, MaxMessages, MaxDepth) are
// not settings and have built-in values.
type Options struct {
	// CompiledIn are files whose messages are targets, typically generated
	// code's File_*_proto variables. Empty means the guardgen.examples.v1
	// file. The well-known JSON types (Struct, Value, ListValue and the
	// wrappers) are targets in any case.
	CompiledIn []protoreflect.FileDescriptor
	// DescriptorFiles are binary FileDescriptorSet files (as `buf build -o
	// x.binpb` writes them) whose new messages become targets at start.
	DescriptorFiles []string
	// MaxDescriptorSetBytes bounds the encoded size of a request's set.
	MaxDescriptorSetBytes int
	// MaxFiles bounds the files in a request's set; 0 means 64.
	MaxFiles int
	// MaxMessages bounds the message types in a request's set, nested and
	// map entry types included; 0 means 2048.
	MaxMessages int
	// MaxDepth bounds how deep message type declarations nest in a
	// request's set; 0 means 32.
	MaxDepth int
	// CacheSize bounds the request-defined targets kept.
	CacheSize int
	// CacheBytes bounds the estimated memory of the request-defined
	// targets kept. A set whose target alone would weigh more is refused.
	CacheBytes int64

	// RequestTypesOff refuses every request that carries a descriptor set:
	// only compiled-in and start-file targets are served.
	RequestTypesOff bool
	// RequestCELOff refuses request-defined types that carry CEL rules
	// (message or field cel, or predefined rules); their standard rules
	// still apply.
	RequestCELOff bool
	// MaxCELCost bounds the summed static cost estimate (cel-go cost units)
	// of a request-defined set's CEL rules.
	MaxCELCost uint64
	// MaxRegexInstructions bounds the compiled program of each regular
	// expression in a request-defined set's rules.
	MaxRegexInstructions int
	// MaxValueBytes is the largest string, bytes, list or map that a rule
	// can be evaluated on, the size every value is assumed to have when a
	// CEL rule's cost is estimated. Set it to the model
	// output limit: validated messages are decoded from at most that many
	// bytes.
	MaxValueBytes int
}

// Resolver finds targets by name: compiled-in ones, ones loaded from
// descriptor files at start, and ones defined by a request's descriptor
// set. It is safe for concurrent use.
type Resolver struct {
	limits setLimits
	rules  ruleLimits
	off    bool               // request-defined types are refused
	celEnv *cel.Env           // protovalidate's CEL environment, for checking rules
	known  map[string]*Target // compiled-in and start-file targets
	names  []string           // sorted keys of known
	files  chainFiles         // start files, then the global registry
	types  typeResolver       // start-file types, then the global registry
	cache  *targetCache

	mu         sync.Mutex
	fileHashes map[protoreflect.FileDescriptor][sha256.Size]byte // known files only
}

// NewResolver loads the descriptor files, builds a target for every message
// of the compiled-in and loaded files, derives their JSON Schemas and builds
// one validator for all of them, so that the first request pays no
// compile cost. The steps (limits, files, candidates, validator, targets)
// run once at start, in that order, and share their intermediate maps.
func NewResolver(opts Options) (*Resolver, error) {
	if err := opts.checkRequestBounds(); err != nil {
		return nil, err
	}
	r := &Resolver{
		limits: setLimits{
			bytes:    opts.MaxDescriptorSetBytes,
			files:    orDefault(opts.MaxFiles, 64),
			messages: orDefault(opts.MaxMessages, 2048),
			depth:    orDefault(opts.MaxDepth, 32),
		},
		rules: ruleLimits{
			celOff:     opts.RequestCELOff,
			maxCost:    opts.MaxCELCost,
			maxInsts:   opts.MaxRegexInstructions,
			valueBytes: uint64(opts.MaxValueBytes),
		},
		off:        opts.RequestTypesOff,
		known:      make(map[string]*Target),
		cache:      newTargetCache(max(opts.CacheSize, 1), opts.CacheBytes),
		fileHashes: make(map[protoreflect.FileDescriptor][sha256.Size]byte),
	}
	env, err := newRuleEnv()
	if err != nil {
		return nil, fmt.Errorf("schema: CEL environment: %w", err)
	}
	r.celEnv = env
	compiled := opts.CompiledIn
	if len(compiled) == 0 {
		compiled = []protoreflect.FileDescriptor{examplesv1.File_guardgen_examples_v1_examples_proto}
	}

	type candidate struct {
		md     protoreflect.MessageDescriptor
		source guardgenv1.TargetSource
	}
	var candidates []candidate
	for _, fd := range wellKnownTargets(compiled) {
		for _, md := range messages(fd) {
			candidates = append(candidates, candidate{md, guardgenv1.TargetSource_TARGET_SOURCE_COMPILED_IN})
		}
	}

	startFiles := new(protoregistry.Files)
	r.files = chainFiles{startFiles, protoregistry.GlobalFiles}
	for _, path := range opts.DescriptorFiles {
		local, err := loadDescriptorFile(path, r.files)
		if err != nil {
			return nil, err
		}
		var regErr error
		local.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
			if regErr = startFiles.RegisterFile(fd); regErr != nil {
				return false
			}
			for _, md := range messages(fd) {
				candidates = append(candidates, candidate{md, guardgenv1.TargetSource_TARGET_SOURCE_DESCRIPTOR_FILE})
			}
			return true
		})
		if regErr != nil {
			return nil, fmt.Errorf("schema: descriptor file %q: %w", path, regErr)
		}
	}
	r.types = chainTypes{dynamicpb.NewTypes(startFiles), protoregistry.GlobalTypes}

	descs := make([]protoreflect.MessageDescriptor, len(candidates))
	for i, c := range candidates {
		descs[i] = c.md
	}
	v, err := protovalidate.New(
		protovalidate.WithMessageDescriptors(descs...),
		protovalidate.WithExtensionTypeResolver(r.types),
	)
	if err != nil {
		return nil, fmt.Errorf("schema: validator: %w", err)
	}
	for _, c := range candidates {
		name := string(c.md.FullName())
		if _, dup := r.known[name]; dup {
			return nil, fmt.Errorf("schema: target %q is defined twice", name)
		}
		t, err := newTarget(c.md, messageType(c.md), c.source, v, r.types, r.hashFile)
		if err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		r.known[name] = t
		r.names = append(r.names, name)
	}
	slices.SortFunc(r.names, byNameWellKnownLast)
	return r, nil
}

// loadDescriptorFile reads a binary FileDescriptorSet and links its files
// that known does not have yet.
func loadDescriptorFile(path string, known fileResolver) (*protoregistry.Files, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	set := new(descriptorpb.FileDescriptorSet)
	if err := proto.Unmarshal(data, set); err != nil {
		return nil, fmt.Errorf("schema: descriptor file %q: %w", path, err)
	}
	local, rerr := linkSet(set, known)
	if rerr != nil {
		return nil, fmt.Errorf("schema: descriptor file %q: %w", path, rerr)
	}
	return local, nil
}

// messageType returns the generated type of md when the binary has one,
// and a dynamic type otherwise.
func messageType(md protoreflect.MessageDescriptor) protoreflect.MessageType {
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName()); err == nil && mt.Descriptor() == md {
		return mt
	}
	return dynamicpb.NewMessageType(md)
}

// List returns the compiled-in and start-file targets sorted by full name,
// the well-known types last.
func (r *Resolver) List() []*guardgenv1.Target {
	out := make([]*guardgenv1.Target, len(r.names))
	for i, name := range r.names {
		out[i] = r.known[name].Info()
	}
	return out
}

// Resolve is [Resolver.ResolveContext] without a deadline.
func (r *Resolver) Resolve(name string, set *descriptorpb.FileDescriptorSet) (*Target, error) {
	return r.ResolveContext(context.Background(), name, set)
}

// ResolveContext returns the target named name. Without a descriptor set
// (nil or empty) name must be a compiled-in or start-file target; this is a
// map lookup. With a set, the set must define name and pass the bounds on
// request-defined types (size, shape, CEL cost, regular expression size);
// the target built from it is cached under a hash of the set's
// deterministic encoding, so the same set resolves to the same *Target.
// Building a request-defined target never evaluates a rule. When ctx ends
// while the target is being built, ResolveContext returns ctx's error.
// Other errors are *[ResolveError] values wrapping [ErrUnknownTarget] or
// [ErrInvalidDescriptorSet].
func (r *Resolver) ResolveContext(ctx context.Context, name string, set *descriptorpb.FileDescriptorSet) (*Target, error) {
	if len(set.GetFile()) == 0 {
		if t, ok := r.known[name]; ok {
			return t, nil
		}
		return nil, &ResolveError{
			Field:  FieldTargetType,
			Reason: fmt.Sprintf("unknown type %q; known: %s", name, joinNames(r.names, 20)),
			Err:    ErrUnknownTarget,
		}
	}
	if r.off {
		return nil, invalidSet("request-defined types are turned off on this server; use a type it knows (TargetService.ListTargets)")
	}
	if size := proto.Size(set); size > r.limits.bytes {
		return nil, invalidSet(fmt.Sprintf("%s exceeds the %s limit", formatSize(size), formatSize(r.limits.bytes)))
	}
	if err := checkShape(set, r.limits); err != nil {
		return nil, err
	}
	data, err := proto.MarshalOptions{Deterministic: true, UseCachedSize: true}.Marshal(set) // sizes cached by proto.Size above
	if err != nil {
		return nil, invalidSet(fmt.Sprintf("cannot encode: %v", trimProtoPrefix(err)))
	}
	sum := sha256.Sum256(data)
	key := string(sum[:]) + name
	t, err := r.cache.get(ctx, key, func() (*Target, error) { return r.build(ctx, name, set) })
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return nil, err
		}
		var rerr *ResolveError
		if errors.As(err, &rerr) {
			return nil, rerr
		}
		return nil, invalidSet(err.Error())
	}
	return t, nil
}

// build links a request's set, checks its rules and makes a target with
// its own validator. The validator is compiled, never run: the rules of a
// request-defined type first see a message when they validate an answer.
// ctx is the first caller's: the build stops between rules when it ends.
func (r *Resolver) build(ctx context.Context, name string, set *descriptorpb.FileDescriptorSet) (*Target, error) {
	local, rerr := linkSet(set, r.files)
	if rerr != nil {
		return nil, rerr
	}
	d, err := local.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		if t, ok := r.known[name]; ok && (declares(set, protoreflect.FullName(name)) || imports(set, t.Desc.ParentFile().Path())) {
			return t, nil // the set repeats or imports a file the server knows
		}
		return nil, invalidSet(fmt.Sprintf("does not define %q", name))
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok || md.IsMapEntry() {
		return nil, invalidSet(fmt.Sprintf("%q is not a message type", name))
	}
	types := chainTypes{dynamicpb.NewTypes(local), r.types}
	check := ruleCheck{ctx: ctx, base: r.celEnv, types: types, lim: r.rules, est: sizeBound{r.rules.valueBytes},
		guard: newCELGuard(r.rules.maxCost, local)}
	if rerr := check.check(local); rerr != nil {
		return nil, rerr
	}
	v, err := protovalidate.New(
		protovalidate.WithMessageDescriptors(md),
		protovalidate.WithExtensionTypeResolver(types),
	)
	if err != nil {
		return nil, fmt.Errorf("validator: %w", err)
	}
	t, err := newRequestTarget(md, v, types, r.hashFile)
	if err != nil {
		return nil, invalidSet(err.Error())
	}
	if !check.guard.empty() {
		t.guard = check.guard
	}
	t.weight = weigh(proto.Size(set), len(t.JSONSchema), check.stats)
	if t.weight > r.cache.maxBytes {
		return nil, invalidSet(fmt.Sprintf("its type would take about %s of memory, more than the type cache's %s",
			formatSize(int(t.weight)), formatSize(int(r.cache.maxBytes))))
	}
	return t, nil
}

// hashFile returns the SHA-256 of a file's deterministic descriptor
// encoding, memoized for files the server knows.
func (r *Resolver) hashFile(fd protoreflect.FileDescriptor) [sha256.Size]byte {
	isKnown := false
	if known, err := r.files.FindFileByPath(fd.Path()); err == nil && known == fd {
		isKnown = true
		r.mu.Lock()
		sum, ok := r.fileHashes[fd]
		r.mu.Unlock()
		if ok {
			return sum
		}
	}
	data, _ := proto.MarshalOptions{Deterministic: true}.Marshal(protodesc.ToFileDescriptorProto(fd))
	sum := sha256.Sum256(data)
	if isKnown {
		r.mu.Lock()
		r.fileHashes[fd] = sum
		r.mu.Unlock()
	}
	return sum
}

// checkRequestBounds refuses a resolver that serves request-defined types
// without every bound on them.
func (opts Options) checkRequestBounds() error {
	if opts.RequestTypesOff {
		return nil
	}
	for _, b := range []struct {
		name string
		set  bool
	}{
		{"MaxDescriptorSetBytes", opts.MaxDescriptorSetBytes > 0},
		{"CacheSize", opts.CacheSize > 0},
		{"CacheBytes", opts.CacheBytes > 0},
		{"MaxCELCost", opts.MaxCELCost > 0},
		{"MaxRegexInstructions", opts.MaxRegexInstructions > 0},
		{"MaxValueBytes", opts.MaxValueBytes > 0},
	} {
		if !b.set {
			return fmt.Errorf("schema: %s must be positive while request-defined types are on", b.name)
		}
	}
	return nil
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// formatSize writes a byte count the way limits are usually stated.
func formatSize(n int) string {
	const kib, mib = 1 << 10, 1 << 20
	switch {
	case n >= mib && n%mib == 0:
		return fmt.Sprintf("%d MiB", n/mib)
	case n >= mib:
		return fmt.Sprintf("%.1f MiB", float64(n)/mib)
	case n >= kib && n%kib == 0:
		return fmt.Sprintf("%d KiB", n/kib)
	case n >= kib:
		return fmt.Sprintf("%.1f KiB", float64(n)/kib)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}
