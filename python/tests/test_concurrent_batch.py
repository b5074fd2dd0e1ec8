"""run_concurrent's batch engine: with no hooks, observers or echo, the
whole batch runs in libcuprum on worker threads (``_native.batch_start``);
with any of them, command by command on the loop. Both keep the same
semantics: submission order, the limit, fail-fast, per-command timeouts,
cancellation that leaves nothing running."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import threading
from pathlib import Path

import pytest

from conftest import CATALOGUE, alive, py, slack
from cuprum import (
    ECHO, FALSE, ConcurrentConfig, ExecutionContext, ForbiddenProgramError,
    Program, ScopeConfig, after, before, concurrent, observe, run_concurrent,
    run_concurrent_sync, scoped, sh,
)
from cuprum import _native
from cuprum.sh import TimeoutExpired

# Each child appends "+" when it starts and "-" when it ends (O_APPEND), so
# the number alive at once is read from the file, not from timing.
PEAK = ("import os,sys,time;p=sys.argv[1];"
        "f=os.open(p,os.O_WRONLY|os.O_APPEND|os.O_CREAT);os.write(f,b'+\\n');"
        "time.sleep(0.05);os.write(f,b'-\\n')")
# Writes its pid to the FIFO argv[1], then waits for ever.
SLEEPER = ("import os,sys,time;f=os.open(sys.argv[1],os.O_WRONLY);"
           "os.write(f,b'%d\\n'%os.getpid());time.sleep(600)")


def _peak(path: Path) -> int:
    cur = peak = 0
    for line in path.read_text().split():
        cur += 1 if line == "+" else -1
        peak = max(peak, cur)
    return peak


@pytest.fixture
def batches(monkeypatch) -> list[int]:
    """How many batches went to libcuprum whole (``_native.batch_start``)."""
    calls: list[int] = []
    real = _native.batch_start

    def counting(stages, **kw):
        calls.append(len(stages))
        return real(stages, **kw)
    monkeypatch.setattr(_native, "batch_start", counting)
    return calls


@pytest.fixture
def fifo(tmp_path):
    """A FIFO the SLEEPER children report to, and its read end (opened
    read-write, so neither side ever blocks on open)."""
    path = tmp_path / "fifo"
    os.mkfifo(path)
    fd = os.open(path, os.O_RDWR)
    yield path, fd
    os.close(fd)


def _read_pids(fd: int, n: int) -> list[int]:
    """The first ``n`` pids reported on the FIFO (waits for them)."""
    buf = b""
    while buf.count(b"\n") < n:
        ready, _, _ = select.select([fd], [], [], 20 * slack())
        if not ready:
            break
        buf += os.read(fd, 4096)
    return [int(x) for x in buf.split()]


def test_batch_without_hooks_keeps_order_and_results(batches) -> None:
    # Later commands end first; results still come in submission order.
    cmds = [py(f"import time;time.sleep({0.01 * (6 - i)});print('r{i}',end='')")
            for i in range(6)]
    r = run_concurrent_sync(*cmds, config=ConcurrentConfig(concurrency=3))
    assert batches == [6]
    assert r.ok and [x.stdout for x in r.results] == [f"r{i}" for i in range(6)]
    assert [x.argv for x in r.results] == [c.argv_with_program for c in cmds]
    assert len({x.pid for x in r.results}) == 6 and all(x.pid > 0 for x in r.results)
    assert all(x.stderr == "" for x in r.results)
    ra = asyncio.run(run_concurrent(*cmds, config=ConcurrentConfig(concurrency=3)))
    assert batches == [6, 6]
    assert [x.stdout for x in ra.results] == [f"r{i}" for i in range(6)]


def test_a_long_batch_keeps_every_result_in_its_place(batches) -> None:
    # Hundreds per worker thread: each thread's index map grows as it pulls.
    cmds = [sh.make(ECHO)("-n", str(i)) for i in range(400)]
    r = run_concurrent_sync(*cmds, config=ConcurrentConfig(concurrency=4))
    assert batches == [400] and r.ok
    assert [x.stdout for x in r.results] == [str(i) for i in range(400)]


def test_hooks_and_observers_run_per_command_on_the_loop(batches) -> None:
    cmds = [sh.make(ECHO)("-n", f"h{i}") for i in range(4)]
    seen_before: list[str] = []
    seen_after: list[str] = []
    lines: list[str] = []
    with before(lambda c: seen_before.append(c.argv[-1])), \
            after(lambda c, r: seen_after.append(r.stdout)):
        r = run_concurrent_sync(*cmds, config=ConcurrentConfig(concurrency=2))
    with observe(lambda e: e.phase == "stdout" and lines.append(e.line)):
        asyncio.run(run_concurrent(*cmds, config=ConcurrentConfig(concurrency=2)))
    assert batches == []  # neither went to the batch engine
    assert r.ok and sorted(seen_before) == sorted(seen_after) == [f"h{i}" for i in range(4)]
    assert sorted(lines) == [f"h{i}" for i in range(4)]


def test_limit_holds_across_worker_threads(tmp_path, monkeypatch, batches) -> None:
    # More worker threads than the limit: the limit still bounds the
    # children alive at once (threads are capped at the limit, which is
    # shared among them).
    monkeypatch.setattr(concurrent, "_worker_threads", lambda: 8)
    for limit in (1, 2, 3):
        log = tmp_path / f"log{limit}"
        cmds = [py(PEAK, str(log)) for _ in range(6)]
        assert run_concurrent_sync(*cmds, config=ConcurrentConfig(concurrency=limit)).ok
        assert 1 <= _peak(log) <= limit
    log = tmp_path / "all"
    assert asyncio.run(run_concurrent(*[py(PEAK, str(log)) for _ in range(5)])).ok
    assert _peak(log) <= 5 and len(batches) == 4


def test_fail_fast_starts_no_more_and_omits_the_stopped(batches) -> None:
    cmds = [sh.make(ECHO)("-n", "a"), sh.make(FALSE)(), sh.make(ECHO)("b"),
            sh.make(ECHO)("c")]
    r = run_concurrent_sync(*cmds, config=ConcurrentConfig(concurrency=1,
                                                          fail_fast=True))
    assert batches == [4]
    assert r.submission_indices == (0, 1) and r.failure_submission_indices == (1,)
    assert r.results[0].stdout == "a" and r.first_failure.exit_code == 1


def test_timeout_raises_and_stops_the_batch(children_of_me, batches) -> None:
    before_pids = children_of_me()
    slow = py("import time;time.sleep(600)")
    ctx = ExecutionContext(timeout=0.2)
    cfg = ConcurrentConfig(concurrency=2, context=ctx)
    with pytest.raises(TimeoutExpired) as e:
        run_concurrent_sync(slow, slow, slow, config=cfg)
    assert e.value.timeout == 0.2 and e.value.cmd == slow.argv_with_program
    with pytest.raises(TimeoutExpired):
        asyncio.run(run_concurrent(slow, slow, config=cfg))
    assert batches == [3, 2]
    assert children_of_me() - before_pids == set()


def test_spawn_failure_raises_the_single_run_error(tmp_path, children_of_me) -> None:
    before_pids = children_of_me()
    ctx = ExecutionContext(cwd=tmp_path / "no-such-dir")
    cmds = [sh.make(ECHO)("x") for _ in range(3)]
    with pytest.raises(FileNotFoundError):
        cmds[0].run_sync(context=ctx)
    with pytest.raises(FileNotFoundError):
        run_concurrent_sync(*cmds, config=ConcurrentConfig(context=ctx))
    missing = sh.make(Program("sh-not-here"), catalogue=CATALOGUE)()
    with pytest.raises(FileNotFoundError):
        run_concurrent_sync(sh.make(ECHO)("x"), missing)
    assert children_of_me() - before_pids == set()


def test_forbidden_program_refuses_the_whole_batch(tmp_path) -> None:
    mark = tmp_path / "ran"
    ok = py(f"open({str(mark)!r},'w').close()")
    with scoped(ScopeConfig(allowlist=frozenset([ECHO]))), \
            pytest.raises(ForbiddenProgramError):
        run_concurrent_sync(ok, ok, sh.make(ECHO)("x"))
    assert not mark.exists()  # nothing ran, not even the allowed ones


def test_options_reach_every_command(tmp_path, batches) -> None:
    code = "import os;print(os.getcwd(),os.environ['CU_BATCH'],end='')"
    ctx = ExecutionContext(cwd=tmp_path, env={"CU_BATCH": "yes"})
    r = run_concurrent_sync(py(code), py(code), config=ConcurrentConfig(context=ctx))
    assert [x.stdout for x in r.results] == [f"{tmp_path} yes"] * 2
    quiet = run_concurrent_sync(py(code), config=ConcurrentConfig(
        context=ctx, capture=False))
    assert quiet.ok and quiet.results[0].stdout is None
    assert quiet.results[0].stderr is None
    assert run_concurrent_sync().results == ()
    assert batches == [2, 1, 0]


def test_no_descriptor_left_behind() -> None:
    fds = set(os.listdir("/proc/self/fd"))
    for _ in range(3):
        assert run_concurrent_sync(*[sh.make(ECHO)("x") for _ in range(5)]).ok
    assert set(os.listdir("/proc/self/fd")) == fds


def test_ctrl_c_cancels_the_sync_batch(fifo) -> None:
    path, fd = fifo
    pids: list[int] = []
    main = threading.get_ident()

    def interrupt() -> None:
        pids.extend(_read_pids(fd, 2))
        signal.pthread_kill(main, signal.SIGINT)
    th = threading.Thread(target=interrupt)
    th.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_concurrent_sync(*[py(SLEEPER, str(path)) for _ in range(4)],
                                config=ConcurrentConfig(concurrency=2))
    finally:
        th.join()
    assert len(pids) == 2
    assert not any(alive(p) for p in pids)  # reaped before the raise


def test_cancelling_the_task_cancels_the_batch(fifo) -> None:
    path, fd = fifo
    pids: list[int] = []

    async def main() -> None:
        task = asyncio.create_task(run_concurrent(
            *[py(SLEEPER, str(path)) for _ in range(4)],
            config=ConcurrentConfig(concurrency=2)))
        pids.extend(await asyncio.to_thread(_read_pids, fd, 2))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    asyncio.run(main())
    assert len(pids) == 2
    assert not any(alive(p) for p in pids)
