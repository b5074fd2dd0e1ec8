"""Prometheus-style metrics from ExecEvents through a small protocol."""

from __future__ import annotations

import collections
import threading
import typing as typ

if typ.TYPE_CHECKING:
    from cuprum.events import ExecEvent


class MetricsCollector(typ.Protocol):
    """What the hook needs from a metrics backend."""

    def inc_counter(self, name: str, value: float, labels: dict[str, str]) -> None: ...

    def observe_histogram(self, name: str, value: float,
                          labels: dict[str, str]) -> None: ...


class InMemoryMetrics:
    """A MetricsCollector keeping totals (by name) and observations."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: dict[str, float] = collections.defaultdict(float)
        self.histograms: dict[str, list[float]] = collections.defaultdict(list)
        self.labelled: list[tuple[str, float, dict[str, str]]] = []

    def inc_counter(self, name: str, value: float, labels: dict[str, str]) -> None:
        with self._lock:
            self.counters[name] += value
            self.labelled.append((name, value, labels))

    def observe_histogram(self, name: str, value: float,
                          labels: dict[str, str]) -> None:
        with self._lock:
            self.histograms[name].append(value)
            self.labelled.append((name, value, labels))


class MetricsHook:
    """An observe hook: executions, failures, durations, output lines,
    labelled by program and project."""

    def __init__(self, collector: MetricsCollector) -> None:
        self.collector = collector

    def __call__(self, ev: ExecEvent) -> None:
        project = ev.tags.get("project") or "unknown"
        labels = {"program": str(ev.program), "project": str(project)}
        c = self.collector
        if ev.phase == "start":
            c.inc_counter("cuprum_executions_total", 1.0, labels)
        elif ev.phase == "exit":
            if ev.exit_code not in (0, None):
                c.inc_counter("cuprum_failures_total", 1.0, labels)
            if ev.duration_s is not None:
                c.observe_histogram("cuprum_duration_seconds", ev.duration_s, labels)
        elif ev.phase in ("stdout", "stderr"):
            c.inc_counter(f"cuprum_{ev.phase}_lines_total", 1.0, labels)
