#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Python package against the pure-Python cuprum and the standard
library, the issue-15 scenarios, interleaved round by round:

  python_pkg.py RESULT.json NATIVE_PKG_DIR [PYCUPRUM_DIR]

  pipe   100 MiB (CUPRUM_BENCH_MIB) captured through `cat FILE | cat`
         (goal: >= 10x the Python cuprum)
  lines  the same bytes as 64-byte lines, each a stdout event to a Python
         observer, and captured (the Python cuprum emits line events only
         while capturing) (goal: >= 3x the Python cuprum)
  true   1,000 `true` through run_concurrent at limit 2 (goal: >= the
         Python cuprum and >= subprocess + ThreadPoolExecutor(2))

Each sample is one worker process (both packages are called `cuprum`, so
they never share an interpreter), timing only the operation itself, after
imports. Every implementation runs under the same interpreter (the one
running this script, 3.12 under scripts/bench.sh, which the Python cuprum
needs). Figures are seconds, medians. Each ratio is the median of the
rounds' own ratios (peer / this package, the two measured in the same
round), so a load swing between rounds moves both sides.

The gate: the script exits 1 when a goal's ratio is below goal x (1 -
CU_BENCH_TOLERANCE) (0.10 by default: noise on two shared cores), as
scripts/bench_batch.sh does; a goal whose peer could not run here (the
Python cuprum offline) is reported as not measured, not as met.

