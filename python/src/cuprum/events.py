"""ExecEvent: the structured events observers receive."""

from __future__ import annotations

import dataclasses as dc
import typing as typ

from cuprum import _native
from cuprum.program import Program

if typ.TYPE_CHECKING:
    import collections.abc as cabc
    from pathlib import Path

ExecPhase = typ.Literal["plan", "start", "stdout", "stderr", "stdin",
                        "stdin_error", "exit"]


@dc.dataclass(frozen=True, slots=True)
class ExecEvent:
    """One event of one execution (one command, or one pipeline stage).

    ``exec_id`` is the same for every event of one execution: correlate by
    it, not by ``pid`` (the kernel recycles pids)."""

    phase: ExecPhase
    program: Program
    argv: tuple[str, ...]
    cwd: Path | None
    env: cabc.Mapping[str, str] | None
    pid: int | None
    timestamp: float
    line: str | None
    exit_code: int | None
    duration_s: float | None
    tags: cabc.Mapping[str, object]
    note: str | None = None
    byte_count: int | None = None
    operation: str | None = None
    error_type: str | None = None
    exec_id: str | None = None


ExecHook = typ.Callable[[ExecEvent], typ.Any]


# A line event is built per output line: the frozen dataclass __init__
# (object.__setattr__ per field) costs over ten times more than writing the
# slots directly, so the run's observer builds events through the slot
# descriptors. The result is an ordinary, frozen ExecEvent.
_SETTERS = tuple(getattr(ExecEvent, f.name).__set__ for f in dc.fields(ExecEvent))


def make_event(*values: typ.Any) -> ExecEvent:
    """An ExecEvent from every field's value, in declaration order."""
    ev = object.__new__(ExecEvent)
    for setter, value in zip(_SETTERS, values, strict=True):
        setter(ev, value)
    return ev


_native.set_event_type(ExecEvent, tuple(f.name for f in dc.fields(ExecEvent)))
