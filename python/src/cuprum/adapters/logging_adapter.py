"""An observe hook writing one structured log record per event."""

from __future__ import annotations

import json
import logging
import typing as typ

from cuprum.redaction import DEFAULT_REDACTION, Redaction

if typ.TYPE_CHECKING:
    from cuprum.events import ExecEvent

_LEVELS = {"stdout": logging.DEBUG, "stderr": logging.DEBUG}


def structured_logging_hook(*, logger: logging.Logger | None = None,
                            level: int = logging.INFO,
                            output_level: int = logging.DEBUG,
                            redaction: Redaction = DEFAULT_REDACTION
                            ) -> typ.Callable[[ExecEvent], None]:
    """Records with ``cuprum_*`` extras (phase, program, argv, pid,
    exit_code, duration_s, tags). argv and env are redacted."""
    log = logger or logging.getLogger("cuprum.exec")

    def hook(ev: ExecEvent) -> None:
        lvl = output_level if ev.phase in _LEVELS else level
        if not log.isEnabledFor(lvl):
            return
        extra = {
            "cuprum_phase": ev.phase, "cuprum_program": ev.program,
            "cuprum_argv": redaction.argv(ev.argv), "cuprum_pid": ev.pid,
            "cuprum_exit_code": ev.exit_code, "cuprum_duration_s": ev.duration_s,
            "cuprum_tags": dict(ev.tags), "cuprum_exec_id": ev.exec_id,
            "cuprum_env": redaction.env(ev.env),
        }
        msg = f"cuprum.{ev.phase} {ev.program}"
        if ev.line is not None:
            msg += f" {ev.line}"
        log.log(lvl, msg, extra=extra)

    return hook


class JsonLoggingFormatter(logging.Formatter):
    """One JSON object per record, with the ``cuprum_*`` extras."""

    def format(self, record: logging.LogRecord) -> str:
        data = {"level": record.levelname, "logger": record.name,
                "message": record.getMessage()}
        for k, v in record.__dict__.items():
            if k.startswith("cuprum_"):
                data[k] = v
        return json.dumps(data, default=str)
