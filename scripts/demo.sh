#!/usr/bin/env bash
# The main job (`make demo`, after the build): a short, real demonstration of
# Cuprum. Every step runs real processes and checks what it shows; the script
# exits non-zero if any step did not behave as described.
set -u
cd "$(dirname "$0")/.." || exit 1
CUPRUM=build/cuprum
FORKER=build/tests/helpers/forker
failures=0

if [ ! -x "$CUPRUM" ] || [ ! -x build/examples/capture ]; then
  echo "demo: build first (make demo builds, then runs this script)" >&2
  exit 1
fi

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
show() { printf '$ %s\n' "$*"; } # the command line, as you would type it
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# expect WHAT WANT GOT: report and remember a mismatch.
expect() {
  if [ "$2" = "$3" ]; then
    echo "-> $1: $3 (as expected)"
  else
    echo "-> $1: $3, expected $2" >&2
    failures=$((failures + 1))
  fi
}

step "1. An allowed program: output streams through, its status is cuprum's"
show cuprum run -- uname -s -m
"$CUPRUM" run -- uname -s -m
expect "exit status" 0 $?
show cuprum run -- ls -d / /no-such-dir
"$CUPRUM" run -- ls -d / /no-such-dir
expect "exit status (ls's own)" 2 $?

step "2. A refused program: no shell, nothing outside the catalogue runs"
show cuprum run -- bash -c "'echo pwned'"
"$CUPRUM" run -- bash -c 'echo pwned'
expect "exit status" 125 $?

step "3. A timeout ends a whole process tree"
if [ -x "$FORKER" ]; then
  # forker starts a grandchild; both ignore SIGTERM, so the 0.5 s grace
  # expires and SIGKILL ends the process group. --allow widens explicitly.
  show cuprum run --allow "$PWD/$FORKER" --timeout 1 --grace 0.5 -- \
    forker --ignore-term --wait 30000
  t0=$(now_ms)
  out=$("$CUPRUM" run --allow "$PWD/$FORKER" --timeout 1 --grace 0.5 -- \
    forker --ignore-term --wait 30000)
  status=$?
  t1=$(now_ms)
  echo "$out"
  expect "exit status" 124 $status
  echo "-> elapsed: $((t1 - t0)) ms (timeout 1 s + grace 0.5 s; the tree would sleep 30 s)"
  grandchild=$(echo "$out" | sed -n 's/^grandchild \([0-9]*\)$/\1/p')
  state=$(ps -o stat= -p "${grandchild:-0}" 2>/dev/null | cut -c1)
  case "$state" in
    "" | Z) expect "grandchild $grandchild" gone gone ;;
    *) expect "grandchild $grandchild" gone "alive ($state)" ;;
  esac
else
  show cuprum run --timeout 1 -- sleep 30
  t0=$(now_ms)
  "$CUPRUM" run --timeout 1 -- sleep 30
  status=$?
  t1=$(now_ms)
  expect "exit status" 124 $status
  echo "-> elapsed: $((t1 - t0)) ms (build the tests for the process-tree version)"
fi

step "4. examples/capture.c: capture output in C and read the result"
show build/examples/capture
build/examples/capture
expect "exit status" 0 $?

step "5. examples/async.c: two commands at once on one event loop"
show build/examples/async
build/examples/async
expect "exit status" 0 $?

step "6. A pipeline: stages joined by kernel pipes, one process group"
show cuprum run -- seq 1 1000000 "'|'" grep "'7\$'" "'|'" wc -l
"$CUPRUM" run -- seq 1 1000000 '|' grep '7$' '|' wc -l
expect "exit status" 0 $?
show cuprum run --timeout 5 -- yes "'|'" head -n 1
t0=$(now_ms)
"$CUPRUM" run --timeout 5 -- yes '|' head -n 1
status=$?
t1=$(now_ms)
expect "exit status (yes's SIGPIPE is not a failure)" 0 $status
echo "-> elapsed: $((t1 - t0)) ms (no hang, no timeout)"

step "7. A batch in parallel: one JSON argv per line, results as JSON lines"
batch=$(mktemp)
printf '%s\n' '["echo", "first"]' '["sleep", "0.2"]' '["ls", "/no-such-dir"]' \
  '["echo", "last"]' >"$batch"
show "cuprum parallel -j 2 BATCH   # BATCH:"
sed 's/^/    /' "$batch"
"$CUPRUM" parallel -j 2 "$batch" | cut -c1-150
expect "exit status (ls's 2, the first failure)" 2 "${PIPESTATUS[0]}"
rm -f "$batch"

step "8. The active catalogue (the default one: first lines)"
show "cuprum catalogue | head -n 8"
listing=$("$CUPRUM" catalogue)
status=$?
head -n 8 <<<"$listing"
echo "... $(($(wc -l <<<"$listing") - 1)) programs in all"
expect "exit status" 0 $status

echo
if [ "$failures" -ne 0 ]; then
  echo "demo: $failures step(s) did not behave as described" >&2
  exit 1
fi
echo "demo: every step behaved as described"
