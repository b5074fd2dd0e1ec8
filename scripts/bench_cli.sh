#!/usr/bin/env bash
# The `cuprum` CLI against the shell it replaces (issue 9, section 4), as
# `make bench` runs it (scripts/bench.sh). Three hyperfine runs, each with
# Cuprum and its peer in the same run, so their ratio is a same-run ratio:
#   1. one short command:       cuprum run -- true            vs env true
#   2. 250 MB to stdout:        cuprum run -- cat BIG         vs cat BIG
#                               (and --log json: the bytes relayed by the
#                               engine, for information)
#   3. a 4-stage pipeline:      cuprum run -- cat BIG '|' cat '|' cat '|' cat
#                               vs bash -c 'cat BIG | cat | cat | cat'
# hyperfine sends every command's stdout to /dev/null. BIG is `seq` output.
# Writes $OUT/cli.json: every hyperfine result plus, per group, the medians
# and the ratio peer/cuprum (>= 1.0: Cuprum at least as fast) and
# cuprum/peer (the goal for the short command is <= 1.10).
# Env: BUILD (build tree with the CLI), CUPRUM_BENCH_OUT (results dir),
#      CUPRUM_BENCH_SCALE (percent of the default run counts),
#      CUPRUM_CLI_BIG (the payload; made with seq when missing).
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-$PWD/build-bench}
OUT=${CUPRUM_BENCH_OUT:-$PWD/bench/results}
CLI=$BUILD/cuprum
BIG=${CUPRUM_CLI_BIG:-/tmp/cuprum-bench-seq-250m.txt}
SCALE=${CUPRUM_BENCH_SCALE:-100}
command -v hyperfine >/dev/null 2>&1 ||
  { echo "bench_cli.sh: hyperfine not found (apt-get install hyperfine)"; exit 1; }
[ -x "$CLI" ] || { echo "bench_cli.sh: no CLI at $CLI"; exit 1; }
# 28.5 million lines of seq: 245 MB
[ -s "$BIG" ] || seq 1 28500000 >"$BIG" || exit 1
TMP=$(mktemp -d /tmp/cuprum-bench-cli.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
runs() { echo $(( $1 * SCALE / 100 > 3 ? $1 * SCALE / 100 : 3 )); }

hf() { # name, runs, hyperfine args...
  local name=$1 n=$2; shift 2
  echo "--- $name"
  hyperfine -N --warmup 3 --runs "$n" --style basic \
    --export-json "$TMP/$name.json" "$@"
}
status=0
hf short "$(runs 300)" \
  -n "env true" "env true" \
  -n "cuprum run -- true" "$CLI run -- true" || status=1
hf stdout "$(runs 15)" \
  -n "cat BIG" "cat $BIG" \
  -n "cuprum run -- cat BIG" "$CLI run -- cat $BIG" \
  -n "cuprum run --log json -- cat BIG (relayed)" \
  "$CLI run --log json -- cat $BIG" || status=1
hf pipeline "$(runs 15)" \
  -n "bash: cat BIG | cat | cat | cat" "bash -c 'cat $BIG | cat | cat | cat'" \
  -n "cuprum run -- cat BIG '|' cat '|' cat '|' cat" \
  "$CLI run -- cat $BIG | cat | cat | cat" || status=1

python3 - "$TMP" "$OUT/cli.json" <<'EOF'
import json, os, sys
tmp, out = sys.argv[1], sys.argv[2]
groups = []
for name in ("short", "stdout", "pipeline"):
    path = os.path.join(tmp, name + ".json")
    if not os.path.exists(path):
        continue
    res = json.load(open(path))["results"]
    peer = res[0]
    rows = []
    for r in res:
        rows.append({"command": r["command"], "median": r["median"],
                     "mean": r["mean"], "stddev": r["stddev"],
                     "runs": len(r.get("times", [])),
                     "peer_over_cuprum": peer["median"] / r["median"],
                     "cuprum_over_peer": r["median"] / peer["median"]})
    groups.append({"group": name, "peer": peer["command"], "rows": rows})
json.dump({"cli_groups": groups}, open(out, "w"), indent=2)
for g in groups:
    for r in g["rows"][1:]:
        print(f"{g['group']}: {r['command']}: median "
              f"{r['median'] * 1e3:.2f} ms vs {g['peer']} "
              f"{g['rows'][0]['median'] * 1e3:.2f} ms: peer/cuprum "
              f"{r['peer_over_cuprum']:.2f}x, cuprum/peer "
              f"{r['cuprum_over_peer']:.2f}x")
EOF
exit $status
