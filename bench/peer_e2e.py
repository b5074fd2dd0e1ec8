#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""One run of the end-to-end matrix for a Python peer (scripts/bench_e2e.sh
times it with hyperfine, interpreter start-up included).

  peer_e2e.py subprocess STAGES capture|discard FILE
      STAGES 1: subprocess.run(["cat", FILE]) with capture_output=True, or
      stdout to DEVNULL; STAGES > 1: a chain of Popen joined by kernel
      pipes (`cat FILE | cat ...`), the last stdout read by communicate()
      or sent to DEVNULL.
  PYTHONPATH=DIR peer_e2e.py pycuprum STAGES capture FILE
      the Python cuprum (leynos/cuprum, extracted outside this repository
      by scripts/bench.sh): `cat FILE` or `cat FILE | cat ...`, run_sync(),
      which captures.

Exits 1 when a command fails or a capture is short.
"""
import os
import subprocess
import sys


def run_subprocess(stages, capture, path):
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    if stages == 1:
        res = subprocess.run(["cat", path], stdout=out,
                             stderr=subprocess.PIPE, check=True)
        return len(res.stdout) if capture else None
    procs = [subprocess.Popen(["cat", path], stdout=subprocess.PIPE)]
    for i in range(1, stages):
        last = i == stages - 1
        procs.append(subprocess.Popen(
            ["cat"], stdin=procs[-1].stdout,
            stdout=out if last else subprocess.PIPE))
        procs[-2].stdout.close()  # the next stage holds the read end
    data, _ = procs[-1].communicate()
    if any(p.wait() != 0 for p in procs):
        raise SystemExit("peer_e2e: a stage failed")
    return len(data) if capture else None


def run_pycuprum(stages, path):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import peer_pycuprum as pc
    pipeline, single, scope = pc.runnables(path, max(stages, 2))
    with pc.scoped(scope):
        res = (single if stages == 1 else pipeline).run_sync()
    return len(res.stdout)


def main():
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    peer, stages, mode, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
        sys.argv[4]
    if peer == "pycuprum":
        got = run_pycuprum(stages, path)
    else:
        got = run_subprocess(stages, mode == "capture", path)
    if got is not None and got != os.path.getsize(path):
        raise SystemExit(f"peer_e2e: captured {got} bytes")


if __name__ == "__main__":
    main()
