#!/usr/bin/env bash
# The end-to-end matrix, timed with hyperfine (process start-up included);
# scripts/bench.sh runs it after the other benchmarks, and it runs alone
# once build-bench/ is built. For each payload (1 KB, 1 MiB, 100 MiB of text
# lines, made once in /tmp), one stage (`cat FILE`) and three (`cat FILE |
# cat | cat`), the output captured into memory or discarded:
#   Cuprum     bench_e2e_driver, splice and readwrite, with and without a
#              no-op line observer
#   ceilings   bench_e2e_barepipe: the same cats joined by bare kernel pipes
#              (no library), the 2-stage bare child-to-child pipe, and a
#              memcpy of the payload
#   peers      bash, Python subprocess (run / a Popen chain), libpipeline
#              (peer_libpipeline --e2e, when scripts/bench.sh compiled it),
#              the Python cuprum (capture only, when PYCUPRUM_DIR holds it)
# and writes bench/results/e2e_matrix.json (hyperfine's results, each named
# "PAYLOAD IMPL STAGES capture|discard plain|lines"; bench_report.py reads
# them).
# Env: CUPRUM_BENCH_SCALE=PCT  runs, percent of the default (30, 20, 5)
#      CUPRUM_BENCH_MIB=N      the large payload (default 100 MiB)
#      CUPRUM_BENCH_OUT=DIR    write the JSON there instead
#      PY312=PATH              the Python to use (default python3)
#      PYCUPRUM_DIR=DIR        a directory holding the Python cuprum package
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
BUILD=${BUILD:-$ROOT/build-bench}
OUT=${CUPRUM_BENCH_OUT:-$ROOT/bench/results}
MIB=${CUPRUM_BENCH_MIB:-100}
SCALE=${CUPRUM_BENCH_SCALE:-100}
PY=${PY312:-$(command -v python3)}
DRV=$BUILD/bench/bench_e2e_driver
BARE=$BUILD/bench/bench_e2e_barepipe
LP=$BUILD/bench/peer_libpipeline

if ! command -v hyperfine >/dev/null 2>&1; then
  echo "bench_e2e.sh: hyperfine not found (apt-get install hyperfine); skipped"
  exit 0
fi
if [ ! -x "$DRV" ] || [ ! -x "$BARE" ]; then
  cmake --build "$BUILD" -j 2 --target bench_e2e_driver bench_e2e_barepipe \
    >/dev/null || { echo "bench_e2e.sh: build failed"; exit 1; }
fi
pycuprum=
if [ -n "${PYCUPRUM_DIR:-}" ] && [ -d "$PYCUPRUM_DIR/cuprum" ] &&
   env PYTHONPATH="$PYCUPRUM_DIR" "$PY" -c 'import cuprum' >/dev/null 2>&1; then
  pycuprum=$PYCUPRUM_DIR
else
  echo "bench_e2e.sh: the Python cuprum is not importable; its rows are skipped"
fi
[ -x "$LP" ] || echo "bench_e2e.sh: no $LP (libpipeline); its rows are skipped"
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/cuprum-e2e.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

runs() { local n=$(( $1 * SCALE / 100 )); echo $(( n < 3 ? 3 : n )); }

# The commands for one payload, as hyperfine -n NAME COMMAND pairs.
matrix() { # label, file
  local label=$1 f=$2 stages out backend cats
  cmds=()
  add() { cmds+=(-n "$label $1" "$2"); }
  for stages in 1 3; do
    cats="cat $f"
    [ "$stages" = 3 ] && cats="cat $f | cat | cat"
    for out in capture discard; do
      for backend in splice readwrite; do
        add "cu-$backend $stages $out plain" \
          "$DRV --stages $stages --$out --backend $backend $f"
        add "cu-$backend $stages $out lines" \
          "$DRV --stages $stages --$out --backend $backend --lines $f"
      done
      local cap=
      [ "$out" = capture ] && cap=--capture
      add "bare $stages $out plain" "$BARE --stages $stages $cap $f"
      if [ "$out" = capture ]; then
        add "bash $stages $out plain" "bash -c 'x=\$($cats)'"
      else
        add "bash $stages $out plain" "bash -c '$cats > /dev/null'"
      fi
      add "python $stages $out plain" "$PY bench/peer_e2e.py subprocess $stages $out $f"
      [ -x "$LP" ] && add "libpipeline $stages $out plain" "$LP --e2e $stages $out $f"
      [ -n "$pycuprum" ] && [ "$out" = capture ] &&
        add "pycuprum $stages $out plain" \
          "env PYTHONPATH=$pycuprum $PY bench/peer_e2e.py pycuprum $stages capture $f"
    done
  done
  add "bare 2 discard plain" "$BARE --stages 2 $f"
  add "memcpy 1 capture plain" "$BARE --memcpy $f"
}

status=0
for spec in "1k 1000 30" "1m 1048576 20" "${MIB}m $((MIB * 1048576)) 5"; do
  read -r label bytes n <<<"$spec"
  f=/tmp/cuprum-bench-$label.txt
  "$DRV" --make-payload "$bytes" "$f" || exit 1
  matrix "$label" "$f"
  printf '\n=== e2e matrix, %s (%s bytes), %s runs each\n' "$label" "$bytes" "$(runs "$n")"
  hyperfine -N --warmup 1 --runs "$(runs "$n")" --style basic \
    --export-json "$TMP/$label.json" "${cmds[@]}" >"$TMP/$label.log" 2>&1 ||
    { tail -20 "$TMP/$label.log"; echo "bench_e2e.sh: hyperfine failed ($label)"; status=1; }
  grep -E '^(Benchmark|  Time)' "$TMP/$label.log" | paste - - |
    sed -E 's/Benchmark [0-9]+: //; s/ +Time \(mean ± σ\): +/  /' | cut -c1-110
done

# One file for the whole matrix: the payload sizes and hyperfine's results.
python3 - "$OUT/e2e_matrix.json" "$TMP" "1k=1000" "1m=1048576" \
  "${MIB}m=$((MIB * 1048576))" <<'EOF' || status=1
import json, os, sys
out, tmp, sizes = sys.argv[1], sys.argv[2], dict(a.split("=") for a in sys.argv[3:])
results = []
for label in sizes:
    path = os.path.join(tmp, label + ".json")
    if os.path.exists(path):
        results += json.load(open(path))["results"]
for r in results:
    r.pop("exit_codes", None)
json.dump({"bench": "e2e_matrix", "tool": "hyperfine",
           "payload_bytes": {k: int(v) for k, v in sizes.items()},
           "name_fields": "payload impl stages out observer",
           "results": results}, open(out, "w"), indent=1)
EOF
exit $status
