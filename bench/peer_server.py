#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Python peers as a server, so bench_peers can interleave them with Cuprum.

  peer_server.py PAYLOAD_FILE

Reads one operation name per line on stdin, runs it once, and answers one
line on stdout: the seconds it took (a float), or "ERR reason". The C side
(bench/bench_peers.c) alternates Cuprum and Python samples round by round,
so the ratios are same-round ratios despite a noisy machine.
Operations:
  hello             "OK <python version> <pycuprum: yes|no>"
  true_capture      per-run seconds of subprocess.run(["/bin/true"],
                    capture_output=True), mean over a batch of 20
  capture           subprocess.run(["cat", FILE], capture_output=True)
  popen2            Popen(cat FILE) | Popen(cat), kernel pipe, communicate()
  pycuprum2         the Python cuprum's (cat FILE | cat).run_sync()
  pycuprum_capture  the Python cuprum's cat FILE, run_sync()
"""
import os
import platform
import subprocess
import sys
import time

from peer_python import capture_cat, popen_two_stage

BATCH = 20


def true_capture(path, size):
    for _ in range(BATCH):
        subprocess.run(["/bin/true"], capture_output=True, check=True)


def pycuprum_ops(path, size):
    """The Python cuprum operations, or {} when it cannot be imported."""
    try:
        import peer_pycuprum as pc
    except ImportError:
        return {}, None
    pipeline, single, scope = pc.runnables(path)
    return {"pycuprum2": lambda p, s: pc.timed_run(pipeline, s, "pycuprum2"),
            "pycuprum_capture": lambda p, s: pc.timed_run(single, s, "cat")
            }, pc.scoped(scope)


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    path = sys.argv[1]
    size = os.path.getsize(path)
    ops = {"true_capture": true_capture, "capture": capture_cat,
           "popen2": popen_two_stage}
    extra, scope = pycuprum_ops(path, size)
    ops.update(extra)
    if scope is not None:
        scope.__enter__()  # held for the server's lifetime
    for line in sys.stdin:
        op = line.strip()
        if op == "hello":
            reply = (f"OK {platform.python_version()} "
                     f"{'yes' if extra else 'no'}")
        elif op in ops:
            t0 = time.perf_counter()
            ops[op](path, size)
            t = time.perf_counter() - t0
            reply = f"{t / BATCH if op == 'true_capture' else t:.9f}"
        else:
            reply = f"ERR unknown operation {op}"
        print(reply, flush=True)


if __name__ == "__main__":
    main()
