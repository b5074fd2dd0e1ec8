#!/bin/sh
# SPDX-License-Identifier: MIT
# Long fuzzing runs (docs/reliability.md "Fuzzing"): every libFuzzer target
# for FUZZ_SECONDS of wall time each, FUZZ_JOBS at a time, at nice 19 so
# they take only idle CPU. The corpus each target grows is kept outside the
# repository (FUZZ_DIR/corpus/NAME, seeded from fuzz/corpus/NAME) and
# carried from one run to the next; crashes land in FUZZ_DIR/artifacts/NAME.
#
#   FUZZ_SECONDS=3600 FUZZ_JOBS=2 FUZZ_DIR=$HOME/cuprum-fuzz scripts/fuzz-long.sh [NAME...]
#
# At the end (or on SIGTERM/SIGINT: each target then stops and reports)
# FUZZ_DIR/summary.tsv has one line per run: date, commit, target, wall
# seconds, CPU seconds (user+sys, from /usr/bin/time), executions, crashes
# (artifacts left), corpus size; the figures docs/reliability.md records.
# It ends with the totals per target over every run in FUZZ_DIR.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
secs=${FUZZ_SECONDS:-3600}
jobs=${FUZZ_JOBS:-2}
dir=${FUZZ_DIR:-$HOME/cuprum-fuzz}
build=${FUZZ_BUILD:-$here/build-fuzz}
mkdir -p "$dir"
if [ ! -x /usr/bin/time ]; then
  echo "fuzz-long.sh: /usr/bin/time is missing (scripts/deps.sh fuzz)" >&2
  exit 2
fi
cmake -S "$here" -B "$build" -DCMAKE_C_COMPILER=clang -DCUPRUM_FUZZ=ON \
  -DCUPRUM_BUILD_TESTS=OFF -DCUPRUM_BUILD_BENCH=OFF >/dev/null &&
  nice -n 10 cmake --build "$build" --target fuzz_all -j "$jobs" >/dev/null ||
  exit 1
commit=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ $# -gt 0 ]; then
  targets="$*"
else
  targets=$(cd "$here/fuzz" && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')
fi

run_one() {
  t=$1
  corpus=$dir/corpus/$t art=$dir/artifacts/$t
  mkdir -p "$corpus" "$art"
  dict=
  [ -f "$here/fuzz/dict/$t.dict" ] && dict=-dict=$here/fuzz/dict/$t.dict
  start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  # -fork would lose /usr/bin/time's view of the children's CPU; one
  # process, -ignore_crashes=0: the first crash ends that target's run.
  /usr/bin/time -f '%e %U %S' -o "$dir/$t.time" \
    nice -n 19 "$build/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb=2048 -malloc_limit_mb=1024 -close_fd_mask=3 \
    -print_final_stats=1 -artifact_prefix="$art/" $dict \
    "$corpus" "$here/fuzz/corpus/$t" >"$dir/$t.log" 2>&1
  rc=$?
  # The times are GNU time's last line (a failed target adds "Command
  # exited with non-zero status N" before it).
  read -r wall user sys <<EOF_TIME || { wall=0 user=0 sys=0; }
$(tail -n 1 "$dir/$t.time" 2>/dev/null)
EOF_TIME
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/$t.log" | tail -n1)
  crashes=$(ls "$art" 2>/dev/null | wc -l)
  size=$(ls "$corpus" | wc -l)
  cpu=$(echo "$user $sys" | awk '{printf "%.0f", $1 + $2}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$start" "$commit" "$t" \
    "${wall%.*}" "$cpu" "${execs:-?}" "$crashes" "$size" "$rc" \
    >>"$dir/summary.tsv"
}

[ -f "$dir/summary.tsv" ] ||
  printf 'start\tcommit\ttarget\twall_s\tcpu_s\texecs\tcrashes\tcorpus\trc\n' \
    >"$dir/summary.tsv"
# Stopping early: SIGINT or SIGTERM to this script goes on as SIGINT to
# its process group (run it with setsid, or from a shell with job
# control), so each fuzzer prints its final stats and exits and its line
# is still recorded; the targets not started yet are skipped.
stopping=
trap 'stopping=1; trap "" INT TERM; kill -INT 0' INT TERM
n=0
for t in $targets; do
  [ -n "$stopping" ] && break
  run_one "$t" &
  n=$((n + 1))
  if [ "$n" -ge "$jobs" ]; then
    wait
    n=0
  fi
done
wait
column -t -s "$(printf '\t')" "$dir/summary.tsv" 2>/dev/null || cat "$dir/summary.tsv"
# The totals over every run recorded in FUZZ_DIR: each run resumes from the
# corpus the earlier ones grew, so a target's CPU time adds up across runs
# (docs/reliability.md, "Fuzzing").
echo
echo "totals over all runs in $dir/summary.tsv (goal: 3600 CPU seconds each, 0 crashes):"
printf '%-16s %8s %5s %12s %8s\n' target cpu_s runs execs crashes
awk -F '\t' 'NR > 1 { cpu[$3] += $5; runs[$3]++; crash[$3] += $7; execs[$3] += $6 }
  END { for (t in cpu) printf "%-16s %8d %5d %12d %8d%s\n", t, cpu[t], runs[t], execs[t], crash[t],
                               ((cpu[t] >= 3600 && crash[t] == 0) ? "  done" : "") }' \
  "$dir/summary.tsv" | sort
