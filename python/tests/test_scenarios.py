"""The behaviour scenarios of the Python design (leynos/cuprum's
tests/features/*.feature and the test scenarios its design document names),
each written anew as a test of this package. python/SCENARIOS.md maps every
scenario to its test here, or says why it does not apply. Test names are
``test_<feature>__<scenario>``."""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import threading
import typing as typ

import pytest

from conftest import CATALOGUE, PYTHON, alive, exited, py, slack
from cuprum import (
    CORE_OPS_PROJECT, DEFAULT_CATALOGUE, ECHO, LS, ConcurrentConfig,
    ExecEvent, ExecutionContext, Program, ScopeConfig, StdinInput,
    TimeoutExpired, UnknownProgramError, after, before, current_context, env,
    logging_hook, observe, run_concurrent_sync, scoped, sh,
)
from cuprum.adapters.logging_adapter import structured_logging_hook
from cuprum.adapters.metrics_adapter import InMemoryMetrics, MetricsHook
from cuprum.adapters.tracing_adapter import InMemoryTracer, TracingHook
from cuprum.builders import (
    Compression, RsyncOptions, TarCreateOptions, git_checkout, rsync_sync,
    tar_create,
)

CAT = sh.make(Program("cat"), catalogue=CATALOGUE)
HEAD = sh.make(Program("head"), catalogue=CATALOGUE)
UPPER = "import sys; sys.stdout.write(sys.stdin.read().upper())"
SLEEPER = "import time; time.sleep(600)"


def _started_pids() -> tuple[list[int], typ.Callable[[ExecEvent], None]]:
    """A list of started pids and the observer that fills it (registered
    with ``observe`` where it is used: a registration belongs to the
    context current when it is made)."""
    pids: list[int] = []

    def record(ev: ExecEvent) -> None:
        if ev.phase == "start":
            pids.append(ev.pid)
    return pids, record


# ------------------------------------------------------ catalogue.feature

def test_catalogue__unknown_program_is_blocked_by_default() -> None:
    with pytest.raises(UnknownProgramError):
        DEFAULT_CATALOGUE.lookup(Program("unknown-tool"))
    with pytest.raises(UnknownProgramError):
        sh.make(Program("unknown-tool"))


def test_catalogue__projects_expose_metadata_for_downstream_services() -> None:
    core = DEFAULT_CATALOGUE.visible_settings()["core-ops"]
    assert core is not None and core == CORE_OPS_PROJECT
    assert core.noise_rules and core.documentation_locations
    assert ECHO in core.programs


def test_catalogue__curated_program_is_accepted_via_the_public_api() -> None:
    entry = DEFAULT_CATALOGUE.lookup(ECHO)
    assert entry.project_name == "core-ops"
    assert isinstance(entry.program, str) and entry.program == ECHO
    assert DEFAULT_CATALOGUE.is_allowed("ls")


def test_catalogue__safe_command_builder_constructs_typed_argv() -> None:
    cmd = sh.make(ECHO)("-n", "hello world")
    assert cmd.argv_with_program == ("echo", "-n", "hello world")
    assert cmd.project.name == "core-ops" and cmd.project.noise_rules


# ------------------------------------------------- builder_library.feature

def test_builder_library__git_checkout_builder_constructs_argv() -> None:
    # Ours ends with "--": the ref is never read as a path (SCENARIOS.md).
    assert git_checkout("main").argv_with_program == (
        "git", "checkout", "main", "--")


def test_builder_library__invalid_git_ref_is_rejected() -> None:
    with pytest.raises(ValueError):
        git_checkout("bad ref")


def test_builder_library__rsync_builder_constructs_argv_with_safe_paths(
        tmp_path) -> None:
    src, dst = (tmp_path / "source").as_posix(), (tmp_path / "destination").as_posix()
    cmd = rsync_sync(src, dst, options=RsyncOptions(archive=True))
    assert cmd.argv_with_program == ("rsync", "--archive", "--", src, dst)


def test_builder_library__tar_create_builder_constructs_argv(tmp_path) -> None:
    archive = (tmp_path / "archive.tar.gz").as_posix()
    sources = [(tmp_path / "data").as_posix(), (tmp_path / "more").as_posix()]
    cmd = tar_create(archive, sources,
                     options=TarCreateOptions(compression=Compression.GZIP))
    assert cmd.argv_with_program == ("tar", "-c", "-z", "-f", archive, "--",
                                     *sources)


# ---------------------------------------------- concurrency_helper.feature