Env: CUPRUM_BENCH_MIB (payload of pipe and lines; 100, the issue's size),
CUPRUM_BENCH_SCALE (rounds: 5 at 100, at least 3), CU_BENCH_TOLERANCE.
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import time

WORKER = r'''
import os, sys, time
impl, scenario, path = sys.argv[1:4]
size = os.path.getsize(path)
if impl == "subprocess":
    import subprocess
    from concurrent.futures import ThreadPoolExecutor
    t0 = time.perf_counter()
    if scenario == "pipe":
        a = subprocess.Popen(["cat", path], stdout=subprocess.PIPE)
        b = subprocess.Popen(["cat"], stdin=a.stdout, stdout=subprocess.PIPE)
        a.stdout.close()
        out = b.communicate()[0].decode("utf-8", "replace")
        a.wait()
        assert len(out) == size
    elif scenario == "lines":
        n = [0]
        def hook(line): n[0] += 1
        p = subprocess.Popen(["cat", path], stdout=subprocess.PIPE, text=True)
        kept = []
        for line in p.stdout:
            kept.append(line)
            hook(line.rstrip("\n"))
        p.wait()
        assert len("".join(kept)) == size
        assert n[0] == size // 64
    elif scenario == "true":
        with ThreadPoolExecutor(2) as ex:
            rs = list(ex.map(lambda _: subprocess.run(["true"]), range(1000)))
        assert all(r.returncode == 0 for r in rs)
    print(time.perf_counter() - t0)
    raise SystemExit
from cuprum import (ConcurrentConfig, Program, ProgramCatalogue, ProjectSettings,
                    RunOutputOptions, ScopeConfig, run_concurrent_sync, scoped, sh)
try:
    from cuprum import observe
except ImportError:
    observe = sh.observe
cat, true = Program("cat"), Program("true")
cata = ProgramCatalogue(projects=(ProjectSettings(
    name="bench", programs=(cat, true), documentation_locations=(),
    noise_rules=()),))
mk = sh.make(cat, catalogue=cata)
with scoped(ScopeConfig(allowlist=cata.allowlist)):
    t0 = time.perf_counter()
    if scenario == "pipe":
        r = (mk(path) | mk()).run_sync()
        assert len(r.stdout) == size
    elif scenario == "lines":
        n = [0]
        def hook(ev):
            if ev.phase == "stdout":
                n[0] += 1
        with observe(hook):
            r = mk(path).run_sync()  # captured too: the Python cuprum
        assert len(r.stdout) == size  # emits no line events otherwise
        assert n[0] == size // 64, n[0]
    elif scenario == "true":
        t = sh.make(true, catalogue=cata)
        r = run_concurrent_sync(*[t() for _ in range(1000)],
                                config=ConcurrentConfig(concurrency=2))
        assert r.ok and len(r.results) == 1000
    print(time.perf_counter() - t0)
'''


def payload(mib):
    path = f"/tmp/cuprum-bench-lines-{mib}m.txt"
    size = mib * 1024 * 1024
    if not os.path.exists(path) or os.path.getsize(path) != size:
        line = b"x" * 63 + b"\n"
        with open(path + ".tmp", "wb") as f:
            block = line * 16384
            for _ in range(size // len(block)):
                f.write(block)
        os.replace(path + ".tmp", path)
    return path


def sample(pypath, impl, scenario, path):
    env = dict(os.environ, PYTHONPATH=pypath or "")
    out = subprocess.run([sys.executable, "-c", WORKER, impl, scenario, path],
                         env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{impl} {scenario}: {out.stderr.strip()[-400:]}")
    return float(out.stdout.strip())


# (scenario, peer, goal: this package at least goal times as fast); None:
# reported, no goal.
GOALS = (("pipe", "pycuprum", 10.0), ("pipe", "subprocess", None),
         ("lines", "pycuprum", 3.0), ("lines", "subprocess", None),
         ("true", "pycuprum", 1.0), ("true", "subprocess", 1.0))


def tolerance():
    return float(os.environ.get("CU_BENCH_TOLERANCE", "0.10") or 0.10)


def gate(samples):
    """The ratios (median of same-round ratios) and the goals missed."""
    floor_k = 1 - tolerance()
    derived, missed = [], []
    for scenario, peer, goal in GOALS:
        name = f"py_{scenario}_vs_{peer}"
        if (peer, scenario) not in samples:
            if goal:
                print(f"  {scenario:<6} vs {peer}: not measured (goal >= "
                      f"{goal}x NOT checked)")
            continue
        ratio = statistics.median(
            p / n for p, n in zip(samples[(peer, scenario)],
                                  samples[("native", scenario)]))
        met = None if goal is None else ratio >= goal * floor_k
        derived.append({"name": name, "value": ratio, "goal": goal,
                        "met": met})
        verdict = ("met" if goal and ratio >= goal else
                   "within the tolerance" if met else "MISSED")
        verdict = f" (goal >= {goal}x: {verdict})" if goal else ""
        print(f"  {scenario:<6} native is {ratio:6.2f}x {peer}{verdict}")
        if met is False:
            missed.append(f"{name} = {ratio:.2f} < {goal} x {floor_k:.2f}")
    return derived, missed


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    result, native = sys.argv[1], sys.argv[2]
    pyc = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None
    mib = int(os.environ.get("CUPRUM_BENCH_MIB", "100") or 100)
    scale = int(os.environ.get("CUPRUM_BENCH_SCALE", "100") or 100)
    rounds = max(3, 5 * scale // 100)
    path = payload(mib)
    impls = {"native": native, "subprocess": None}
    if pyc:
        try:
            sample(pyc, "pycuprum", "probe", path)  # imports, runs nothing
            impls["pycuprum"] = pyc
        except RuntimeError as exc:
            print(f"python_pkg: the Python cuprum does not run here: {exc}")
    samples = {(i, s): [] for i in impls for s in ("pipe", "lines", "true")}
    load = [os.getloadavg()[0]]
    print(f"python_pkg: {mib} MiB, {rounds} rounds, load {load[0]:.2f}")
    for _ in range(rounds):
        for scenario in ("pipe", "lines", "true"):
            for impl, where in impls.items():
                samples[(impl, scenario)].append(
                    sample(where, impl, scenario, path))
    load.append(os.getloadavg()[0])
    print(f"python_pkg: load at the end {load[1]:.2f}")
    figures = []
    med = {k: statistics.median(v) for k, v in samples.items()}
    for (impl, scenario), vals in samples.items():
        figures.append({"name": f"py_{scenario}_{impl}", "unit": "s",
                        "median": med[(impl, scenario)], "min": min(vals),
                        "max": max(vals), "n": len(vals)})
        print(f"  {scenario:<6} {impl:<11} {med[(impl, scenario)]:9.3f} s "
              f"(min {min(vals):.3f}, max {max(vals):.3f}, n={len(vals)})")
    derived, missed = gate(samples)
    with open(result, "w") as f:
        json.dump({"bench": "python_pkg", "python": platform.python_version(),
                   "mib": mib, "rounds": rounds, "load": load,
                   "tolerance": tolerance(), "figures": figures,
                   "derived": derived, "missed": missed}, f, indent=2)
    if missed:
        print("python_pkg: GOAL MISSED beyond the noise tolerance: "
              + ", ".join(missed))
        sys.exit(1)


if __name__ == "__main__":
    main()
