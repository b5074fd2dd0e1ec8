#!/usr/bin/env bash
# The benchmarks, as `make bench` runs them (docs/performance.md explains
# the method). Builds a Release tree in build-bench/, then in one run:
#   1. Cuprum's end-to-end programs (bench/bench_*.c), each interleaving its
#      variants with raw or shell peers: spawn, capture, pipelines, batches,
#      limits and containment (bench_contain)
#   2. the stream micro-benchmarks and the line-event cost program, when
#      built (bench/CMakeLists.txt)
#   3. peers: libpipeline (compiled here when pkg-config finds it), Python's
#      subprocess (python3 on PATH and Python 3.12 when found), and Cuprum
#      against Python's subprocess and the Python cuprum (leynos/cuprum,
#      extracted to a temporary directory, when it runs) round by round
#   4. end-to-end command timings with hyperfine (bash, xargs, Python)
#   5. the CLI against env, cat and bash (scripts/bench_cli.sh), and
#      `cuprum parallel` against xargs -P and GNU parallel
#      (scripts/bench_batch.sh)
#   6. the end-to-end matrix with hyperfine (scripts/bench_e2e.sh): 1 KB,
#      1 MiB, 100 MiB; 1 and 3 stages; capture and discard; splice and
#      readwrite, with and without a line observer; bare-pipe and memcpy
#      ceilings; bash, Python, libpipeline and the Python cuprum
#   7. the Python package (python/) against the Python cuprum and
#      subprocess (bench/python_pkg.py)
# and writes JSON under bench/results/, a table in bench/results/summary.md
# and the results section of docs/performance.md.
# Env: CUPRUM_BENCH_SCALE=PCT   repetitions, percent of the default (100)
#      CUPRUM_BENCH_MIB=N       payload size (default 100 MiB)
#      PYCUPRUM_SRC=DIR         a checkout or a git repository (bare or not)
#                               of leynos/cuprum; else a shallow clone is
#                               tried; the Python cuprum is skipped offline
#      PYTHON312=PATH           the Python 3.12 to use for the Python cuprum
#      CUPRUM_BENCH_OUT=DIR     write results there instead of bench/results/
#                               (docs/performance.md is then left alone)
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
BUILD=$ROOT/build-bench
OUT=${CUPRUM_BENCH_OUT:-$ROOT/bench/results}
MIB=${CUPRUM_BENCH_MIB:-100}
PAYLOAD=/tmp/cuprum-bench-${MIB}m.txt
JOBS=2 # the benchmark machine has two cores; do not starve the runs
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/cuprum-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

