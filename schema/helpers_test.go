package schema

import (
	"context"
	"sync"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// compileSet compiles .proto sources at test time and returns the files
// named in order as a descriptor set, sent through the wire format the way
// a gRPC request carries it. Imports that are not in srcs resolve from the
// binary's global registry (buf/validate/validate.proto among them).
func compileSet(tb testing.TB, srcs map[string]string, order ...string) *descriptorpb.FileDescriptorSet {
	tb.Helper()
	set, err := compile(srcs, order...)
	if err != nil {
		tb.Fatal(err)
	}
	return set
}

func compile(srcs map[string]string, order ...string) (*descriptorpb.FileDescriptorSet, error) {
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(protocompile.CompositeResolver{
			&protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(srcs)},
			protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
				fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
				if err != nil {
					return protocompile.SearchResult{}, err
				}
				return protocompile.SearchResult{Desc: fd}, nil
			}),
		}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	files, err := c.Compile(context.Background(), order...)
	if err != nil {
		return nil, err
	}
	set := new(descriptorpb.FileDescriptorSet)
	for _, f := range files {
		set.File = append(set.File, protodesc.ToFileDescriptorProto(f))
	}
	// Through the wire format, as a gRPC request carries it.
	data, err := proto.Marshal(set)
	if err != nil {
		return nil, err
	}
	out := new(descriptorpb.FileDescriptorSet)
	return out, proto.Unmarshal(data, out)
}

// withUnknownOptions re-reads set without knowing any extension, so that
// custom options such as (buf.validate.field) stay unknown fields, as they
// arrive at a server that does not link the validate package.
func withUnknownOptions(tb testing.TB, set *descriptorpb.FileDescriptorSet) *descriptorpb.FileDescriptorSet {
	tb.Helper()
	data, err := proto.Marshal(set)
	if err != nil {
		tb.Fatal(err)
	}
	out := new(descriptorpb.FileDescriptorSet)
	if err := (proto.UnmarshalOptions{Resolver: new(protoregistry.Types)}).Unmarshal(data, out); err != nil {
		tb.Fatal(err)
	}
	return out
}

const orderProto = `syntax = "proto3";

package acme.v1;

import "buf/validate/validate.proto";
import "google/protobuf/timestamp.proto";

// Order is a purchase order.
message Order {
  option (buf.validate.message).cel = {
    id: "order.total_covers_items"
    message: "total_cents must be at least the number of items"
    expression: "this.total_cents >= this.items.size()"
  };

  // id is the order number.
  string id = 1 [(buf.validate.field).string.uuid = true];
  repeated Item items = 2 [(buf.validate.field).repeated.min_items = 1];
  int64 total_cents = 3 [(buf.validate.field).int64.gt = 0];
  google.protobuf.Timestamp placed_at = 4 [(buf.validate.field).required = true];
  Status status = 5 [(buf.validate.field).enum = {defined_only: true, not_in: [0]}];

  // Item is one line of an order.
  message Item {
    string sku = 1 [(buf.validate.field).string.pattern = "^[A-Z]{3}-[0-9]{4}$"];
    uint32 quantity = 2 [(buf.validate.field).uint32 = {gte: 1, lte: 100}];
  }
}

enum Status {
  STATUS_UNSPECIFIED = 0;
  STATUS_OPEN = 1;
  STATUS_SHIPPED = 2;
}
`

var orderSetOnce = sync.OnceValues(func() (*descriptorpb.FileDescriptorSet, error) {
	return compile(map[string]string{"acme/v1/order.proto": orderProto}, "acme/v1/order.proto")
})

// orderSet returns a fresh copy of the acme.v1.Order set.
func orderSet(tb testing.TB) *descriptorpb.FileDescriptorSet {
	tb.Helper()
	set, err := orderSetOnce()
	if err != nil {
		tb.Fatal(err)
	}
	return proto.CloneOf(set)
}

// newResolver is NewResolver with the request-type bounds opts leaves
// zero set to config.Default's.
func newResolver(tb testing.TB, opts Options) *Resolver {
	tb.Helper()
	r, err := NewResolver(withBounds(opts))
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func resolve(tb testing.TB, r *Resolver, name string, set *descriptorpb.FileDescriptorSet) *Target {
	tb.Helper()
	tg, err := r.Resolve(name, set)
	if err != nil {
		tb.Fatal(err)
	}
	return tg
}

// withBounds sets the request-type bounds opts leaves zero to
// config.Default's values (config.proto documents them).
func withBounds(opts Options) Options {
	if opts.MaxDescriptorSetBytes == 0 {
		opts.MaxDescriptorSetBytes = 1 << 20
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = 256
	}
	if opts.CacheBytes == 0 {
		opts.CacheBytes = 64 << 20
	}
	if opts.MaxCELCost == 0 {
		opts.MaxCELCost = 10_000_000
	}
	if opts.MaxRegexInstructions == 0 {
		opts.MaxRegexInstructions = 10_000
	}
	if opts.MaxValueBytes == 0 {
		opts.MaxValueBytes = 1 << 20
	}
	return opts
}
