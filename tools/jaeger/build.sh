#!/usr/bin/env bash
# Builds the Jaeger v2 binary pinned by tools/jaeger/go.mod, once per
# machine: it is cached, keyed by version, next to the Go build cache
# ($(go env GOCACHE)/../mcpbroker-tools/jaeger-VERSION) and only rebuilt
# when missing. Prints the binary's path. A cold build takes 15 to 25
# minutes on a 2-core machine, a warm one (Go build cache filled) about
# 20 seconds. testsuite/jaegerproc looks for the binary at the same path
# (or at $MCPBROKER_JAEGER).
set -euo pipefail
GO=${GO:-go}
here=$(cd "$(dirname "$0")" && pwd)
version=$(awk '$1 == "github.com/jaegertracing/jaeger" { print $2 }' "$here/go.mod")
if [ -z "$version" ]; then
	echo "tools/jaeger/build.sh: no github.com/jaegertracing/jaeger requirement in go.mod" >&2
	exit 1
fi
dir="$(dirname "$("$GO" env GOCACHE)")/mcpbroker-tools"
bin="$dir/jaeger-$version"
if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi
mkdir -p "$dir"
start=$(date +%s)
echo "tools/jaeger/build.sh: building jaeger $version (cold: up to ~25 min)" >&2
(cd "$here" && "$GO" build -o "$bin.tmp.$$" github.com/jaegertracing/jaeger/cmd/jaeger)
mv "$bin.tmp.$$" "$bin"
echo "tools/jaeger/build.sh: built in $(( $(date +%s) - start ))s" >&2
echo "$bin"
