"""Cancelling the awaiting asyncio task cancels the run: TERM, grace,
KILL of the whole process group, grandchildren included; nothing is left."""

from __future__ import annotations

import asyncio

import pytest

from conftest import alive, exited, py
from cuprum import ExecEvent, ExecutionContext, observe

# The child starts a grandchild in its own process group membership (the
# run's group) and reports both pids, then waits for ever.
FAMILY = ("import subprocess,sys,os;"
          "g=subprocess.Popen([sys.executable,'-c','import time;time.sleep(600)']);"
          "print(os.getpid(),g.pid,flush=True);g.wait()")


def test_cancel_kills_child_and_grandchild() -> None:
    pids: list[int] = []

    async def main() -> None:
        started = asyncio.Event()

        def hook(e: ExecEvent) -> None:
            if e.phase == "stdout":
                pids.extend(int(x) for x in e.line.split())
                started.set()
        with observe(hook):
            task = asyncio.create_task(py(FAMILY).run())
        await started.wait()
        assert all(alive(p) for p in pids)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    asyncio.run(main())
    assert len(pids) == 2
    assert not alive(pids[0])  # the child was reaped before the await ended
    assert exited(pids[1])     # the grandchild was signalled with the group


def test_cancel_escalates_to_kill_after_grace() -> None:
    pids: list[int] = []
    code = ("import signal,os,time;signal.signal(signal.SIGTERM,signal.SIG_IGN);"
            "print(os.getpid(),flush=True);time.sleep(600)")

    async def main() -> None:
        started = asyncio.Event()

        def hook(e: ExecEvent) -> None:
            if e.phase == "stdout":
                pids.append(int(e.line))
                started.set()
        with observe(hook):
            task = asyncio.create_task(
                py(code).run(context=ExecutionContext(cancel_grace=0.2)))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    asyncio.run(main())
    assert pids and not alive(pids[0])


def test_wait_for_timeout_cancels_the_run(children_of_me) -> None:
    before = children_of_me()

    async def main() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(py("import time;time.sleep(600)").run(), 0.3)
    asyncio.run(main())
    assert children_of_me() - before == set()
