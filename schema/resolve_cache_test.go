package schema

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/guardgen/guardgen/soak/hostile"
)

// wideSet is a set of 200 message types of 8 string fields each, about
// 28 KB encoded, in package pkg; pkg.M0 is a target.
func wideSet(pkg string) *descriptorpb.FileDescriptorSet {
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING
	var msgs []*descriptorpb.DescriptorProto
	for m := range 200 {
		var fs []*descriptorpb.FieldDescriptorProto
		for f := range 8 {
			fs = append(fs, &descriptorpb.FieldDescriptorProto{Name: proto.String(fmt.Sprintf("field_%d", f)), Number: proto.Int32(int32(f + 1)),
				Type: &str, Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()})
		}
		msgs = append(msgs, &descriptorpb.DescriptorProto{Name: proto.String(fmt.Sprintf("M%d", m)), Field: fs})
	}
	return &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{{
		Name: proto.String(pkg + ".proto"), Package: proto.String(pkg), Syntax: proto.String("proto3"), MessageType: msgs,
	}}}
}

// TestFootprintCoversHeap measures the heap that request-defined targets
// keep and checks the cache's estimate against it: never below, so the
// byte bound holds, and within 3×, so the cache is not needlessly small.
func TestFootprintCoversHeap(t *testing.T) {
	kinds := []struct {
		name string
		make func(i int) hostile.Type
	}{
		{"standard rules", func(i int) hostile.Type { return hostile.PatternType(fmt.Sprintf("s%d", i), "^a$") }},
		{"CEL rule", func(i int) hostile.Type {
			return hostile.CELType(fmt.Sprintf("c%d", i), "this.text.size() < 10 && this.tags.all(x, x.size() < 5)")
		}},
		{"8,000-instruction pattern", func(i int) hostile.Type {
			return hostile.PatternType(fmt.Sprintf("p%d", i), strings.Repeat("[a-y]{1,999}", 4))
		}},
		{"wide set", func(i int) hostile.Type {
			pkg := fmt.Sprintf("w%d", i)
			return hostile.Type{Name: pkg + ".M0", Set: wideSet(pkg)}
		}},
	}
	for _, k := range kinds {
		r := newResolver(t, Options{})
		const n = 20
		keep := make([]*Target, 0, n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range n {
			ht := k.make(i)
			keep = append(keep, resolve(t, r, ht.Name, ht.Set))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		measured := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
		estimate := keep[0].footprint()
		t.Logf("%s: measured %d bytes per target, estimated %d", k.name, measured, estimate)
		if estimate < measured || estimate > 3*measured {
			t.Errorf("%s: estimate %d bytes per target, measured %d: want within [1×, 3×]", k.name, estimate, measured)
		}
		runtime.KeepAlive(keep)
	}
}

// TestCacheBoundedByBytes fills the type cache with distinct heavy sets
// and checks that it keeps no more estimated bytes than allowed, and that
// the heap it keeps follows.
func TestCacheBoundedByBytes(t *testing.T) {
	const budget = 8 << 20
	r := newResolver(t, Options{CacheBytes: budget})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range 40 {
		pkg := fmt.Sprintf("w%d", i)
		resolve(t, r, pkg+".M0", wideSet(pkg))
	}
	n, bytes := r.cache.stats()
	if bytes > budget || n >= 40 {
		t.Errorf("cache holds %d targets, %d estimated bytes; want at most %d bytes", n, bytes, budget)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > budget {
		t.Errorf("heap grew by %d bytes with a %d-byte type cache", grew, budget)
	}
}
