#!/usr/bin/env bash
# dex-build.sh prints the path of a Dex binary for the integration tests,
# building it first only when the cached one is missing.
#
# Dex is built from the wrapper module tools/dex (see tools/dex/doc.go) with
# CGO_ENABLED=0, from the Go module proxy alone. The binary is cached outside
# the repository, under a key made of tools/dex/go.mod, tools/dex/go.sum, the
# Go version, GOOS/GOARCH and this script's build flags, so a warm call costs
# one `go env` and a sha256sum.
#
# Environment:
#   DEX_BIN            use this prebuilt Dex binary; nothing is built.
#   SUPABRIDGE_DEX_CACHE
#                      cache directory (default: beside GOCACHE, that is
#                      "$(dirname "$(go env GOCACHE)")/supabridge-dex").
#
# Stdout carries exactly one line, the binary's path; build output goes to
# stderr. Concurrent callers (parallel test packages) share one build
# through a lock file.
set -euo pipefail

if [[ -n "${DEX_BIN:-}" ]]; then
	if [[ ! -f "$DEX_BIN" || ! -x "$DEX_BIN" ]]; then
		echo "dex-build: DEX_BIN=$DEX_BIN is not an executable file" >&2
		exit 1
	fi
	printf '%s\n' "$DEX_BIN"
	exit 0
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mod="$root/tools/dex"
pkg="github.com/dexidp/dex/cmd/dex"

if ! command -v go >/dev/null 2>&1; then
	echo "dex-build: go is not on PATH" >&2
	exit 1
fi

# Read GOCACHE, the Go version and target in one go env call.
mapfile -t goenv < <(go env GOCACHE GOVERSION GOOS GOARCH)
gocache="${goenv[0]}" goversion="${goenv[1]}" goos="${goenv[2]}" goarch="${goenv[3]}"

cache="${SUPABRIDGE_DEX_CACHE:-}"
if [[ -z "$cache" ]]; then
	if [[ -n "$gocache" && "$gocache" != off ]]; then
		cache="$(dirname "$gocache")/supabridge-dex"
	else
		cache="${XDG_CACHE_HOME:-$HOME/.cache}/supabridge-dex"
	fi
fi

# The Dex module version, used as the binary's reported version.
version="$(awk '$1 == "github.com/dexidp/dex" { print $2; exit } $1 == "require" && $2 == "github.com/dexidp/dex" { print $3; exit }' "$mod/go.mod")"
if [[ -z "$version" ]]; then
	echo "dex-build: $mod/go.mod does not require github.com/dexidp/dex" >&2
	exit 1
fi
ldflags="-s -w -X main.version=$version"
flags="CGO_ENABLED=0 -trimpath -ldflags=$ldflags"

key="$(
	{
		cat "$mod/go.mod" "$mod/go.sum"
		printf '%s\n' "$goversion" "$goos/$goarch" "$flags"
	} | sha256sum | cut -c1-16
)"
dir="$cache/$key"
bin="$dir/dex"

if [[ -x "$bin" ]]; then
	printf '%s\n' "$bin"
	exit 0
fi

mkdir -p "$dir"
# One build at a time: a second caller waits, then finds the binary.
exec 9>"$cache/.lock"
if command -v flock >/dev/null 2>&1; then
	flock 9
fi
if [[ -x "$bin" ]]; then
	printf '%s\n' "$bin"
	exit 0
fi

echo "dex-build: building Dex $version into $bin (first time on this machine: a few minutes)" >&2
start=$SECONDS
tmp="$(mktemp "$dir/dex.tmp.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
# GOWORK=off: a go.work above the repository must not pull tools/dex into it.
# -mod=readonly: go.sum must already hold every module; the build fails
# rather than editing tools/dex. -buildvcs=false: the repository's git state
# is not Dex's.
if ! (cd "$mod" && GOWORK=off CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" \
	go build -trimpath -ldflags="$ldflags" -o "$tmp" "$pkg") >&2; then
	echo "dex-build: building $pkg from $mod failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))" >&2
	exit 1
fi
chmod 0755 "$tmp"
mv -f "$tmp" "$bin"
trap - EXIT
echo "dex-build: built Dex in $((SECONDS - start))s" >&2
printf '%s\n' "$bin"
