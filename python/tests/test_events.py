"""ExecEvent delivery, and the defects of the pure-Python cuprum that this
package fixes: CRLF split across reads, an observer raising."""

from __future__ import annotations

import asyncio

import pytest

from conftest import alive, py
from cuprum import ECHO, ExecEvent, ExecutionContext, observe, sh


def test_phases_ids_and_tags() -> None:
    events: list[ExecEvent] = []
    with observe(events.append):
        sh.make(ECHO)("-n", "hello events").run_sync(
            context=ExecutionContext(tags={"run_id": "demo"}))
    phases = [e.phase for e in events]
    assert phases == ["plan", "start", "stdout", "exit"]
    assert len({e.exec_id for e in events}) == 1
    assert events[-1].tags["run_id"] == "demo"
    assert events[-1].tags["project"] == "core-ops"
    assert events[2].line == "hello events"
    assert events[-1].exit_code == 0 and events[-1].duration_s >= 0
    assert events[1].pid and events[0].argv == ("echo", "-n", "hello events")


def test_pipeline_stage_tags() -> None:
    events: list[ExecEvent] = []
    with observe(events.append):
        (sh.make(ECHO)("a") | sh.make(ECHO)("b")).run_sync()
    stages = {e.tags["pipeline_stage_index"] for e in events if e.phase == "exit"}
    assert stages == {0, 1}
    assert len({e.exec_id for e in events}) == 2


def test_crlf_split_across_reads_is_one_line() -> None:
    # "\r" and "\n" arrive in two writes with a pause between them: the
    # pure-Python cuprum emitted an empty extra line here.
    code = ("import os,time;os.write(1,b'one\\r');time.sleep(0.2);"
            "os.write(1,b'\\ntwo\\r\\n')")
    lines: list[str] = []
    with observe(lambda e: e.phase == "stdout" and lines.append(e.line)):
        r = py(code).run_sync()
    assert lines == ["one", "two"]
    assert r.stdout == "one\r\ntwo\r\n"


class Boom(Exception):
    pass


def test_observer_raising_leaves_no_child_sync() -> None:
    pids: list[int] = []

    def hook(e: ExecEvent) -> None:
        if e.phase == "start":
            pids.append(e.pid)
        if e.phase == "stdout":
            raise Boom(e.line)
    code = "import time;print('go',flush=True);time.sleep(60)"
    with observe(hook), pytest.raises(Boom, match="go"):
        py(code).run_sync()
    assert pids and not alive(pids[0])


def test_observer_raising_leaves_no_child_async() -> None:
    pids: list[int] = []

    def hook(e: ExecEvent) -> None:
        if e.phase == "start":
            pids.append(e.pid)
            raise Boom("at start")

    async def main() -> None:
        with observe(hook):
            await py("import time;time.sleep(60)").run()
    with pytest.raises(Boom):
        asyncio.run(main())
    assert pids and not alive(pids[0])


def test_awaitable_hook_results_are_awaited() -> None:
    done: list[str] = []

    async def hook(e: ExecEvent) -> None:
        await asyncio.sleep(0)
        done.append(e.phase)

    async def main() -> None:
        with observe(hook):
            await sh.make(ECHO)("x").run()
    asyncio.run(main())
    assert sorted(done) == ["exit", "plan", "start", "stdout"]


def test_observer_gets_lines_without_capture() -> None:
    from cuprum import RunOutputOptions
    lines: list[str] = []
    with observe(lambda e: e.phase in ("stdout", "stderr") and lines.append(e.line)):
        r = py("import sys;print('out');print('err',file=sys.stderr)").run_sync(
            output=RunOutputOptions(capture=False))
    assert r.stdout is None and sorted(lines) == ["err", "out"]
