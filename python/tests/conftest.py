"""Shared helpers: a catalogue that allows this interpreter (a child that
can do anything a test needs) and process-table checks through /proc."""

from __future__ import annotations

import os
import select
import sys
from pathlib import Path

import pytest

from cuprum import Program, ProgramCatalogue, ProjectSettings, sh

PYTHON = Program(str(Path(sys.executable).resolve()))
CATALOGUE = ProgramCatalogue(projects=(ProjectSettings(
    name="tests", programs=(PYTHON, Program("sleep"), Program("printf"),
                            Program("yes"), Program("head"), Program("cat"),
                            Program("echo"), Program("false"), Program("true"),
                            Program("pwd"), Program("sh-not-here")),
    documentation_locations=("python/tests",), noise_rules=(r"^noise:",)),))


def py(code: str, *args: str) -> sh.SafeCmd:
    """A command running ``code`` in this interpreter."""
    return sh.make(PYTHON, catalogue=CATALOGUE)("-c", code, *args)


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in (b"Z", b"X")


def exited(pid: int, timeout: float | None = None) -> bool:
    """Wait (for the event, through a pidfd) until ``pid`` has exited; a
    reparented grandchild that was signalled is reaped by someone else, so
    this waits for its death, bounded by the build's slack."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        if not alive(pid):
            return True
        ready, _, _ = select.select([fd], [], [], timeout or 2 * slack())
        return bool(ready) or not alive(pid)
    finally:
        os.close(fd)


def slack() -> float:
    """Seconds of timing slack for this build (ctest sets it)."""
    return int(os.environ.get("CU_TEST_SLACK_MS", "1000")) / 1000


@pytest.fixture
def children_of_me():
    """The pids of this process's children, before and after a test."""
    def snapshot() -> set[int]:
        me = os.getpid()
        out = set()
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    stat = (d / "stat").read_bytes().rsplit(b")", 1)[1].split()
                except OSError:
                    continue
                if int(stat[1]) == me:
                    out.add(int(d.name))
        return out
    return snapshot
