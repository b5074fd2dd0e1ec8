#!/usr/bin/env python3
"""Fault-injection driver: run a scenario once per injectable call site.

    fault-drive.py [--per-site K] [--jobs J] SCENARIO_BINARY NAME...

For each scenario NAME it first runs the scenario with nothing injected and
CU_FAULT_COUNTS set, which reports how often each wrapped call was made
(tests/fault/fault_wrap.c). Then, for every site and every failure mode that
site can meet in practice, it runs the scenario again with CU_FAULT=SITE:N:MODE
for the Nth call (all N up to K calls; past K a spread of first, evenly
spaced and last calls) and classifies the outcome the scenario reports
(tests/fault/fault_scenario.c):

  ok         the correct result
  clean      a clean error (a message, or a result saying why it failed)
  unreached  the Nth call did not happen in this run (timing-dependent)
  (EAGAIN is injected into a read or write only on a non-blocking fd,
  ECHILD nowhere: neither can happen to our own child otherwise.)
  DEFECT     wrong result claimed as success, an error without a message,
             fds/children/zombies left, a crash, a leak found by LSan, a
             hang, or a clean error where the mode must be survived
             (EINTR, short counts, ENOSYS of an optional system call)

Exits 1 if any run was a DEFECT, printing each; else prints the coverage.
"""
import argparse
import collections
import concurrent.futures
import os
import subprocess
import sys
import tempfile

# The modes each site meets in practice. A mode in MUST_SURVIVE must give
# the correct result: the library retries or falls back.
MODES = {
    "malloc": ["ENOMEM"], "calloc": ["ENOMEM"], "realloc": ["ENOMEM"],
    "pipe2": ["EMFILE"], "posix_spawn": ["EAGAIN", "ENOMEM"],
    "fork": ["EAGAIN"], "epoll_create1": ["EMFILE"], "epoll_ctl": ["ENOMEM"],
    "epoll_wait": ["EINTR"], "poll": ["EINTR"], "timerfd_create": ["EMFILE"],
    # timerfd_settime is counted but not failed: on a valid timerfd with
    # valid values it cannot fail (EBADF, EFAULT, EINVAL are caller bugs;
    # ECANCELED needs TFD_TIMER_CANCEL_ON_SET, which we do not use).
    "timerfd_settime": [], "eventfd": ["EMFILE"], "open": ["EMFILE"],
    "fcntl": ["EINVAL"], "fcntl_setpipe": ["EPERM"],
    "splice": ["EINTR", "EINVAL", "EIO", "short"],
    "tee": ["EINTR", "EINVAL", "short"],
    "read": ["EINTR", "EAGAIN", "EIO", "short"],
    "write": ["EINTR", "EAGAIN", "EIO", "short"],
    "waitid": ["EINTR"], "waitpid": ["EINTR"],
    "pthread_create": ["EAGAIN"], "pidfd_open": ["ENOSYS", "EMFILE"],
    "pidfd_send_signal": ["ENOSYS", "EPERM"], "clone3": ["ENOSYS", "EAGAIN"],
    "close_range": ["ENOSYS"],
}
MUST_SURVIVE = {("*", "EINTR"), ("*", "short"), ("pidfd_open", "ENOSYS"),
                ("clone3", "ENOSYS"), ("close_range", "ENOSYS"),
                ("pidfd_send_signal", "ENOSYS"), ("read", "EAGAIN"),
                ("write", "EAGAIN"), ("fcntl_setpipe", "EPERM")}
LSAN_EXIT = 86


def picks(count, per_site):
    """Which call numbers to fail: all up to per_site, else a spread."""
    if count <= per_site:
        return list(range(1, count + 1))
    half = max(per_site // 2, 1)
    chosen = set(range(1, half + 1)) | set(range(count - 2, count + 1))
    step = max((count - half) // max(per_site - half - 3, 1), 1)
    chosen |= set(range(half + 1, count, step))
    return sorted(n for n in chosen if 1 <= n <= count)


def run_one(binary, name, fault, timeout):
    env = dict(os.environ)
    env.pop("CU_FAULT_COUNTS", None)
    if fault:
        env["CU_FAULT"] = fault
    env["ASAN_OPTIONS"] = f"detect_leaks=1:exitcode={LSAN_EXIT}"
    try:
        p = subprocess.run([binary, name], env=env, capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "DEFECT", f"hang (no exit within {timeout} s)"
    line = (p.stdout.strip().splitlines() or [""])[-1]
    if p.returncode == 0:
        return "ok", line
    if p.returncode == 3:
        return "clean", line
    if p.returncode == 4:
        return "unreached", line
    if p.returncode == LSAN_EXIT:
        return "DEFECT", "memory leak (LeakSanitizer): " + p.stderr[-1500:]
    if p.returncode < 0:
        return "DEFECT", f"killed by signal {-p.returncode}: {p.stderr[-1500:]}"
    return "DEFECT", f"exit {p.returncode}: {line} {p.stderr[-1500:]}"


def counts_of(binary, name, timeout):
    with tempfile.NamedTemporaryFile("r", suffix=".counts") as f:
        env = dict(os.environ, CU_FAULT_COUNTS=f.name)
        env.pop("CU_FAULT", None)
        p = subprocess.run([binary, name], env=env, capture_output=True,
                           text=True, timeout=timeout)
        if p.returncode != 0:
            sys.exit(f"fault-drive: {name} fails with nothing injected: "
                     f"{p.stdout}{p.stderr}")
        out = {}
        for line in f.read().splitlines():
            site, n = line.split()
            out[site] = int(n)
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-site", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=60)
    ap.add_argument("binary")
    ap.add_argument("scenarios", nargs="+")
    a = ap.parse_args()
    defects, tally, sites = [], collections.Counter(), set()
    for name in a.scenarios:
        counts = counts_of(a.binary, name, a.timeout)
        jobs = []
        for site, count in sorted(counts.items()):
            for mode in MODES.get(site, []):
                for n in picks(count, a.per_site):
                    jobs.append((site, n, mode))
        with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
            futs = {ex.submit(run_one, a.binary, name, f"{s}:{n}:{m}",
                              a.timeout): (s, n, m) for s, n, m in jobs}
            for fut in concurrent.futures.as_completed(futs):
                s, n, m = futs[fut]
                kind, detail = fut.result()
                if kind == "clean" and (("*", m) in MUST_SURVIVE or
                                        (s, m) in MUST_SURVIVE):
                    kind, detail = "DEFECT", f"must survive {m}, got: {detail}"
                tally[kind] += 1
                if kind != "unreached":
                    sites.add((name, s, n))
                if kind == "DEFECT":
                    defects.append(f"{name} {s}:{n}:{m}: {detail}")
        reached = sorted({s for (sc, s, _) in sites if sc == name})
        print(f"fault-drive: {name}: {len(jobs)} runs over "
              f"{len(reached)} sites ({', '.join(reached)})")
    print(f"fault-drive: {sum(tally.values())} runs, {len(sites)} call sites "
          f"reached: {tally['ok']} correct, {tally['clean']} clean errors, "
          f"{tally['unreached']} unreached, {tally['DEFECT']} defects")
    for d in sorted(defects):
        print("DEFECT", d)
    return 1 if defects else 0


if __name__ == "__main__":
    sys.exit(main())
