#!/usr/bin/env bash
# Runs every fuzz target of the given packages (default ./shared/...) for
# FUZZTIME each. go test -fuzz takes one target in one package per run, so
# the targets are listed with go test -list and run one after the other.
#
#   FUZZTIME=5s  scripts/fuzz.sh                  # make test
#   FUZZTIME=10m scripts/fuzz.sh ./shared/verify  # a long run of one package
#
# A failing input is written by go test under <package>/testdata/fuzz/<Target>/;
# commit it once fixed, and it is a regression test run by every go test.
# FUZZFLAGS adds flags to each go test run (for example -parallel=4).
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME="${FUZZTIME:-5s}"
if [ "$#" -eq 0 ]; then set -- ./shared/...; fi

failed=()
total=0
for pkg in $(go list "$@"); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    total=$((total + 1))
    echo "--- fuzz $target ($pkg, $FUZZTIME)"
    start=$(date +%s)
    # shellcheck disable=SC2086 # FUZZFLAGS is a list of flags
    if go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" ${FUZZFLAGS:-}; then
      status=0
    else
      status=$?
    fi
    echo "    $target: $(( $(date +%s) - start ))s, exit $status"
    if [ "$status" -ne 0 ]; then
      failed+=("$target ($pkg)")
    fi
  done
done

if [ "$total" -eq 0 ]; then
  echo "fuzz: no fuzz targets in $*" >&2
  exit 1
fi
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: ${#failed[@]} of $total targets failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: $total targets, $FUZZTIME each: no failure"
