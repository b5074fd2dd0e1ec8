"""Pipelines: `|`, results, fail-fast, the `yes | head -n1` case."""

from __future__ import annotations

import asyncio

import pytest

from conftest import alive, py
from cuprum import (
    ECHO, FALSE, HEAD, SEQ, TR, YES, Pipeline, PipelineResult, RunOutputOptions,
    TimeoutExpired, sh,
)


def test_pipe_operator_and_result() -> None:
    p = sh.make(ECHO)("-n", "hello") | sh.make(TR)("a-z", "A-Z")
    assert isinstance(p, Pipeline) and len(p.parts) == 2
    r = p.run_sync()
    assert isinstance(r, PipelineResult)
    assert r.stdout == "HELLO" and r.ok and r.failure is None
    assert r.stages[0].stdout is None and r.final.stdout == "HELLO"
    assert [s.exit_code for s in r.stages] == [0, 0]
    assert len((p | sh.make(TR)("H", "J")).parts) == 3


def test_yes_head_does_not_hang() -> None:
    # The pure-Python cuprum hung here: `yes` never sees EOF on its stdin
    # side and nothing tore it down once `head` had exited.
    r = (sh.make(YES)() | sh.make(HEAD)("-n1")).run_sync(timeout=60)
    assert r.stdout == "y\n" and r.ok
    assert not alive(r.stages[0].pid)


def test_fail_fast_names_the_failing_stage() -> None:
    r = (py("import time;time.sleep(60)") | sh.make(FALSE)()).run_sync()
    assert not r.ok and r.failure_index == 1 and r.failure.exit_code == 1
    assert not alive(r.stages[0].pid)


def test_large_payload_through_pipeline() -> None:
    r = (sh.make(SEQ)("200000") | sh.make(HEAD)("-c", "2000000")).run_sync()
    assert r.stdout.splitlines()[-1] == "200000"


def test_pipeline_timeout_and_no_capture() -> None:
    with pytest.raises(TimeoutExpired):
        (py("import time;time.sleep(60)") | sh.make(HEAD)()).run_sync(timeout=0.3)
    r = (sh.make(ECHO)("x") | sh.make(HEAD)()).run_sync(
        output=RunOutputOptions(capture=False))
    assert r.stdout is None and r.ok


def test_async_pipeline() -> None:
    async def main() -> PipelineResult:
        return await (sh.make(SEQ)("3") | sh.make(TR)("\n", ",")).run()
    assert asyncio.run(main()).stdout == "1,2,3,"
