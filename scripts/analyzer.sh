#!/usr/bin/env bash
# GCC's static analyzer over the library: analyzer.sh [BUILD_DIR]
#
# Configures BUILD_DIR (default build-analyzer) with CUPRUM_ANALYZER=ON
# (-fanalyzer on libcuprum's sources only), rebuilds the library objects
# and compares the findings with scripts/analyzer-known.txt, whose entries
# are each explained in docs/design.md ("Static analysis"). A finding not
# in that list fails (exit 1); a listed one that no longer appears is
# reported so the list can shrink. A finding is keyed by file, warning and
# the variable it names, not by line, so unrelated edits do not move it.
# Exit 77 (ctest SKIP_RETURN_CODE) when the compiler is not GCC 10+.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-analyzer}
cc=${CC:-gcc}
if ! "$cc" -fanalyzer -x c -c -o /dev/null /dev/null 2>/dev/null; then
  echo "SKIP: $cc has no -fanalyzer (GCC 10 or newer needed)"
  exit 77
fi
# CC only matters on the first configure; passing CMAKE_C_COMPILER again
# would make CMake drop the cache, and CUPRUM_ANALYZER with it.
CC=$cc cmake -S "$root" -B "$build" \
  -DCMAKE_BUILD_TYPE=Debug -DCUPRUM_ANALYZER=ON -DCUPRUM_BUILD_TESTS=OFF \
  -DCUPRUM_BUILD_BENCH=OFF -DCUPRUM_BUILD_CLI=OFF \
  -DCUPRUM_BUILD_EXAMPLES=OFF -DCUPRUM_BUILD_OTEL=OFF >/dev/null || exit 1
# Every object again: the analyzer reports only what it compiles.
find "$build/CMakeFiles/cuprum_objects.dir" -name '*.o' -delete 2>/dev/null
log=$build/analyzer.log
cmake --build "$build" --target cuprum_objects -j "${JOBS:-2}" >"$log" 2>&1 || {
  cat "$log"
  echo "analyzer: the library did not build"
  exit 1
}
# A build without the flag would "pass" with no findings: make sure.
if ! grep -q -- '-fanalyzer' "$build/compile_commands.json" ||
   ! grep -q 'Building C object' "$log"; then
  echo "analyzer: $build did not compile the library with -fanalyzer"
  exit 1
fi
found=$(sed -n "s|^$root/||p" "$log" |
  sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: warning: .*‘\([^’]*\)’.*\[-W\(analyzer-[a-z-]*\)\]$/\1 \3 \2/p' |
  sort -u)
known=$(grep -v '^#' "$root/scripts/analyzer-known.txt" | grep -v '^$' | sort -u)
new=$(comm -23 <(printf '%s\n' "$found") <(printf '%s\n' "$known") | grep -v '^$')
gone=$(comm -13 <(printf '%s\n' "$found") <(printf '%s\n' "$known") | grep -v '^$')
n=$(printf '%s\n' "$found" | grep -c -v '^$')
if [ -n "$gone" ]; then
  echo "analyzer: listed findings no longer reported (remove them from"
  echo "scripts/analyzer-known.txt and docs/design.md):"
  printf '%s\n' "$gone" | sed 's/^/  /'
fi
if [ -n "$new" ]; then
  echo "analyzer: findings not explained in scripts/analyzer-known.txt:"
  printf '%s\n' "$new" | sed 's/^/  /'
  grep -E 'warning: .*-Wanalyzer' "$log"
  exit 1
fi
echo "analyzer: $n finding(s), each explained in docs/design.md"
