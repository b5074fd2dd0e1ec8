#!/usr/bin/env bash
# `cuprum parallel` on batch work (issue 13, section 3), as `make bench`
# runs it (scripts/bench.sh). Same-run comparisons, medians:
#   1. 10,000 tiny commands (`true N`) at -j2: cuprum parallel --args
#      against `xargs -P2 -n1 true` and GNU `parallel -j2 true`, in one
#      hyperfine run (ratio peer/cuprum >= 1.0: Cuprum at least as fast)
#   2. the time to the first streamed result line of a 1,000-item batch
#      (`true N` items) against the time to the last, medians
#   3. peak memory (max RSS, GNU time's %M) of a 100,000-item batch against
#      a 10,000-item one (goal: flat, ratio ~1.0)
# Writes $OUT/batch.json. Env: BUILD (build tree with the CLI),
# CUPRUM_BENCH_OUT (results dir), CUPRUM_BENCH_SCALE (percent of the
# default run counts; below 100 it also shrinks the 100,000-item batch,
# never below 20,000).
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-$PWD/build-bench}
OUT=${CUPRUM_BENCH_OUT:-$PWD/bench/results}
CLI=$BUILD/cuprum
SCALE=${CUPRUM_BENCH_SCALE:-100}
command -v hyperfine >/dev/null 2>&1 ||
  { echo "bench_batch.sh: hyperfine not found (scripts/deps.sh bench)"; exit 1; }
[ -x "$CLI" ] || { echo "bench_batch.sh: no CLI at $CLI"; exit 1; }
[ -x /usr/bin/time ] ||
  { echo "bench_batch.sh: GNU time not found (scripts/deps.sh bench)"; exit 1; }
TMP=$(mktemp -d /tmp/cuprum-bench-batch.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
runs() { echo $(( $1 * SCALE / 100 > 3 ? $1 * SCALE / 100 : 3 )); }
big=100000
[ "$SCALE" -lt 100 ] &&
  big=$(( 100000 * SCALE / 100 > 20000 ? 100000 * SCALE / 100 : 20000 ))
seq 1 10000 >"$TMP/10k"
seq 1 1000 >"$TMP/1k"
seq 1 "$big" >"$TMP/big"
status=0

echo "--- 10,000 x true, -j2: cuprum parallel, xargs -P2, GNU parallel"
cmds=(-n "cuprum parallel -j2 --args (10,000)"
      "$CLI parallel -j2 --no-progress --args $TMP/10k -- true {}"
      -n "xargs -P2 -n1 true (10,000)"
      "xargs -P2 -n1 true < $TMP/10k")
if command -v parallel >/dev/null 2>&1; then
  cmds+=(-n "GNU parallel -j2 true (10,000)"
         "parallel --will-cite -j2 true < $TMP/10k")
else
  echo "bench_batch.sh: GNU parallel not found (scripts/deps.sh bench); its row is skipped"
fi
# hyperfine sends every command's stdout to /dev/null: cuprum's result
# lines cost their writes there.
hyperfine --warmup 1 --runs "$(runs 5)" --style basic \
  --export-json "$TMP/tiny.json" "${cmds[@]}" || status=1

echo "--- time to the first streamed result (1,000 items)"
python3 - "$CLI" "$TMP/1k" "$(runs 15)" >"$TMP/first.json" <<'PY' || status=1
import json, statistics, subprocess, sys, time
cli, lst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
first, last = [], []
for _ in range(n):
    t0 = time.monotonic()
    p = subprocess.Popen([cli, "parallel", "-j2", "--no-progress", "--args",
                          lst, "--", "true", "{}"], stdout=subprocess.PIPE)
    p.stdout.readline()
    first.append((time.monotonic() - t0) * 1e3)
    p.stdout.read()
    p.wait()
    last.append((time.monotonic() - t0) * 1e3)
print(json.dumps({"first_ms_median": statistics.median(first),
                  "last_ms_median": statistics.median(last), "runs": n}))
PY
cat "$TMP/first.json"

echo "--- peak memory: $big items against 10,000"
rss() { # list -> max RSS of cuprum in KiB
  /usr/bin/time -f %M -o "$TMP/rss" "$CLI" parallel -j2 --no-progress \
    --args "$1" -- true {} >/dev/null && cat "$TMP/rss"
}
small_kb=$(rss "$TMP/10k") || status=1
big_kb=$(rss "$TMP/big") || status=1
echo "max RSS: 10000 items ${small_kb:-?} KiB, $big items ${big_kb:-?} KiB"

python3 - "$TMP/tiny.json" "$TMP/first.json" "${small_kb:-0}" \
  "${big_kb:-0}" "$big" "$OUT/batch.json" <<'PY' || status=1
import json, sys
tiny = json.load(open(sys.argv[1]))["results"]
med = {r["command"]: r["median"] for r in tiny}
cu = next(v for k, v in med.items() if k.startswith("cuprum"))
out = {"tiny_10k_median_s": med,
       "xargs_over_cuprum": next((v / cu for k, v in med.items()
                                   if k.startswith("xargs")), None),
       "gnu_parallel_over_cuprum": next((v / cu for k, v in med.items()
                                          if k.startswith("GNU")), None),
       "first_result": json.load(open(sys.argv[2])),
       "max_rss_kb": {"10000": int(sys.argv[3]), sys.argv[5]: int(sys.argv[4])},
       "rss_ratio_big_over_10k": int(sys.argv[4]) / max(int(sys.argv[3]), 1)}
json.dump(out, open(sys.argv[6], "w"), indent=1)
print(json.dumps(out, indent=1))
PY
exit $status
