#!/usr/bin/env bash
# Generates guardgen's Python gRPC code into out/ (gitignored; never
# committed) with Debian's packages only, no Go toolchain:
# protobuf-compiler (protoc 3.21), libprotobuf-dev (the well-known types'
# .proto files, in /usr/include where protoc finds them), protobuf-compiler-grpc
# (grpc_python_plugin 1.51), python3-grpcio and python3-protobuf.
#
# google/api/{http,annotations}.proto come from proto/ (tools/depprotos);
# the few other protos guardgen's files import beyond their own are vendored in
# ../protos: google/rpc/{status,error_details}.proto (googleapis) and a
# descriptor.proto newer than protoc 3.21's, which predates the
# `debug_redact` field option that guardgen/examples/v1/examples.proto uses
# (it goes first on the include path). Debian's python3-grpc-tools cannot be
# used: it bundles protoc 3.5.1, which rejects proto3 `optional`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=${OUT:-$here/out}
vendored=$here/../protos
plugin=${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}
for f in "$plugin" "$(command -v protoc)"; do
  [ -x "$f" ] || { echo "generate.sh: missing $f (Debian: protobuf-compiler, protobuf-compiler-grpc)" >&2; exit 1; }
done

rm -rf "$out"
mkdir -p "$out"
cd "$repo/proto"
protoc \
  -I "$vendored" -I . \
  --python_out="$out" \
  --grpc_python_out="$out" \
  --plugin=protoc-gen-grpc_python="$plugin" \
  buf/validate/validate.proto \
  guardgen/v1/failure.proto guardgen/v1/generation.proto guardgen/v1/targets.proto \
  guardgen/v1/options.proto guardgen/v1/verdict.proto \
  guardgen/provider/v1/provider.proto \
  guardgen/examples/v1/examples.proto \
  google/rpc/status.proto google/rpc/error_details.proto \
  google/api/http.proto google/api/annotations.proto
echo "generated Python code in $out"