say() { printf '\n=== %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

say "build (Release) in build-bench/"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCUPRUM_BUILD_TESTS=OFF -DCUPRUM_BUILD_CLI=ON -DCUPRUM_WERROR=ON \
  >/dev/null || exit 1
cmake --build "$BUILD" -j "$JOBS" >"$TMP/build.log" 2>&1 ||
  { cat "$TMP/build.log"; echo "bench.sh: build failed"; exit 1; }

# ------------------------------------------------------------ metadata
engine=stub
[ -f src/stream_stub.c ] || engine=engine
python3 - "$OUT/meta.json" "$engine" <<'EOF'
import json, os, platform, subprocess, sys, datetime
def sh(*a):
    try:
        return subprocess.run(a, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""
cpu = ""
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip(); break
except OSError:
    pass
json.dump({"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "commit": sh("git", "rev-parse", "--short", "HEAD"),
           "kernel": platform.release(), "cpu": cpu, "ncpu": os.cpu_count(),
           "loadavg": os.getloadavg()[0], "stream_engine": sys.argv[2],
           "hyperfine": sh("hyperfine", "--version")},
          open(sys.argv[1], "w"), indent=2)
EOF

status=0
run() { # name, command...: run one benchmark program, keep going on failure
  local name=$1; shift
  say "$name"
  "$@" || { echo "bench.sh: $name failed"; status=1; }
}

# ------------------------------------------------------------ Cuprum
run capture "$BUILD/bench/bench_capture" "$OUT/capture.json" # makes PAYLOAD
run spawn "$BUILD/bench/bench_spawn" "$OUT/spawn.json"
run pipeline "$BUILD/bench/bench_pipeline" "$OUT/pipeline.json"
run contain "$BUILD/bench/bench_contain" "$OUT/contain.json"
# the other helpers' programs from bench/CMakeLists.txt, when built
for prog in micro_stream observe_lines telemetry; do
  if [ -x "$BUILD/bench/$prog" ]; then
    run "$prog" "$BUILD/bench/$prog" "$OUT/$prog.json"
  fi
done

# ------------------------------------------------------------ libpipeline
if pkg-config --exists libpipeline 2>/dev/null; then
  # shellcheck disable=SC2046
  if cc -O2 -std=gnu17 -D_GNU_SOURCE -Wall -Wextra -Werror -I include \
       bench/peer_libpipeline.c "$BUILD/libcuprum.a" \
       $(pkg-config --cflags --libs libpipeline) -lpthread \
       -o "$BUILD/bench/peer_libpipeline"; then
    run libpipeline "$BUILD/bench/peer_libpipeline" "$OUT/peer_libpipeline.json"
  else
    echo "bench.sh: peer_libpipeline did not compile"; status=1
  fi
else
  echo "bench.sh: libpipeline not found (apt-get install libpipeline-dev); skipped"
fi

# ------------------------------------------------------------ Python
find_python312() {
  if [ -n "${PYTHON312:-}" ]; then echo "$PYTHON312"; return; fi
  # a pyenv shim may exist without working, so ask each candidate
  for p in python3.12 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12.*/bin/python3 \
           /root/.pyenv/versions/3.12.*/bin/python3; do
    if "$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' \
         >/dev/null 2>&1; then
      command -v "$p"; return
    fi
  done
}
PY312=$(find_python312)
rm -f "$OUT"/peer_python-*.json
for py in python3 $PY312; do
  ver=$("$py" -c 'import platform; print(platform.python_version())') || continue
  [ -f "$OUT/peer_python-$ver.json" ] && continue
  run "python $ver subprocess" "$py" bench/peer_python.py "$PAYLOAD" \
    "$OUT/peer_python-$ver.json"
done

# The Python cuprum: read-only, extracted outside the repository, never
# copied into it. Runs only if it imports with the standard library alone.
pycuprum_src() {
  local src=${PYCUPRUM_SRC:-}
  if [ -n "$src" ] && [ -d "$src/cuprum" ]; then # a checkout
    cp -r "$src/cuprum" "$TMP/pycuprum/"; return; fi
  if [ -n "$src" ] && git -C "$src" rev-parse HEAD >/dev/null 2>&1; then
    git -C "$src" archive HEAD cuprum | tar -x -C "$TMP/pycuprum"; return; fi
  timeout 60 git clone -q --depth 1 https://github.com/leynos/cuprum \
    "$TMP/pycuprum-clone" 2>/dev/null &&
    cp -r "$TMP/pycuprum-clone/cuprum" "$TMP/pycuprum/"
}
rm -f "$OUT/peer_pycuprum.json" "$OUT/peers.json"
mkdir -p "$TMP/pycuprum"
if [ -z "$PY312" ]; then
  echo "bench.sh: no Python 3.12 found; the Python cuprum is skipped"
elif ! { pycuprum_src && [ -d "$TMP/pycuprum/cuprum" ]; }; then
  echo "bench.sh: leynos/cuprum not available (set PYCUPRUM_SRC); skipped"
fi
# Cuprum against the Python peers round by round: a Python server answers
# one sample per request (Python 3.12 when found, with the Python cuprum on
# its path when extracted above).
run "Cuprum vs Python, same rounds" "$BUILD/bench/bench_peers" \
  "$OUT/peers.json" /usr/bin/env PYTHONPATH="$TMP/pycuprum" \
  "${PY312:-$(command -v python3)}" bench/peer_server.py "$PAYLOAD"

# ------------------------------------------------------------ hyperfine
# End-to-end command timings (process start-up included) for the shell
# peers; the in-process figures above are the ones the goals use.
if have hyperfine; then
  seq 1 1000 >"$TMP/lines"
  cmds=(-n "bash: cat|cat|cat|cat > /dev/null"
        "bash -c 'cat $PAYLOAD | cat | cat | cat > /dev/null'"
        -n "xargs -P2 -n1 true (1,000)"
        "xargs -P2 -n1 /bin/true < $TMP/lines"
        -n "python3: Popen cat|cat captured"
        "python3 -c 'import subprocess as s; a=s.Popen([\"cat\",\"$PAYLOAD\"],stdout=s.PIPE); b=s.Popen([\"cat\"],stdin=a.stdout,stdout=s.PIPE); a.stdout.close(); b.communicate(); a.wait()'")
  CLI=$BUILD/cuprum
  if [ -x "$CLI" ] && "$CLI" run --quiet -- cat /dev/null '|' cat >/dev/null 2>&1; then
    cmds+=(-n "cuprum CLI: cat|cat|cat|cat, echoed to /dev/null" \
           "$CLI run -- cat $PAYLOAD '|' cat '|' cat '|' cat")
  fi
  say "hyperfine (end to end)"
  hyperfine --warmup 1 --runs "$(( ${CUPRUM_BENCH_SCALE:-100} >= 100 ? 10 : 3 ))" \
    --style basic --export-json "$OUT/hyperfine_e2e.json" "${cmds[@]}" ||
    { echo "bench.sh: hyperfine failed"; status=1; }
else
  echo "bench.sh: hyperfine not found (apt-get install hyperfine); skipped"
fi

# ------------------------------------------------------------ the CLI
# The cuprum CLI against env, cat and bash, each pair in the same hyperfine
# run (scripts/bench_cli.sh; issue 9 section 4's goals).
say "the CLI against the shell (hyperfine)"
rm -f "$OUT/cli.json"
BUILD=$BUILD CUPRUM_BENCH_OUT=$OUT scripts/bench_cli.sh ||
  { echo "bench.sh: the CLI benchmark failed"; status=1; }

# ------------------------------------------------------------ batches
# cuprum parallel against xargs -P and GNU parallel, first-result latency
# and peak memory by batch size (scripts/bench_batch.sh; issue 13).
say "cuprum parallel batches (hyperfine, GNU time)"
rm -f "$OUT/batch.json"
BUILD=$BUILD CUPRUM_BENCH_OUT=$OUT scripts/bench_batch.sh ||
  { echo "bench.sh: the batch benchmark failed"; status=1; }

# ------------------------------------------------------------ e2e matrix
say "end-to-end matrix (hyperfine)"
rm -f "$OUT/e2e_matrix.json"
pyc=
[ -d "$TMP/pycuprum/cuprum" ] && pyc=$TMP/pycuprum
BUILD=$BUILD CUPRUM_BENCH_OUT=$OUT PY312=${PY312:-$(command -v python3)} \
  PYCUPRUM_DIR=$pyc scripts/bench_e2e.sh ||
  { echo "bench.sh: the end-to-end matrix failed"; status=1; }

# ------------------------------------------------------------ Python package
# The Python package (python/) against the Python cuprum and subprocess:
# the issue-15 scenarios, interleaved, each sample its own worker process
# (bench/python_pkg.py). Built into build-bench/python/pyX.Y by CMake.
# It exits 1 when a goal is missed beyond CU_BENCH_TOLERANCE (the gate).
say "the Python package against the Python cuprum and subprocess"
rm -f "$OUT/python_pkg.json"
PYB=${PY312:-$(command -v python3)}
pytag=py$("$PYB" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ -d "$BUILD/python/$pytag/cuprum" ]; then
  "$PYB" bench/python_pkg.py "$OUT/python_pkg.json" "$BUILD/python/$pytag" "$pyc" ||
    { echo "bench.sh: the Python package benchmark failed or missed a goal"; status=1; }
else
  echo "bench.sh: cuprum._native not built for $PYB (python3-dev?); skipped"
fi

# ------------------------------------------------------------ Slurm
# Per-item overhead of --executor slurm against plain srun, on the private
# one-node cluster of the tests (issue 13 section 3).
say "the Slurm executor against srun"
rm -f "$OUT/slurm.json"
BUILD=$BUILD CUPRUM_BENCH_OUT=$OUT scripts/bench_slurm.sh ||
  { echo "bench.sh: the Slurm benchmark failed"; status=1; }

say "report"
doc=docs/performance.md
[ "$OUT" = "$ROOT/bench/results" ] || doc=
python3 scripts/bench_report.py "$OUT" $doc || status=1
exit $status
