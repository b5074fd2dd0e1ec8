"""OpenTelemetry-style spans from ExecEvents through small protocols."""

from __future__ import annotations

import dataclasses as dc
import threading
import typing as typ

from cuprum.redaction import DEFAULT_REDACTION, Redaction

if typ.TYPE_CHECKING:
    from cuprum.events import ExecEvent


class Span(typ.Protocol):
    """What the hook needs from a span."""

    def set_attribute(self, key: str, value: object) -> None: ...
    def add_event(self, name: str, attributes: dict[str, object] | None = None) -> None: ...
    def set_status(self, *, ok: bool) -> None: ...
    def end(self) -> None: ...


class Tracer(typ.Protocol):
    """What the hook needs from a tracer."""

    def start_span(self, name: str,
                   attributes: dict[str, object] | None = None) -> Span: ...


@dc.dataclass
class InMemorySpan:
    """A recorded span."""

    name: str
    attributes: dict[str, object]
    events: list[tuple[str, dict[str, object]]] = dc.field(default_factory=list)
    ok: bool | None = None
    ended: bool = False

    def set_attribute(self, key: str, value: object) -> None:
        self.attributes[key] = value

    def add_event(self, name: str, attributes: dict[str, object] | None = None) -> None:
        self.events.append((name, dict(attributes or {})))

    def set_status(self, *, ok: bool) -> None:
        self.ok = ok

    @property
    def status_ok(self) -> bool | None:
        """The status set last (None: never set); the Python design's
        in-memory span names it so."""
        return self.ok

    def end(self) -> None:
        self.ended = True


class InMemoryTracer:
    """A Tracer keeping its spans."""

    def __init__(self) -> None:
        self.spans: list[InMemorySpan] = []

    def start_span(self, name: str,
                   attributes: dict[str, object] | None = None) -> InMemorySpan:
        span = InMemorySpan(name, dict(attributes or {}))
        self.spans.append(span)
        return span


class TracingHook:
    """One span per execution (per pipeline stage), correlated by
    ``exec_id``; output lines become span events when ``record_output``.
    argv is redacted."""

    def __init__(self, tracer: Tracer, *, record_output: bool = True,
                 redaction: Redaction = DEFAULT_REDACTION) -> None:
        self.tracer = tracer
        self.record_output = record_output
        self.redaction = redaction
        self._spans: dict[str, Span] = {}
        self._lock = threading.Lock()

    def __call__(self, ev: ExecEvent) -> None:
        if ev.exec_id is None:
            return
        if ev.phase == "start":
            attrs: dict[str, object] = {
                "cuprum.program": ev.program,
                "cuprum.argv": list(self.redaction.argv(ev.argv)),
                "cuprum.pid": ev.pid,
                "cuprum.project": ev.tags.get("project"),
            }
            if ev.cwd is not None:
                attrs["cuprum.cwd"] = str(ev.cwd)
            if "pipeline_stage_index" in ev.tags:
                attrs["cuprum.pipeline_stage_index"] = ev.tags["pipeline_stage_index"]
                attrs["cuprum.pipeline_stages"] = ev.tags["pipeline_stages"]
            span = self.tracer.start_span(f"cuprum.exec {ev.program}", attrs)
            with self._lock:
                self._spans[ev.exec_id] = span
            return
        with self._lock:
            span = self._spans.get(ev.exec_id)
            if ev.phase == "exit":
                self._spans.pop(ev.exec_id, None)
        if span is None:
            return
        if ev.phase in ("stdout", "stderr") and self.record_output:
            span.add_event(f"cuprum.{ev.phase}", {"line": ev.line})
        elif ev.phase == "exit":
            span.set_attribute("cuprum.exit_code", ev.exit_code)
            span.set_attribute("cuprum.duration_s", ev.duration_s)
            span.set_status(ok=ev.exit_code == 0)
            span.end()
