#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Peer benchmark: Python's subprocess, timed inside the interpreter.

  peer_python.py PAYLOAD_FILE RESULT.json [--scale PCT]

Figures (medians, same schema as the C benchmarks' JSON):
  py_subprocess_run_true           us per subprocess.run(["/bin/true"])
  py_subprocess_run_true_capture   us per run(..., capture_output=True)
  py_capture_cat                   GB/s, run(["cat", FILE], capture_output=True)
  py_popen_2stage_capture          GB/s, Popen cat FILE | cat, kernel pipe
                                   between the children, last stdout read
                                   into memory with communicate()
Interpreter start-up is not counted: only the calls are timed.
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import time


def reps(n, scale):
    return max(3, n * scale // 100)


def record(figures, name, unit, samples):
    med = statistics.median(samples)
    figures.append({"name": name, "unit": unit, "median": med,
                    "min": min(samples), "max": max(samples),
                    "n": len(samples)})
    print(f"  {name:<40} {med:12.3f} {unit:<6} (min {min(samples):.3f}, "
          f"max {max(samples):.3f}, n={len(samples)})")


def spawn_batches(figures, scale):
    variants = [
        ("py_subprocess_run_true", {}),
        ("py_subprocess_run_true_capture", {"capture_output": True}),
    ]
    samples = {name: [] for name, _ in variants}
    per_batch = 20
    for b in range(reps(21, scale)):
        for k in range(len(variants)):
            name, kw = variants[(b + k) % len(variants)]
            t0 = time.perf_counter()
            for _ in range(per_batch):
                subprocess.run(["/bin/true"], check=True, **kw)
            samples[name].append((time.perf_counter() - t0) * 1e6 / per_batch)
    for name, _ in variants:
        record(figures, name, "us", samples[name])


def capture_cat(path, size):
    out = subprocess.run(["cat", path], capture_output=True, check=True).stdout
    if len(out) != size:
        raise SystemExit(f"capture: {len(out)} bytes, expected {size}")


def popen_two_stage(path, size):
    first = subprocess.Popen(["cat", path], stdout=subprocess.PIPE)
    second = subprocess.Popen(["cat"], stdin=first.stdout,
                              stdout=subprocess.PIPE)
    first.stdout.close()  # the pipe now joins the two children only
    out, _ = second.communicate()
    first.wait()
    if len(out) != size or second.returncode or first.returncode:
        raise SystemExit(f"2-stage: {len(out)} bytes, expected {size}")


def throughput(figures, path, scale):
    size = os.path.getsize(path)
    variants = [("py_capture_cat", capture_cat),
                ("py_popen_2stage_capture", popen_two_stage)]
    samples = {name: [] for name, _ in variants}
    for _, fn in variants:
        fn(path, size)  # warm up
    for r in range(reps(7, scale)):
        for k in range(len(variants)):
            name, fn = variants[(r + k) % len(variants)]
            t0 = time.perf_counter()
            fn(path, size)
            samples[name].append(size / (time.perf_counter() - t0) / 1e9)
    for name, _ in variants:
        record(figures, name, "GB/s", samples[name])


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    path, result = sys.argv[1], sys.argv[2]
    scale = int(os.environ.get("CUPRUM_BENCH_SCALE", "100") or 100)
    version = platform.python_version()
    print(f"peer_python: Python {version} ({sys.executable})")
    figures = []
    spawn_batches(figures, scale)
    throughput(figures, path, scale)
    with open(result, "w") as f:
        json.dump({"bench": "peer_python", "python": version,
                   "executable": sys.executable, "figures": figures,
                   "derived": []}, f, indent=2)


if __name__ == "__main__":
    main()
