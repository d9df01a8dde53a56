#!/usr/bin/env bash
# guardgen load benchmark: baseline grpc-go server, guardgen on the synthetic
# provider, and guardgen on the OpenAI provider against a local
# OpenAI-compatible test server at 0 ms and at 1 s, all on 127.0.0.1.
#
#   bench/run.sh            # default: about 3 minutes
#   bench/run.sh --quick    # CI: under a minute once the binaries are built
#   bench/run.sh --help     # every flag (durations, concurrency, rate, ...)
#   bench/run.sh --compare REV [flags]
#                           # every guardgen run also with REV's guardgen, just
#                           # before, in the same invocation: before/after ratios
#   bench/run.sh --compare REV --rounds 3 [flags]
#                           # three pairs per scenario, alternating which runs
#                           # first, and the median ratios: the figure to quote
#
# Writes bench/results/latest.md and prints it. Environment:
#   GUARDGEN_SRC  directory to build guardgen from (default: this checkout);
#                 e.g. a `git worktree add /tmp/benchwt HEAD` when the working
#                 tree does not build.
#   GUARDGEN_BIN  a prebuilt guardgen binary to measure instead (no build).
#   BENCH_BIN     where binaries go (default: bench/.bin).
set -euo pipefail

GHZ_VERSION=v0.121.0 # newest the Go module proxy serves; builds with Go 1.26

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bin=${BENCH_BIN:-$root/bench/.bin}
src=${GUARDGEN_SRC:-$root}
mkdir -p "$bin"

# --compare REV is this script's own; every other argument goes to the driver.
compare=
args=()
while [ $# -gt 0 ]; do
	case $1 in
	--compare) compare=${2:?--compare needs a revision}; shift 2 ;;
	--compare=*) compare=${1#--compare=}; shift ;;
	*) args+=("$1"); shift ;;
	esac
done

# ghz, pinned; rebuilt only when the version differs.
if ! go version -m "$bin/ghz" 2>/dev/null | grep -q "github.com/bojand/ghz[[:space:]]*$GHZ_VERSION"; then
	echo "bench: installing ghz $GHZ_VERSION (a few minutes the first time)" >&2
	GOBIN=$bin go install "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION"
fi

if [ -n "${GUARDGEN_BIN:-}" ]; then
	guardgen=$GUARDGEN_BIN
	rev="prebuilt $GUARDGEN_BIN"
else
	echo "bench: building guardgen from $src" >&2
	(cd "$src" && go build -o "$bin/guardgen" .)
	guardgen=$bin/guardgen
	rev=$(git -C "$src" describe --always --dirty 2>/dev/null || echo "unknown revision")
	rev="$rev ($src)"
fi
before=()
if [ -n "$compare" ]; then
	# REV's tree, exported (not checked out: the working tree stays as it
	# is), built into its own binary.
	sha=$(git -C "$root" rev-parse --short "$compare^{commit}")
	tree=$(mktemp -d)
	trap 'rm -rf "$tree"' EXIT
	echo "bench: building guardgen $compare ($sha) to compare with" >&2
	git -C "$root" archive "$sha" | tar -x -C "$tree"
	(cd "$tree" && go build -o "$bin/guardgen-before" .)
	before=(--before "$bin/guardgen-before" --before-rev "$compare ($sha)")
fi
echo "bench: building baseline, upstream, driver" >&2
go build -o "$bin/baseline" ./bench/baseline
go build -o "$bin/upstream" ./bench/upstream
go build -o "$bin/driver" ./bench/driver

# 5,000 requests in flight need ~5,000 upstream connections in guardgen and
# in the test server, plus the gRPC ones.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 12000 ]; then
	echo "bench: warning: ulimit -n is $(ulimit -n); the 5,000-in-flight run needs about 12,000" >&2
fi

cmdline="bench/run.sh${compare:+ --compare $compare} ${args[*]}"
[ -n "${GUARDGEN_BIN:-}" ] && cmdline="GUARDGEN_BIN=$GUARDGEN_BIN $cmdline"
[ -n "${GUARDGEN_SRC:-}" ] && cmdline="GUARDGEN_SRC=$GUARDGEN_SRC $cmdline"
"$bin/driver" --bin "$bin" --ghz "$bin/ghz" --ghz-version "$GHZ_VERSION" \
	--guardgen "$guardgen" --guardgen-rev "$rev" --proto proto \
	--out bench/results/latest.md --cmdline "$cmdline" "${before[@]}" "${args[@]}"
