"""``logging_hook()``: start and exit records through the stdlib logging."""

from __future__ import annotations

import logging
import time
import typing as typ

from cuprum.context import HookRegistration, after, before
from cuprum.redaction import DEFAULT_REDACTION, Redaction


class LoggingHookRegistration:
    """Both registrations of a logging hook; ``detach()`` or ``with``."""

    def __init__(self, regs: tuple[HookRegistration, ...]) -> None:
        self._regs = regs

    def detach(self) -> None:
        """Remove both hooks."""
        for r in reversed(self._regs):
            r.detach()

    def __enter__(self) -> LoggingHookRegistration:
        return self

    def __exit__(self, *exc: object) -> None:
        self.detach()


def logging_hook(*, logger: logging.Logger | None = None,
                 start_level: int = logging.INFO, exit_level: int = logging.INFO,
                 redaction: Redaction = DEFAULT_REDACTION) -> LoggingHookRegistration:
    """Log each run's start (program, argv) and exit (pid, exit code,
    duration, output sizes). argv is redacted (cuprum.redaction)."""
    log = logger or logging.getLogger("cuprum")
    starts: dict[int, float] = {}

    def on_start(cmd: typ.Any) -> None:
        starts[id(cmd)] = time.monotonic()
        log.log(start_level, "cuprum.start program=%s argv=%s", cmd.program,
                redaction.argv(cmd.argv_with_program))

    def on_exit(cmd: typ.Any, result: typ.Any) -> None:
        t0 = starts.pop(id(cmd), None)
        dur = time.monotonic() - t0 if t0 is not None else 0.0
        final = getattr(result, "final", result)
        log.log(exit_level,
                "cuprum.exit program=%s pid=%s exit_code=%s duration=%.6f "
                "stdout_len=%d stderr_len=%d", cmd.program, final.pid,
                final.exit_code, dur, len(final.stdout or ""),
                len(final.stderr or ""))

    return LoggingHookRegistration((before(on_start), after(on_exit)))
