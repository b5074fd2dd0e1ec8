"""run_concurrent / run_concurrent_sync over the shared loop."""

from __future__ import annotations

import asyncio
import time

from conftest import alive, py
from cuprum import (
    ECHO, FALSE, ConcurrentConfig, ConcurrentResult, before, run_concurrent,
    run_concurrent_sync, sh,
)

# Each child records the highest number of siblings alive at once in a
# shared file through O_APPEND lines "start"/"end"; the limit is checked
# from them, not from timing.
PEAK = ("import os,sys,time;p=sys.argv[1];"
        "f=os.open(p,os.O_WRONLY|os.O_APPEND|os.O_CREAT);os.write(f,b'+\\n');"
        "time.sleep(0.05);os.write(f,b'-\\n')")


def _peak(path) -> int:
    cur = peak = 0
    for line in path.read_text().split():
        cur += 1 if line == "+" else -1
        peak = max(peak, cur)
    return peak


def test_sync_results_in_submission_order_and_hooks() -> None:
    seen: list[str] = []
    cmds = [sh.make(ECHO)("-n", f"task-{i}") for i in range(8)]
    with before(lambda c: seen.append(c.argv[-1])):
        r = run_concurrent_sync(*cmds, config=ConcurrentConfig(concurrency=3))
    assert isinstance(r, ConcurrentResult) and r.ok
    assert [x.stdout for x in r.results] == [f"task-{i}" for i in range(8)]
    assert sorted(seen) == sorted(f"task-{i}" for i in range(8))
    assert r.submission_indices == tuple(range(8))


def test_limit_is_respected(tmp_path) -> None:
    log = tmp_path / "log"
    cmds = [py(PEAK, str(log)) for _ in range(6)]
    assert run_concurrent_sync(*cmds, config=ConcurrentConfig(concurrency=2)).ok
    assert 1 <= _peak(log) <= 2
    log.unlink()
    cmds = [py(PEAK, str(log)) for _ in range(4)]
    assert asyncio.run(run_concurrent(*cmds, config=ConcurrentConfig(concurrency=1))).ok
    assert _peak(log) == 1


def test_collect_all_failures() -> None:
    cmds = [sh.make(ECHO)("a"), sh.make(FALSE)(), sh.make(ECHO)("b")]
    r = run_concurrent_sync(*cmds)
    assert not r.ok and r.failures == (1,) and r.first_failure.exit_code == 1
    assert r.failure_submission_indices == (1,)
    ra = asyncio.run(run_concurrent(*cmds))
    assert ra.failures == (1,) and len(ra.results) == 3


def test_fail_fast_cancels_the_rest() -> None:
    slow = py("import os,time;print(os.getpid(),flush=True);time.sleep(600)")
    cfg = ConcurrentConfig(fail_fast=True)
    r = run_concurrent_sync(slow, sh.make(FALSE)(), config=cfg)
    assert not r.ok
    assert r.failure_submission_indices == (1,)
    for res in r.results:
        assert not alive(res.pid)
    ra = asyncio.run(run_concurrent(slow, sh.make(FALSE)(), config=cfg))
    assert not ra.ok and 1 in ra.failure_submission_indices


def test_fail_fast_does_not_wait_for_the_others_on_an_exception() -> None:
    # With a before hook the commands run one by one on the loop; a command
    # that raises (a NUL in an argument) ends the batch at once, the others
    # cancelled and reaped, as a failure with fail_fast does.
    slow = py("import time;time.sleep(30)")
    bad = sh.make(ECHO)("a\0b")
    cfg = ConcurrentConfig(fail_fast=True)
    with before(lambda c: None):
        t0 = time.monotonic()
        try:
            asyncio.run(run_concurrent(slow, bad, config=cfg))
        except ValueError:
            pass
        else:
            raise AssertionError("the NUL argument did not raise")
        assert time.monotonic() - t0 < 20
