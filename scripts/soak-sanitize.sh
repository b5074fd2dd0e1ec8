#!/usr/bin/env bash
# make soak-sanitize: the long sanitizer runs (docs/reliability.md, "What
# runs where"), beyond what `make test` runs in the quick CI:
#   1. the WHOLE suite under ThreadSanitizer (make test: only -L threads)
#   2. the CLI tests under valgrind memcheck, valgrind following each test
#      into the cuprum binary it runs (make test: the library tests only)
# The ABI, compile-fail and lint tests do not depend on the build's options
# (make test runs them once, in the default build): left out here.
# Each stage builds its own tree (build-tsan, build-valgrind), niced, with
# two jobs; any failing stage fails the run. Takes about 15-30 minutes on
# two shared cores. SOAK_SANITIZE="tsan" or "valgrind" runs one stage.
set -u
cd "$(dirname "$0")/.."
stages=${SOAK_SANITIZE:-tsan valgrind}
status=0

build() { # dir, flags...
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCUPRUM_BUILD_BENCH=OFF \
    -DCUPRUM_WERROR=ON "$@" >/dev/null &&
    nice -n 10 cmake --build "$dir" -j 2 >"$dir.log" 2>&1 || {
      tail -n 60 "$dir.log"; echo "soak-sanitize: build in $dir failed"; return 1; }
}

run_ctest() { # dir, ctest args...
  local dir=$1; shift
  (cd "$dir" && nice -n 10 ctest -j 2 --output-on-failure --no-label-summary "$@" \
     >ctest-soak.log 2>&1)
  local rc=$?
  if [ $rc -ne 0 ]; then grep -E "^ *[0-9]+/[0-9]+ Test .*(Failed|Timeout|Exception)|tests passed" "$dir/ctest-soak.log"
  else grep -E "tests passed" "$dir/ctest-soak.log"; fi
  echo "(full log: $dir/ctest-soak.log)"
  return $rc
}

echo "soak-sanitize: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)," \
  "load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cpus"
for s in $stages; do
  case $s in
  tsan)
    echo "=== ThreadSanitizer, the whole suite"
    { build build-tsan -DCUPRUM_TSAN=ON &&
      run_ctest build-tsan -LE 'ownbuild|compile_fail|lint'; } || status=1 ;;
  valgrind)
    echo "=== valgrind memcheck, the CLI tests (valgrind follows into cuprum)"
    if ! command -v valgrind >/dev/null; then
      echo "soak-sanitize: valgrind is not installed (scripts/deps.sh test installs it)"; status=1
    else
      logs=build-valgrind/tests/valgrind
      rm -rf "$logs"
      { build build-valgrind -DCUPRUM_VALGRIND=ON &&
        run_ctest build-valgrind -R '^test_cli'; } || status=1
      # valgrind's messages, one log per process. An error or a definite
      # or indirect leak has already failed its test (exit status 99).
      # Counted, not shown: its warnings about system calls it does not
      # know, and "possibly lost" records (glibc's blocks for threads and
      # dlopen, not errors: docs/reliability.md). Any other message is
      # shown whole.
      nlogs=0 nposs=0 nshown=0
      for f in "$logs"/*.log; do
        [ -f "$f" ] || continue
        nlogs=$((nlogs + 1))
        nposs=$((nposs + $(grep -c 'are possibly lost in loss record' "$f")))
        rest=$(awk '/^--[0-9]+-- / { next }
                    /are possibly lost in loss record/ { skip = 1; next }
                    skip && /^==[0-9]+== *$/ { skip = 0; next }
                    skip && /^==[0-9]+==    (at|by) / { next }
                    { skip = 0; print }' "$f")
        if [ -n "$rest" ]; then nshown=$((nshown + 1)); echo "--- $f"; cat "$f"; fi
      done
      echo "valgrind: $nlogs per-process logs; $nshown shown above (more than" \
        "unknown-syscall warnings and 'possibly lost' records); $nposs 'possibly lost' records"
    fi ;;
  *) echo "soak-sanitize: unknown stage $s (tsan, valgrind)"; status=1 ;;
  esac
done
exit $status
