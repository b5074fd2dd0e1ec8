#!/usr/bin/env bash
# make soak: the soak and scale run (docs/reliability.md, "Soak and scale").
#   SOAK_SCALE=1 (default) runs the full sizes (about 15-30 minutes on two
#   shared cores); SOAK_SCALE=0.1 is a quick look.
# Builds an optimised tree without sanitizers (build-soak), runs bench/soak,
# writes bench/results/soak.json and prints the table. Fails when a phase
# fails or misses its goal (fds, children, RSS growth).
set -eu
cd "$(dirname "$0")/.."
scale=${SOAK_SCALE:-1}
cmake -S . -B build-soak -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCUPRUM_BUILD_TESTS=OFF \
  -DCUPRUM_BUILD_CLI=OFF -DCUPRUM_WERROR=ON >/dev/null
nice -n 10 cmake --build build-soak --target soak -j 2 >/dev/null
mkdir -p bench/results
echo "soak: scale $scale, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)," \
  "load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cpus"
nice -n 10 build-soak/bench/soak --scale "$scale" --out bench/results/soak.json
