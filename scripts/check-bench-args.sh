#!/usr/bin/env bash
# A benchmark program must reject what it does not know, never take it as
# its output path (a results file named "--help" once landed at the
# repository root). Run by ctest as bench.args.<program> in builds with both
# the benchmarks and the tests:
#   scripts/check-bench-args.sh PROGRAM
# In an empty scratch directory: `PROGRAM --no-such-option` must exit 2 and
# `PROGRAM --help` exit 0, both at once (no benchmark runs), and neither may
# create a file.
set -u
prog=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
fail=0
expect() { # code, args...
  local want=$1; shift
  timeout 30 "$prog" "$@" >out.txt 2>&1
  local rc=$?
  if [ "$rc" -ne "$want" ]; then
    echo "$(basename "$prog") $*: exit $rc, expected $want"; cat out.txt; fail=1
  fi
  rm -f out.txt
  if [ -n "$(ls -A)" ]; then
    echo "$(basename "$prog") $*: created $(ls -A)"; fail=1; rm -rf -- ./* ./.??*
  fi
}
expect 2 --no-such-option
expect 2 -x
expect 0 --help
[ $fail -eq 0 ] && echo "$(basename "$prog"): rejects unknown arguments"
exit $fail
