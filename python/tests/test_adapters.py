"""logging_hook and the adapters; secrets never reach a log or a span."""

from __future__ import annotations

import json
import logging

from conftest import py
from cuprum import ECHO, TR, Redaction, logging_hook, observe, sh
from cuprum.adapters.logging_adapter import JsonLoggingFormatter, structured_logging_hook
from cuprum.adapters.metrics_adapter import InMemoryMetrics, MetricsHook
from cuprum.adapters.tracing_adapter import InMemoryTracer, TracingHook

SECRET = "hunter2-s3cr3t"


def test_logging_hook_logs_start_and_exit_without_secrets(caplog) -> None:
    caplog.set_level(logging.INFO, logger="cuprum")
    with logging_hook():
        r = sh.make(ECHO)("--password", SECRET, f"API_TOKEN={SECRET}").run_sync()
    assert SECRET in r.stdout  # the child got the real values
    text = caplog.text
    assert "cuprum.start" in text and "cuprum.exit" in text
    assert "exit_code=0" in text
    assert SECRET not in text and "***" in text


def test_structured_logging_json_without_secrets() -> None:
    logger = logging.getLogger("cuprum.test.json")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    lines: list[str] = []

    class H(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))
    h = H()
    h.setFormatter(JsonLoggingFormatter())
    logger.addHandler(h)
    hook = structured_logging_hook(logger=logger, redaction=Redaction(patterns=("*s3cr3t*",)))
    with observe(hook):
        sh.make(ECHO)("-n", "hello", f"--token={SECRET}").run_sync()
    logger.removeHandler(h)
    records = [json.loads(x) for x in lines]
    assert [r["cuprum_phase"] for r in records] == ["plan", "start", "stdout", "exit"]
    assert records[-1]["cuprum_exit_code"] == 0
    # The argv is redacted; the output line itself is the child's business.
    assert all(SECRET not in json.dumps(r["cuprum_argv"]) for r in records)


def test_redaction_env_uses_the_instance_rules() -> None:
    # Environment overlays follow the same rules as argv: the caller's
    # value globs and extra names, and no_default_names.
    env = {"MYVAR": "x", "OTHER": "hunter2", "API_KEY": "k", "PLAIN": "v"}
    assert Redaction().env(env) == {"MYVAR": "x", "OTHER": "hunter2",
                                    "API_KEY": "***", "PLAIN": "v"}
    r = Redaction(secret_names=("MYVAR",), patterns=("hunter*",))
    assert r.env(env) == {"MYVAR": "***", "OTHER": "***", "API_KEY": "***",
                          "PLAIN": "v"}
    assert Redaction(no_default_names=True).env(env)["API_KEY"] == "k"


def test_metrics_hook() -> None:
    m = InMemoryMetrics()
    with observe(MetricsHook(m)):
        sh.make(ECHO)("a").run_sync()
        py("import sys;print('x');print('y',file=sys.stderr);sys.exit(3)").run_sync()
    assert m.counters["cuprum_executions_total"] == 2
    assert m.counters["cuprum_failures_total"] == 1
    assert m.counters["cuprum_stdout_lines_total"] == 2
    assert m.counters["cuprum_stderr_lines_total"] == 1
    assert len(m.histograms["cuprum_duration_seconds"]) == 2
    assert {lab["project"] for _, _, lab in m.labelled} == {"core-ops", "tests"}


def test_tracing_hook_spans_per_stage() -> None:
    t = InMemoryTracer()
    with observe(TracingHook(t)):
        (sh.make(ECHO)("a", f"--secret={SECRET}") | sh.make(TR)("a", "b")).run_sync()
    assert len(t.spans) == 2
    assert all(s.ended and s.ok for s in t.spans)
    first = next(s for s in t.spans if s.attributes["cuprum.pipeline_stage_index"] == 0)
    assert first.name == "cuprum.exec echo"
    assert SECRET not in json.dumps(first.attributes, default=str)
    last = next(s for s in t.spans if s.attributes["cuprum.pipeline_stage_index"] == 1)
    assert [e[0] for e in last.events] == ["cuprum.stdout"]
    assert last.events[0][1]["line"].startswith("b --secret=")
