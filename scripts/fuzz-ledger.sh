#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The fuzzing ledger (fuzz/runs.tsv, written by scripts/fuzz-long.sh) as
# the Markdown table docs/reliability.md publishes: per target, the CPU
# time all its runs add up to, the part since a given start, the runs and
# the starved restarts among them, executions, crashes, and how far it is
# from the goal (one CPU-hour with 0 crashes, issue 14).
#
#   scripts/fuzz-ledger.sh [--since 2026-12-01T13:00] [--goal SECONDS] [LEDGER]
#
# --since compares the ledger's start column as text (ISO 8601 UTC sorts
# as time); the earlier runs' "2026-11-30/12-01" lines sort before it.
# Targets with no line in the ledger (fuzz/fuzz_*.c) are listed with 0.
# Rows: closest to done first.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
since=
goal=3600
while [ $# -gt 0 ]; do
  case $1 in
    --since) since=$2; shift 2 ;;
    --goal) goal=$2; shift 2 ;;
    -h|--help) sed -n '3,14p' "$0"; exit 0 ;;
    -*) echo "fuzz-ledger.sh: unknown option '$1'" >&2; exit 2 ;;
    *) break ;;
  esac
done
ledger=${1:-$here/fuzz/runs.tsv}
case $goal in ''|*[!0-9]*) echo "fuzz-ledger.sh: --goal must be seconds, not '$goal'" >&2; exit 2 ;; esac
[ -r "$ledger" ] || { echo "fuzz-ledger.sh: cannot read $ledger" >&2; exit 2; }
targets=
for f in "$here"/fuzz/fuzz_*.c; do
  f=${f##*/fuzz_}; targets="$targets ${f%.c}"
done

printf '| target | CPU time in the ledger | of which since %s | runs | starved restarts | executions | crashes | goal |\n' "${since:-the start}"
printf '|---|---|---|---|---|---|---|---|\n'
awk -F '\t' -v since="$since" -v goal="$goal" -v targets="$targets" '
  function mins(s) { return sprintf("%d min %d s", int(s / 60), s % 60) }
  function commas(n,   s, out) {
    s = sprintf("%d", n); out = ""
    while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
    return s out
  }
  NR > 1 {
    cpu[$3] += $5; runs[$3]++; execs[$3] += $6; crash[$3] += $7
    if ($9 == "starved") starved[$3]++
    if (since == "" || $1 >= since) recent[$3] += $5
  }
  END {
    n = split(targets, all, /[ \n]+/)
    for (i = 1; i <= n; i++) {
      t = all[i]; if (t == "") continue
      c = cpu[t] + 0
      if (crash[t] > 0) state = "crashed"
      else if (c >= goal) state = "**reached**"
      else state = sprintf("%d min short", int((goal - c + 59) / 60))
      printf "%d\t| `fuzz_%s` | %s | %s | %d | %d | %s | %d | %s |\n",
        goal - c, t, mins(c), mins(recent[t] + 0), runs[t], starved[t],
        commas(execs[t]), crash[t], state
    }
  }' "$ledger" | sort -n | cut -f 2-
