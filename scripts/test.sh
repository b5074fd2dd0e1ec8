#!/usr/bin/env bash
# The whole suite, as `make test` and CI run it:
#   1. portable build (no pidfd, no splice, no closefrom) under ASan+UBSan
#   2. valgrind memcheck over the library tests, heavy ones (Slurm, git)
#      included; not the CLI tests (make soak-sanitize), nor the tests that
#      build trees of their own (label ownbuild: once, in stage 4, is
#      enough). It exercises the runtime non-pidfd path too: valgrind
#      answers ENOSYS to pidfd_open
#   3. clang, compile only (library and CLI); then ThreadSanitizer over the
#      thread tests
#   4. the default (Linux fast path) build under ASan+UBSan, last, so the
#      output ends with its ctest summary line; its ctest also builds the
#      libFuzzer targets with clang and runs each briefly over its seeds
#      (label fuzz, tests/fuzz.cmake)
# Any failing stage fails the run. Every build treats warnings as errors
# (CUPRUM_WERROR). The benchmark ratio gate is not part of it: CI runs
# scripts/bench-check.sh as its own step (.ci/run).
set -u
cd "$(dirname "$0")/.."
JOBS=$(nproc 2>/dev/null || echo 2)
status=0
# No retries: tests wait for events, and the few timing bounds take their
# slack from the build type (tests/CMakeLists.txt, cut_slack_ms()).

configure_build() { # dir, flags...
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCUPRUM_BUILD_BENCH=OFF \
    -DCUPRUM_WERROR=ON "$@" >/dev/null &&
    cmake --build "$dir" -j "$JOBS" >/dev/null 2>"$dir.log" || {
      cat "$dir.log"; echo "test.sh: build in $dir failed"; return 1; }
}

# Run ctest in a build dir; print failures and the summary only.
run_ctest() { # dir, ctest args...
  local dir=$1; shift
  (cd "$dir" && ctest -j "$JOBS" --output-on-failure "$@" >ctest.log 2>&1)
  local rc=$?
  if [ $rc -ne 0 ]; then tail -n 200 "$dir/ctest.log"; else grep -E "tests passed|Total Test time" "$dir/ctest.log"; fi
  return $rc
}

stage() { echo; echo "=== $*"; }

stage "portable build (CUPRUM_NO_PIDFD, CUPRUM_NO_SPLICE, CUPRUM_NO_CLOSEFROM, CUPRUM_NO_CLONE3) + ASan/UBSan"
if configure_build build-portable -DCUPRUM_SANITIZE=ON -DCUPRUM_NO_PIDFD=ON \
     -DCUPRUM_NO_SPLICE=ON -DCUPRUM_NO_CLOSEFROM=ON -DCUPRUM_NO_CLONE3=ON; then
  # The ABI checks build their own RelWithDebInfo libraries, and the
  # compile-fail and lint tests do not depend on the build's options: once,
  # in the default build below, is enough.
  run_ctest build-portable -LE 'ownbuild|compile_fail|lint' || status=1
else status=1; fi

if command -v valgrind >/dev/null; then
  # valgrind answers ENOSYS to pidfd_open and loses posix_spawn's exec
  # errors, so the runtime probes pick the polling and fork+exec fallbacks.
  stage "valgrind memcheck (library tests; runtime non-pidfd, fork+exec paths)"
  if configure_build build-valgrind -DCUPRUM_VALGRIND=ON; then
    run_ctest build-valgrind -E 'cli|compile_fail|lint|fuzz' -LE ownbuild || status=1
  else status=1; fi
fi

if command -v clang >/dev/null; then
  # Cheap: compile only (library, libcuprum-otel, CLI), so a clang-only
  # warning fails here and not first in `make matrix`, which runs the
  # whole suite built by clang (docs/portability.md).
  stage "clang build, compile only (library, CLI; warnings are errors)"
  configure_build build-clang -DCMAKE_C_COMPILER=clang -DCUPRUM_BUILD_TESTS=OFF \
    -DCUPRUM_BUILD_EXAMPLES=OFF && echo "clang: built" || status=1
fi

stage "ThreadSanitizer (thread tests)"
if configure_build build-tsan -DCUPRUM_TSAN=ON; then
  run_ctest build-tsan -L threads || status=1
else status=1; fi

stage "default build (pidfd, splice, closefrom) + ASan/UBSan"
if configure_build build-asan -DCUPRUM_SANITIZE=ON; then
  (cd build-asan && ctest -j "$JOBS" --output-on-failure --no-label-summary |
     tee ctest-final.log; exit "${PIPESTATUS[0]}") || status=1
  # ctest lists skipped tests after its summary; the run still ends with
  # the summary line, repeated from the log.
  grep -E "tests passed, [0-9]+ tests failed out of" build-asan/ctest-final.log | tail -n 1
else status=1; fi
exit $status
