#!/bin/sh
# SPDX-License-Identifier: MIT
# Per-item overhead of `cuprum parallel --executor slurm` against plain
# `srun` of the same command, in the same run, on the private one-node
# Slurm cluster the tests use (tests/slurm/cluster.sh: a network namespace
# of its own, needs root). Rounds are interleaved (srun, then cuprum, ...)
# so a loaded machine slows both alike; the medians and their difference go
# to stdout and to $CUPRUM_BENCH_OUT/slurm.json.
#
#   BUILD=build-bench scripts/bench_slurm.sh        (N=31 rounds)
#   CUPRUM_BENCH_SLURM_N=11 ...                     (fewer)
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
BUILD=${BUILD:-$ROOT/build-bench}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
OUT=${CUPRUM_BENCH_OUT:-$ROOT/bench/results}
N=${CUPRUM_BENCH_SLURM_N:-31}
[ -x "$BUILD/cuprum" ] || { echo "bench_slurm.sh: no $BUILD/cuprum"; exit 1; }
mkdir -p "$OUT"
exec tests/slurm/cluster.sh run -- python3 - "$BUILD/cuprum" "$N" \
  "$OUT/slurm.json" <<'PY'
import json, os, shutil, statistics, subprocess, sys, tempfile, time
cuprum, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if os.environ.get("CUPRUM_SLURM_SKIP"):
    print("bench_slurm: skipped:", os.environ["CUPRUM_SLURM_SKIP"])
    sys.exit(0)
true = shutil.which("true")
tmp = tempfile.mkdtemp(prefix="cuprum-bench-slurm.")
batch = os.path.join(tmp, "one.jsonl")
with open(batch, "w") as f:
    f.write('["true"]\n')
srun = [shutil.which("srun"), "--quiet", "--nodes=1", "--ntasks=1", true]
cup = [cuprum, "parallel", "--executor", "slurm", batch]
def once(argv):
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - t0) * 1e3
once(srun); once(cup)  # warm-up: page cache, slurmctld's first RPCs
a, b = [], []
for _ in range(n):
    a.append(once(srun))
    b.append(once(cup))
ma, mb = statistics.median(a), statistics.median(b)
res = {"rounds": n, "srun_true_ms": round(ma, 2),
       "cuprum_slurm_true_ms": round(mb, 2),
       "overhead_ms": round(mb - ma, 2), "ratio": round(mb / ma, 3),
       "command": "scripts/bench_slurm.sh (tests/slurm/cluster.sh run -- ...)"}
with open(out, "w") as f:
    json.dump(res, f, indent=1)
print(f"srun true           median {ma:8.2f} ms  (N={n})")
print(f"cuprum slurm, 1 item median {mb:8.2f} ms")
print(f"per-item overhead   {mb - ma:8.2f} ms  ({mb / ma:.2f}x)")
shutil.rmtree(tmp)
PY
