#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Long fuzzing runs (docs/reliability.md "Fuzzing"): every libFuzzer target
# (or those named), FUZZ_JOBS at a time, at nice 19 so they take only idle
# CPU. The corpus each target grows is kept in FUZZ_DIR/corpus/NAME
# (seeded from fuzz/corpus/NAME) and carried from one run to the next;
# crashes land in FUZZ_DIR/artifacts/NAME.
#
#   FUZZ_SECONDS=3600 FUZZ_JOBS=2 FUZZ_DIR=$HOME/cuprum-fuzz scripts/fuzz-long.sh [NAME...]
#
# Each run appends one line per target to the ledger (FUZZ_LEDGER, by
# default FUZZ_DIR/summary.tsv): start, commit, target, wall seconds, CPU
# seconds (user+sys, from /usr/bin/time), executions, crashes (artifacts
# left), corpus size, exit status (72: libFuzzer stopped by SIGINT, as
# when the goal below is reached; 0: FUZZ_SECONDS ran out; 70: an input
# took longer than FUZZ_TIMEOUT; "starved": it did only because the fuzzer
# got no CPU, see attempt()). The script ends with the totals per
# target over the whole ledger: each run resumes from the corpus the
# earlier ones grew, so a target's CPU time adds up across runs.
#
# FUZZ_GOAL=N (CPU seconds) runs towards a goal rather than for a time:
# a target stops once its ledger total plus this run's CPU reaches N (the
# fuzzer's CPU, read from /proc every 5 s, so a loaded machine only makes
# it take longer), targets already there are skipped, and the closest to
# the goal go first. FUZZ_SECONDS then caps each run's wall time (default
# 6 hours). The project's own ledger is fuzz/runs.tsv (FUZZ_LEDGER).
#
# FUZZ_KEEP=1 merges, after each target's run, the inputs that add
# coverage edges (-merge=1 -use_counters=0) into fuzz/corpus/NAME, so the
# next clone resumes from them (commit them; docs/design.md "Fuzzing").
#
# FUZZ_TIMEOUT (seconds, default 10) is libFuzzer's -timeout for one
# input; a run it stops is replayed to tell a slow input from a starved
# fuzzer (attempt(), below).
#
# The crashes column counts what libFuzzer left in FUZZ_DIR/artifacts/NAME
# (crash-, leak-, oom-, timeout- files); its slow-unit- notes (an input
# slower than 10 s of wall time, the run going on) are moved to
# FUZZ_DIR/slow/NAME and not counted.
#
# Run it from a checkout nobody edits meanwhile: bash reads a script as
# it runs it. On SIGTERM each target stops, prints its final stats and
# is still recorded; the targets not started yet are skipped.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
goal=${FUZZ_GOAL:-}
if [ -n "$goal" ]; then secs=${FUZZ_SECONDS:-21600}; else secs=${FUZZ_SECONDS:-3600}; fi
jobs=${FUZZ_JOBS:-2}
dir=${FUZZ_DIR:-$HOME/cuprum-fuzz}
ledger=${FUZZ_LEDGER:-$dir/summary.tsv}
keep=${FUZZ_KEEP:-}
build=${FUZZ_BUILD:-$here/build-fuzz}
timeout=${FUZZ_TIMEOUT:-10}
# The bounds every libFuzzer call here runs under (run, replay, merge).
limits="-rss_limit_mb=2048 -malloc_limit_mb=1024 -close_fd_mask=3"
case $goal in *[!0-9]*) echo "fuzz-long.sh: FUZZ_GOAL must be CPU seconds, not '$goal'" >&2; exit 2 ;; esac
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
[ -f "$ledger" ] ||
  printf 'start\tcommit\ttarget\twall_s\tcpu_s\texecs\tcrashes\tcorpus\trc\n' \
    >"$ledger"

# CPU seconds the ledger holds for target $1.
ledger_cpu() {
  awk -F '\t' -v t="$1" 'NR > 1 && $3 == t { s += $5 } END { printf "%d", s }' "$ledger"
}

