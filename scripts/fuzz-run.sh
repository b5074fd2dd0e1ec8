#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The libFuzzer targets, briefly (ctest label `fuzz`, `make fuzz`):
#   scripts/fuzz-run.sh build SRC BUILD
#       configure and build every target (clang; exit 77 when clang or its
#       libFuzzer runtime is missing, saying so)
#   scripts/fuzz-run.sh run TARGET SEEDS WORKDIR SECONDS
#       run TARGET for SECONDS over SEEDS (and fuzz/dict/NAME.dict beside
#       them when there is one). WORKDIR/corpus gets what the run finds
#       (the seeds stay untouched); a crash, leak, UB report, hang (-timeout)
#       or runaway allocation leaves WORKDIR/crash-* (leak-*, timeout-*,
#       oom-*) and fails. The target's own stdout/stderr (the CLI targets'
#       usage messages) is closed; libFuzzer and the sanitizers still report
#       on a duplicate of stderr, kept in WORKDIR/log.
set -u
mode=${1:-}
case "$mode" in
build)
  src=$2 build=$3
  if ! command -v clang >/dev/null; then
    echo "SKIP: clang is not installed (scripts/deps.sh fuzz)"; exit 77
  fi
  if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; return (int)n * 0; }' |
       clang -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then
    echo "SKIP: clang cannot link -fsanitize=fuzzer (libclang-rt-dev; scripts/deps.sh fuzz)"
    exit 77
  fi
  cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DCUPRUM_FUZZ=ON \
    -DCUPRUM_WERROR=ON -DCUPRUM_BUILD_TESTS=OFF -DCUPRUM_BUILD_BENCH=OFF \
    -DCUPRUM_BUILD_EXAMPLES=OFF -DCUPRUM_MAN=OFF >"$build.log" 2>&1 &&
    cmake --build "$build" --target fuzz_all -j "$(nproc 2>/dev/null || echo 2)" \
      >>"$build.log" 2>&1 || { tail -n 80 "$build.log"; exit 1; }
  ls "$build/fuzz" | grep '^fuzz_' | grep -v '\.' ;;
run)
  target=$2 seeds=$3 work=$4 seconds=$5
  if [ ! -x "$target" ]; then
    echo "SKIP: $target was not built (see fuzz.build: clang, jansson)"; exit 77
  fi
  name=$(basename "$seeds")
  dict=$(dirname "$(dirname "$seeds")")/dict/$name.dict
  dictopt=()
  [ -f "$dict" ] && dictopt=(-dict="$dict")
  mkdir -p "$work/corpus"
  rm -f "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*
  # -rss_limit_mb / -malloc_limit_mb: a parser that takes more memory than
  # this on inputs of a few KiB is a defect too.
  if ! "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -malloc_limit_mb=1024 -close_fd_mask=3 -print_final_stats=1 \
       -artifact_prefix="$work/" "${dictopt[@]}" "$work/corpus" "$seeds" \
       >"$work/log" 2>&1; then
    tail -n 60 "$work/log"
    ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null
    echo "FAIL: reproduce with: $target <artifact above>"
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^Done' "$work/log" ;;
*)
  echo "usage: $0 build SRC BUILD | run TARGET SEEDS WORKDIR SECONDS" >&2
  exit 2 ;;
esac
