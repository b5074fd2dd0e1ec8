#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Peer benchmark: the Python cuprum (leynos/cuprum), when it can run.

  PYTHONPATH=CHECKOUT python3.12 peer_pycuprum.py PAYLOAD_FILE RESULT.json

scripts/bench.sh extracts the project into a temporary directory outside
this repository and points PYTHONPATH at it; nothing of it is kept here.
Times a two-stage pipeline `cat FILE | cat` captured into memory (the
Python cuprum's pipeline captures the last stage's stdout as text), and
one capture of `cat FILE`. Figures are GB/s, medians.
"""
import json
import os
import platform
import statistics
import sys
import time

import cuprum
from cuprum import (Program, ProgramCatalogue, ProjectSettings, ScopeConfig,
                    scoped, sh)


def record(figures, name, samples):
    med = statistics.median(samples)
    figures.append({"name": name, "unit": "GB/s", "median": med,
                    "min": min(samples), "max": max(samples),
                    "n": len(samples)})
    print(f"  {name:<40} {med:12.3f} GB/s   (min {min(samples):.3f}, "
          f"max {max(samples):.3f}, n={len(samples)})")


def runnables(path, stages=2):
    """The pipeline `cat path | cat ...` (`stages` commands), the command
    `cat path`, and the scope config that allows them."""
    cat = Program("cat")
    catalogue = ProgramCatalogue(projects=(ProjectSettings(
        name="bench", programs=(cat,), documentation_locations=(),
        noise_rules=()),))
    make_cat = sh.make(cat, catalogue=catalogue)
    pipeline = make_cat(path) | make_cat()
    for _ in range(stages - 2):
        pipeline = pipeline | make_cat()
    return (pipeline, make_cat(path),
            ScopeConfig(allowlist=catalogue.allowlist))


def timed_run(runnable, size, name):
    """Seconds for one run_sync(); checks the captured length."""
    t0 = time.perf_counter()
    res = runnable.run_sync()
    t = time.perf_counter() - t0
    if len(res.stdout) != size:
        raise SystemExit(f"{name}: {len(res.stdout)} chars")
    return t


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    path, result = sys.argv[1], sys.argv[2]
    size = os.path.getsize(path)
    scale = int(os.environ.get("CUPRUM_BENCH_SCALE", "100") or 100)
    rounds = max(3, 3 * scale // 100)
    pipeline, single, scope = runnables(path)
    rust = getattr(cuprum, "is_rust_available", lambda: False)()
    print(f"peer_pycuprum: Python {platform.python_version()}, "
          f"rust extension: {rust}")
    samples = {"pycuprum_2stage_capture": [], "pycuprum_capture_cat": []}
    with scoped(scope):
        for _ in range(rounds):
            for name, runnable in (("pycuprum_2stage_capture", pipeline),
                                   ("pycuprum_capture_cat", single)):
                t = timed_run(runnable, size, name)
                samples[name].append(size / t / 1e9)
    figures = []
    for name, vals in samples.items():
        record(figures, name, vals)
    with open(result, "w") as f:
        json.dump({"bench": "peer_pycuprum",
                   "python": platform.python_version(),
                   "rust_extension": bool(rust), "figures": figures,
                   "derived": []}, f, indent=2)


if __name__ == "__main__":
    main()