def test_concurrency_helper__execute_commands_concurrently_and_collect_results() -> None:
    echo = sh.make(ECHO)
    with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
        r = run_concurrent_sync(echo("-n", "first"), echo("-n", "second"),
                                echo("-n", "third"))
    assert [x.stdout for x in r.results] == ["first", "second", "third"]
    assert r.ok and r.failures == ()


def test_concurrency_helper__concurrency_limit_restricts_parallel_execution() -> None:
    # The limit is read from the events (how many ran at once), not time.
    running, peak, lock = [0], [0], threading.Lock()

    def count(ev: ExecEvent) -> None:
        with lock:
            if ev.phase == "start":
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            elif ev.phase == "exit":
                running[0] -= 1

    cmds = [py("import time; time.sleep(0.1); print('done')") for _ in range(4)]
    with scoped(ScopeConfig(allowlist=frozenset([PYTHON]))), observe(count):
        r = run_concurrent_sync(*cmds, config=ConcurrentConfig(concurrency=2))
    assert r.ok and len(r.results) == 4
    assert [x.stdout for x in r.results] == ["done\n"] * 4
    assert 1 <= peak[0] <= 2


def test_concurrency_helper__failed_commands_are_collected_in_results() -> None:
    cmds = [py("print('success1')"), py("import sys; sys.exit(42)"),
            py("print('success2')")]
    r = run_concurrent_sync(*cmds, config=ConcurrentConfig(fail_fast=False))
    assert len(r.results) == 3 and not r.ok
    assert r.failures == (1,) and r.first_failure.exit_code == 42


def test_concurrency_helper__fail_fast_cancels_pending_commands() -> None:
    pids, hook = _started_pids()
    with observe(hook):
        r = run_concurrent_sync(py("import sys; sys.exit(1)"), py(SLEEPER),
                                config=ConcurrentConfig(fail_fast=True))
    assert not r.ok and r.first_failure is not None
    assert r.first_failure.exit_code == 1
    # "Quickly": the slow command did not run its course, it was stopped.
    assert all(exited(pid) for pid in pids)


# --------------------------------------------------- context_hooks.feature

def test_context_hooks__scoped_context_narrows_allowlist() -> None:
    with scoped(ScopeConfig(allowlist=frozenset([ECHO, LS]))), \
            scoped(ScopeConfig(allowlist=frozenset([ECHO]))) as inner:
        assert inner.is_allowed(ECHO) and not inner.is_allowed(LS)


def test_context_hooks__context_restores_after_scope_exits() -> None:
    with scoped(ScopeConfig(allowlist=frozenset([ECHO, LS]))) as outer:
        with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
            pass
        assert current_context() is outer and outer.is_allowed(LS)


def test_context_hooks__before_hooks_execute_in_registration_order() -> None:
    calls: list[int] = []
    with scoped(ScopeConfig()), before(lambda c: calls.append(1)), \
            before(lambda c: calls.append(2)), before(lambda c: calls.append(3)):
        sh.make(ECHO)("x").run_sync()
    assert calls == [1, 2, 3]


def test_context_hooks__after_hooks_execute_in_reverse_order() -> None:
    calls: list[int] = []
    with scoped(ScopeConfig()), after(lambda c, r: calls.append(1)), \
            after(lambda c, r: calls.append(2)), after(lambda c, r: calls.append(3)):
        sh.make(ECHO)("x").run_sync()
    assert calls == [3, 2, 1]


def test_context_hooks__hook_registration_can_be_detached() -> None:
    calls: list[str] = []

    def hook(cmd: sh.SafeCmd) -> None:
        calls.append(cmd.program)

    with scoped(ScopeConfig()):
        reg = before(hook)
        assert hook in current_context().before_hooks
        reg.detach()
        assert hook not in current_context().before_hooks
        sh.make(ECHO)("x").run_sync()
    assert calls == []


def test_context_hooks__context_is_isolated_across_threads() -> None:
    seen: dict[str, tuple[bool, bool]] = {}
    both_in = threading.Barrier(2)

    def worker(name: str, allowed: frozenset[Program]) -> None:
        with scoped(ScopeConfig(allowlist=allowed)):
            both_in.wait()
            ctx = current_context()
            seen[name] = (ctx.is_allowed(ECHO), ctx.is_allowed(LS))
            both_in.wait()

    threads = [threading.Thread(target=worker, args=("echo", frozenset([ECHO]))),
               threading.Thread(target=worker, args=("ls", frozenset([LS])))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"echo": (True, False), "ls": (False, True)}


