#!/usr/bin/env bash
# Generates guardgen's Python gRPC code into out/ (gitignored; never committed).
#
# Debian packages: protobuf-compiler (protoc), protobuf-compiler-grpc
# (grpc_python_plugin), python3-grpcio, python3-protobuf, and
# golang-github-gogo-googleapis-dev for google/rpc/{status,error_details}.proto.
# Debian's python3-grpc-tools cannot be used: it bundles protoc 3.5.1, which
# rejects proto3 `optional` (guardgen/v1/generation.proto); protoc 3.21 and
# grpc_python_plugin 1.51 match Debian's python3-protobuf and python3-grpcio.
#
# protoc 3.21's descriptor.proto predates the `debug_redact` field option
# (guardgen/examples/v1/examples.proto uses it), so a newer descriptor.proto is
# put first on the include path: by default the one in the
# github.com/bufbuild/protocompile module that go.mod pins (WKT_DIR overrides).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=${OUT:-$here/out}
googleapis=${GOOGLEAPIS_DIR:-/usr/share/gocode/src/github.com/gogo/googleapis}
plugin=${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}

if [ -z "${WKT_DIR:-}" ]; then
  dir=$(cd "$repo" && go mod download -json github.com/bufbuild/protocompile |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  WKT_DIR=$dir/wellknownimports
fi
for f in "$WKT_DIR/google/protobuf/descriptor.proto" "$googleapis/google/rpc/status.proto" "$plugin"; do
  [ -e "$f" ] || { echo "generate.sh: missing $f" >&2; exit 1; }
done

rm -rf "$out"
mkdir -p "$out"
cd "$repo/proto"
protoc \
  -I "$WKT_DIR" -I . -I "$googleapis" \
  --python_out="$out" \
  --grpc_python_out="$out" \
  --plugin=protoc-gen-grpc_python="$plugin" \
  buf/validate/validate.proto \
  guardgen/v1/failure.proto guardgen/v1/generation.proto guardgen/v1/targets.proto \
  guardgen/v1/options.proto guardgen/v1/verdict.proto \
  guardgen/provider/v1/provider.proto \
  guardgen/examples/v1/examples.proto \
  google/rpc/status.proto google/rpc/error_details.proto
echo "generated Python code in $out"