if [ $# -gt 0 ]; then
  targets="$*"
else
  targets=$(cd "$here/fuzz" && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')
fi
if [ -n "$goal" ]; then
  # Closest to the goal first; those that reached it are left out.
  targets=$(for t in $targets; do
              left=$((goal - $(ledger_cpu "$t")))
              [ "$left" -gt 0 ] && echo "$left $t"
            done | sort -n | cut -d' ' -f2)
  echo "fuzz-long.sh: towards $goal CPU seconds each:" ${targets:-nothing left to run}
fi

# Total CPU seconds (user+sys, with waited-for children) of process $1.
proc_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%d", ($12 + $13 + $14 + $15) / hz }' \
    "/proc/$1/stat" 2>/dev/null
}

# One run of target $t; sets rc, cpu and crashes, appends its ledger line.
# A timeout (libFuzzer's exit status 70) is replayed at once at normal
# priority (setsid: a session, so an autogroup, of its own): libFuzzer's
# -timeout is wall time, and at nice 19 beside a build a fast input can
# wait longer than that for the CPU. An input that
# replays within the timeout is moved to FUZZ_DIR/starved/NAME and the
# run recorded with status "starved" and no crash; one that times out
# again stays a finding.
attempt() {
  start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  # -fork would lose /usr/bin/time's view of the children's CPU; one
  # process, -ignore_crashes=0: the first crash ends that target's run.
  /usr/bin/time -f '%e %U %S' -o "$dir/$t.time" \
    nice -n 19 "$build/fuzz/fuzz_$t" -max_total_time="$secs" -timeout="$timeout" \
    $limits -print_final_stats=1 -artifact_prefix="$art/" $dict \
    "$corpus" "$here/fuzz/corpus/$t" >"$dir/$t.log" 2>&1 &
  tpid=$!
  if [ -n "$goal" ]; then
    want=$((goal - $(ledger_cpu "$t")))
    # time's child is the fuzzer (nice execs it).
    fpid=
    while kill -0 "$tpid" 2>/dev/null; do
      [ -n "$fpid" ] || fpid=$(pgrep -P "$tpid" | head -n 1)
      if [ -n "$fpid" ] && [ "$(proc_cpu "$fpid" || echo 0)" -ge "$want" ]; then
        kill -INT "$fpid" 2>/dev/null
        break
      fi
      sleep 5
    done
  fi
  wait "$tpid"
  rc=$?
  if [ "$rc" -eq 70 ]; then
    slow=$(ls -t "$art"/timeout-* 2>/dev/null | head -n 1)
    if [ -n "$slow" ] && setsid -w "$build/fuzz/fuzz_$t" -timeout="$timeout" $limits \
         "$slow" >"$dir/$t.replay.log" 2>&1; then
      mkdir -p "$dir/starved/$t"
      mv "$slow" "$dir/starved/$t/"
      rc=starved
    fi
  fi
  # The times are GNU time's last line (a failed target adds "Command
  # exited with non-zero status N" before it).
  read -r wall user sys <<EOF_TIME || { wall=0 user=0 sys=0; }
$(tail -n 1 "$dir/$t.time" 2>/dev/null)
EOF_TIME
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/$t.log" | tail -n1)
  # slow-unit-* files are libFuzzer's notes of an input that took more
  # than -report_slow_units (10 s) of wall time, the run going on: not a
  # failure (and, at nice 19, mostly a wait for the CPU). They are kept
  # apart, in FUZZ_DIR/slow/NAME, to be replayed by hand; everything else
  # left in the artifacts (crash-, leak-, oom-, timeout-) is a finding.
  for f in "$art"/slow-unit-*; do
    [ -e "$f" ] || continue
    mkdir -p "$dir/slow/$t"
    mv "$f" "$dir/slow/$t/"
  done
  crashes=$(ls "$art" 2>/dev/null | wc -l)
  size=$(ls "$corpus" | wc -l)
  cpu=$(echo "$user $sys" | awk '{printf "%.0f", $1 + $2}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$start" "$commit" "$t" \
    "${wall%.*}" "$cpu" "${execs:-?}" "$crashes" "$size" "$rc" \
    >>"$ledger"
}

run_one() {
  # This subshell outlives the SIGINT the stop sends to the process group
  # (below), to record the fuzzer's line: bash resets a trapped signal to
  # its default in a subshell, so without this a stop started where
  # SIGINT was deliverable killed the subshells first and their runs were
  # lost from the ledger.
  trap '' INT
  t=$1
  corpus=$dir/corpus/$t art=$dir/artifacts/$t
  mkdir -p "$corpus" "$art"
  dict=
  [ -f "$here/fuzz/dict/$t.dict" ] && dict=-dict=$here/fuzz/dict/$t.dict
  attempt
  # A starved run goes on from where it stopped (towards the goal, or
  # for the rest of FUZZ_SECONDS).
  while [ "$rc" = starved ]; do
    if [ -n "$goal" ]; then
      [ "$(ledger_cpu "$t")" -lt "$goal" ] || break
    else
      secs=$((secs - ${wall%.*}))
      [ "$secs" -gt 0 ] || break
    fi
    attempt
  done
  if [ -n "$keep" ] && [ "$crashes" -eq 0 ]; then
    before=$(ls "$here/fuzz/corpus/$t" | wc -l)
    nice -n 19 "$build/fuzz/fuzz_$t" -merge=1 -use_counters=0 -timeout=60 $limits \
      "$here/fuzz/corpus/$t" "$corpus" >"$dir/$t.merge.log" 2>&1
    echo "fuzz-long.sh: $t: fuzz/corpus/$t $before -> $(ls "$here/fuzz/corpus/$t" | wc -l) inputs"
  fi
}

# Stopping early: SIGTERM (or SIGINT, where the shell that started the
# script left it deliverable: a background job's SIGINT is ignored, and
# bash cannot trap a signal ignored on entry) goes on as SIGINT to the
# process group (run it with setsid), so each fuzzer prints its final
# stats and exits and its line is still recorded; the targets not started
# yet are skipped.
stopping=
trap 'stopping=1; trap "" INT TERM; kill -INT 0' INT TERM
# FUZZ_JOBS at a time: the next target starts as soon as one ends.
n=0
for t in $targets; do
  [ -n "$stopping" ] && break
  if [ "$n" -ge "$jobs" ]; then
    wait -n
    n=$((n - 1))
  fi
  [ -n "$stopping" ] && break
  run_one "$t" &
  n=$((n + 1))
done
wait
column -t -s "$(printf '\t')" "$ledger" 2>/dev/null || cat "$ledger"
# The totals over every run recorded in FUZZ_DIR: each run resumes from the
# corpus the earlier ones grew, so a target's CPU time adds up across runs
# (docs/reliability.md, "Fuzzing").
echo
echo "totals over all runs in $ledger (goal: ${goal:-3600} CPU seconds each, 0 crashes):"
printf '%-16s %8s %5s %12s %8s\n' target cpu_s runs execs crashes
awk -F '\t' 'NR > 1 { cpu[$3] += $5; runs[$3]++; crash[$3] += $7; execs[$3] += $6 }
  END { for (t in cpu) printf "%-16s %8d %5d %12d %8d%s\n", t, cpu[t], runs[t], execs[t], crash[t],
                               ((cpu[t] >= g && crash[t] == 0) ? "  done" : "") }' \
  g="${goal:-3600}" "$ledger" | sort