def test_context_hooks__context_is_isolated_across_async_tasks() -> None:
    async def task(allowed: frozenset[Program], mine: asyncio.Event,
                   theirs: asyncio.Event) -> tuple[bool, bool]:
        with scoped(ScopeConfig(allowlist=allowed)):
            mine.set()
            await theirs.wait()
            ctx = current_context()
            return ctx.is_allowed(ECHO), ctx.is_allowed(LS)

    async def main() -> list[tuple[bool, bool]]:
        a, b = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(task(frozenset([ECHO]), a, b),
                                    task(frozenset([LS]), b, a))

    assert asyncio.run(main()) == [(True, False), (False, True)]


# ----------------------------------------------------- env_context.feature

def test_env_context__overlay_is_visible_to_a_subprocess_spawned_in_scope() -> None:
    with env(CUPRUM_BDD_VAR="scope-value"):
        r = py("import os; print(os.environ['CUPRUM_BDD_VAR'])").run_sync()
    assert r.stdout == "scope-value\n"


def test_env_context__variables_set_in_os_environ_after_entering_the_scope_are_visible(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with env(CUPRUM_BDD_OTHER="x"):
        monkeypatch.setenv("CUPRUM_BDD_LIVE", "set-after-entering")
        r = py("import os; print(os.environ['CUPRUM_BDD_LIVE'])").run_sync()
    assert r.stdout == "set-after-entering\n"


# ------------------------------------------------ execution_runtime.feature

def test_execution_runtime__run_captures_output_by_default() -> None:
    r = asyncio.run(sh.make(ECHO)("-n", "hello").run())
    assert (r.stdout, r.exit_code, r.ok) == ("hello", 0, True)


def test_execution_runtime__cancellation_terminates_running_subprocess() -> None:
    async def main() -> int:
        started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        with observe(lambda ev: ev.phase == "start" and started.set_result(ev.pid)):
            task = asyncio.ensure_future(py(SLEEPER).run())
            pid = await started
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        return pid
    pid = asyncio.run(main())
    assert not alive(pid)


def test_execution_runtime__timeout_terminates_running_subprocess() -> None:
    pids, hook = _started_pids()
    with observe(hook), pytest.raises(TimeoutExpired) as info:
        py(SLEEPER).run_sync(timeout=0.2)
    assert info.value.timeout == 0.2
    assert len(pids) == 1 and not alive(pids[0])


@pytest.mark.parametrize("timeout", [0, -1])
def test_execution_runtime__non_positive_timeout_terminates_running_subprocess_immediately(
        timeout: float) -> None:
    pids, hook = _started_pids()
    with observe(hook), pytest.raises(TimeoutExpired):
        py(SLEEPER).run_sync(timeout=timeout)
    assert all(not alive(pid) for pid in pids)


def test_execution_runtime__cancellation_escalates_a_non_cooperative_subprocess() -> None:
    stubborn = py("import signal, sys, time\n"
                  "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                  "print('ready', flush=True)\ntime.sleep(600)")

    async def main() -> int:
        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def hook(ev: ExecEvent) -> None:
            if ev.phase == "stdout" and ev.line == "ready" and not ready.done():
                ready.set_result(ev.pid)  # SIGTERM is ignored from here on
        with observe(hook):
            task = asyncio.ensure_future(
                stubborn.run(context=ExecutionContext(cancel_grace=0.1)))
            pid = await ready
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        return pid
    assert not alive(asyncio.run(main()))


def test_execution_runtime__sync_run_captures_output_by_default() -> None:
    r = sh.make(ECHO)("-n", "hello").run_sync()
    assert (r.stdout, r.stderr, r.ok) == ("hello", "", True)


def test_execution_runtime__run_passes_direct_stdin_input_to_the_command() -> None:
    r = CAT().run_sync(stdin=StdinInput(text="from stdin\n"))
    assert r.stdout == "from stdin\n" and r.ok


# ------------------------------------------------------ logging_hook.feature

def test_logging_hook__logging_hook_emits_start_and_exit_events(caplog) -> None:
    caplog.set_level(logging.INFO, logger="cuprum")
    with scoped(ScopeConfig(allowlist=frozenset([ECHO]))), logging_hook():
        sh.make(ECHO)("-n", "logged").run_sync()
    messages = [r.getMessage() for r in caplog.records]
    assert any("cuprum.start" in m for m in messages)
    assert any("cuprum.exit" in m for m in messages)


# ------------------------------------------------- pipeline_execution.feature

def _stage_codes(r) -> list[int]:
    return [s.exit_code for s in r.stages]


def test_pipeline_execution__pipeline_streams_output_between_stages() -> None:
    r = (sh.make(ECHO)("-n", "behaviour") | py(UPPER)).run_sync()
    assert r.stdout == "BEHAVIOUR"
    assert _stage_codes(r) == [0, 0] and all(s.pid > 0 for s in r.stages)


def test_pipeline_execution__pipeline_can_run_asynchronously() -> None:
    r = asyncio.run((sh.make(ECHO)("-n", "behaviour") | py(UPPER)).run())
    assert r.stdout == "BEHAVIOUR" and r.ok


def _assert_failed_fast(r, failing: int) -> None:
    assert len(r.stages) == 3 and not r.ok
    assert r.failure_index == failing and r.failure is r.stages[failing]
    assert r.failure.exit_code != 0
    # Every stage still running was stopped, none ran its two seconds out.
    assert all(s.exit_code != 0 for s in r.stages[failing + 1:])
    assert all(s.pid > 0 and not alive(s.pid) for s in r.stages)


def test_pipeline_execution__pipeline_reports_metadata_when_a_stage_fails() -> None:
    r = (py("import sys; sys.exit(7)") | py(SLEEPER) | py(SLEEPER)).run_sync()
    _assert_failed_fast(r, 0)
    assert r.failure.exit_code == 7


def test_pipeline_execution__pipeline_fails_fast_when_a_middle_stage_fails() -> None:
    r = (py(SLEEPER) | py("import sys; sys.exit(3)") | py(SLEEPER)).run_sync()
    _assert_failed_fast(r, 1)
    assert r.failure.exit_code == 3 and r.stages[0].exit_code != 0


def test_pipeline_execution__pipeline_surfaces_the_failing_stage_when_the_final_stage_fails() -> None:
    # Fail-fast stops whatever still runs when any stage fails, so each
    # stage reads its input to the end first: the earlier stages have
    # exited (0) by the time the last one fails.
    relay = "import sys; sys.stdout.write(sys.stdin.read())"
    last = "import sys; sys.stdin.read(); sys.exit(5)"
    r = (py("pass") | py(relay) | py(last)).run_sync()
    assert _stage_codes(r) == [0, 0, 5]
    assert r.failure_index == 2 and r.failure is r.stages[-1] and not r.ok


# -------------------------------------------------- structured_events.feature

def test_structured_events__observe_hook_receives_output_events_and_timing_metadata() -> None:
    events: list[ExecEvent] = []
    code = "import sys; print('out1'); print('out2'); print('err1', file=sys.stderr)"
    with scoped(ScopeConfig(allowlist=frozenset([PYTHON]))), observe(events.append):
        py(code).run_sync(context=ExecutionContext(tags={"run_id": "bdd"}))
    assert {e.line for e in events if e.phase == "stdout"} == {"out1", "out2"}
    assert {e.line for e in events if e.phase == "stderr"} == {"err1"}
    start = next(e for e in events if e.phase == "start")
    end = next(e for e in events if e.phase == "exit")
    assert start.pid > 0 and end.exit_code == 0 and end.duration_s >= 0
    for ev in (start, end):
        assert ev.tags["run_id"] == "bdd" and ev.tags["project"] == "tests"


# ------------------------------------------------ telemetry_adapters.feature

OUT_AND_ERR = "import sys; print('to-out'); print('to-err', file=sys.stderr)"
FAILS = "import sys; sys.exit(1)"


def test_telemetry_adapters__structured_logging_hook_emits_structured_records() -> None:
    records: list[logging.LogRecord] = []
    logger = logging.getLogger("cuprum.test.scenario")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        with observe(structured_logging_hook(logger=logger)):
            py(OUT_AND_ERR).run_sync()
    finally:
        logger.removeHandler(handler)
    messages = [r.getMessage() for r in records]
    for phase in ("plan", "start", "stdout", "stderr", "exit"):
        assert any(m.startswith(f"cuprum.{phase} ") for m in messages), phase
    start = next(r for r in records if r.cuprum_phase == "start")
    assert start.cuprum_program == PYTHON and start.cuprum_pid > 0


def test_telemetry_adapters__metrics_hook_collects_execution_counters_and_histograms() -> None:
    m = InMemoryMetrics()
    with observe(MetricsHook(m)):
        py("print('ok')").run_sync()
    assert m.counters["cuprum_executions_total"] == pytest.approx(1.0)
    durations = m.histograms["cuprum_duration_seconds"]
    assert len(durations) == 1 and durations[0] >= 0.0


def test_telemetry_adapters__metrics_hook_tracks_failure_counts() -> None:
    m = InMemoryMetrics()
    with observe(MetricsHook(m)):
        py(FAILS).run_sync()
    assert m.counters["cuprum_failures_total"] == pytest.approx(1.0)


def test_telemetry_adapters__tracing_hook_creates_spans_with_attributes() -> None:
    t = InMemoryTracer()
    with observe(TracingHook(t)):
        py(OUT_AND_ERR).run_sync()
    assert len(t.spans) == 1
    span = t.spans[0]
    assert span.ended and span.status_ok is True
    assert span.attributes["cuprum.program"] == PYTHON
    assert span.attributes["cuprum.exit_code"] == 0
    names = [name for name, _ in span.events]
    assert "cuprum.stdout" in names and "cuprum.stderr" in names


def test_telemetry_adapters__tracing_hook_sets_error_status_on_failure() -> None:
    t = InMemoryTracer()
    with observe(TracingHook(t)):
        py(FAILS).run_sync()
    assert t.spans[0].status_ok is False
    assert t.spans[0].attributes["cuprum.exit_code"] == 1


# ---------------------------------- backend_dispatcher / stream_backend_pipeline
# Our backends are libcuprum's ("splice", "readwrite"); the Python design's
# are "rust" and "python". The scenarios map as SCENARIOS.md explains.

# CUPRUM_STREAM_BACKEND is read once per process (as the Python design's
# "before first backend resolution"), so the environment cases run in a
# fresh interpreter.
RESOLVE = ("from cuprum import sh\n"
           "try:\n    print(sh.stream_backend())\n"
           "except ValueError as e:\n    print('ValueError', e)")


def _resolved_in_child(value: str | None) -> str:
    ctx = ExecutionContext(env={"CUPRUM_STREAM_BACKEND": value} if value else None)
    return py(RESOLVE).run_sync(context=ctx).stdout.strip()


def test_backend_dispatcher__auto_mode_selects_an_available_backend() -> None:
    assert sh.stream_backend() in ("splice", "readwrite")
    assert sh.stream_backend("auto") == sh.stream_backend()
    assert _resolved_in_child("auto") in ("splice", "readwrite")


def test_backend_dispatcher__forcing_an_unknown_backend_raises() -> None:
    with pytest.raises(ValueError):
        sh.stream_backend("rust")
    with pytest.raises(ValueError):
        sh.make(ECHO)("x").run_sync(context=ExecutionContext(stream_backend="rust"))
    assert _resolved_in_child("rust").startswith("ValueError")


def test_backend_dispatcher__forced_readwrite_mode_always_selects_readwrite() -> None:
    assert sh.stream_backend("readwrite") == "readwrite"
    assert _resolved_in_child("readwrite") == "readwrite"


def _backends() -> list[str]:
    out = ["readwrite"]
    try:
        out.append(sh.stream_backend("splice"))
    except ValueError:
        pass  # the kernel or build has no splice: readwrite alone
    return out


BACKENDS = _backends()


@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
def test_stream_backend_pipeline__pipeline_streams_output_using_each_backend(
        backend: str) -> None:
    r = (sh.make(ECHO)("-n", "hello") | py(UPPER)).run_sync(
        context=ExecutionContext(stream_backend=backend))
    assert r.stdout == "HELLO" and _stage_codes(r) == [0, 0]


# ------------------------------------------------------ stream_fidelity.feature

def test_stream_fidelity__pipeline_preserves_512_lines_of_random_data() -> None:
    rng = random.Random(512)
    lines = [base64.b64encode(rng.randbytes(48)).decode() for _ in range(512)]
    payload = "\n".join(lines) + "\n"
    r = (CAT() | CAT()).run_sync(stdin=StdinInput(text=payload))
    assert r.stdout == payload and r.ok


# ------------------------------------------------------- stream_parity.feature

@pytest.mark.parametrize("backend", BACKENDS)
def test_stream_parity__empty_stream_produces_identical_output_across_backends(
        backend: str) -> None:
    r = (py("pass") | CAT()).run_sync(context=ExecutionContext(stream_backend=backend))
    assert r.stdout == "" and r.ok


UTF8 = "héllo wörld ✓ 日本語 🚀 " * 200


@pytest.mark.parametrize("backend", BACKENDS)
def test_stream_parity__multi_byte_utf8_survives_pipeline_across_backends(
        backend: str) -> None:
    code = f"import sys; sys.stdout.buffer.write({UTF8!r}.encode())"
    r = (py(code) | CAT()).run_sync(context=ExecutionContext(stream_backend=backend))
    assert r.stdout == UTF8 and r.ok


@pytest.mark.parametrize("backend", BACKENDS)
def test_stream_parity__broken_pipe_is_handled_gracefully_across_backends(
        backend: str) -> None:
    upstream = "import sys\nwhile True: sys.stdout.buffer.write(b'0123456789abcdef' * 4096)"
    downstream = ("import os, sys; sys.stdout.buffer.write(os.read(0, 10)); "
                  "sys.stdout.flush()")
    r = (py(upstream) | py(downstream)).run_sync(
        timeout=60 * slack(), context=ExecutionContext(stream_backend=backend))
    assert r.stdout == "0123456789"
    assert r.stages[1].exit_code == 0 and not alive(r.stages[0].pid)


@pytest.mark.parametrize("backend", BACKENDS)
def test_stream_parity__large_payload_survives_backpressure_across_backends(
        backend: str) -> None:
    code = "import sys; sys.stdout.write('x' * (1024 * 1024))"
    r = (py(code) | CAT() | CAT()).run_sync(
        context=ExecutionContext(stream_backend=backend))
    assert r.stdout == "x" * (1024 * 1024) and r.ok


# ------------------------------------------ stream_property_preservation.feature

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("seed", "size"), [(60217, 257), (60218, 4352)])
def test_stream_property_preservation__random_payload_preserves_bytes_across_chunk_boundaries(
        seed: int, size: int, backend: str) -> None:
    payload = random.Random(seed).randbytes(size)
    code = ("import sys; d = sys.stdin.buffer.read(); "
            "sys.stdout.write(d.hex())")
    r = (CAT() | py(code)).run_sync(stdin=StdinInput(data=payload),
                                    context=ExecutionContext(stream_backend=backend))
    assert r.stdout == payload.hex() and r.ok


# ------------------------------------------------ cuprum-design.md scenarios

def test_design__scoped_timeout_applies_when_the_context_timeout_is_none() -> None:
    # "within scoped(ScopeConfig(timeout=3.0)), ExecutionContext(timeout=None)
    # still applies the scoped timeout" (a shorter one here).
    pids, hook = _started_pids()
    with scoped(ScopeConfig(timeout=0.2)), observe(hook), \
            pytest.raises(TimeoutExpired) as info:
        py(SLEEPER).run_sync(context=ExecutionContext(timeout=None))
    assert info.value.timeout == 0.2 and not alive(pids[0])


def test_design__explicit_timeout_beats_context_and_scope() -> None:
    with scoped(ScopeConfig(timeout=600)), pytest.raises(TimeoutExpired) as info:
        py(SLEEPER).run_sync(timeout=0.2, context=ExecutionContext(timeout=300))
    assert info.value.timeout == 0.2
    with scoped(ScopeConfig(timeout=600)), pytest.raises(TimeoutExpired) as info:
        py(SLEEPER).run_sync(context=ExecutionContext(timeout=0.2))
    assert info.value.timeout == 0.2


def test_design__pipeline_timeout_stops_every_stage_with_partial_output() -> None:
    pids, hook = _started_pids()
    code = "import sys, time; print('partial', flush=True); time.sleep(600)"
    with observe(hook), pytest.raises(TimeoutExpired) as info:
        (py(code) | CAT()).run_sync(timeout=2 * slack())
    assert info.value.output == "partial\n"
    assert len(pids) == 2 and all(not alive(p) for p in pids)


# ------------------------------------------ rust_streams.feature (analogue)

@pytest.mark.parametrize("backend", BACKENDS)
def test_rust_streams__captured_output_replaces_invalid_utf8(backend: str) -> None:
    # The design tests its Rust decoder directly; ours decodes captured
    # output with the context's errors= ("replace" by default).
    code = "import sys; sys.stdout.buffer.write(b'ok\\xff\\xfe caf\\xc3\\xa9\\n')"
    r = py(code).run_sync(context=ExecutionContext(stream_backend=backend))
    assert r.stdout == "ok\ufffd\ufffd café\n"
    r = py(code).run_sync(context=ExecutionContext(errors="backslashreplace"))
    assert r.stdout == "ok\\xff\\xfe café\n"
