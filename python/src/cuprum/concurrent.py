"""Many commands at once: ``run_concurrent`` / ``run_concurrent_sync``.

A limit of N keeps at most N children alive, the next command starting as
soon as one ends; results come back in submission order. Two engines:

- the batch (no context hooks, no observers, no echo: nothing to call in
  Python per command): the whole batch goes to libcuprum at once
  (``_native.batch_start``), run by worker threads without the GIL, and
  the results are built once at the end;
- otherwise each command runs on the libcuprum loop the single runs use
  (the asyncio loop's, or the thread's), so before/after hooks and
  observers fire per command exactly as for single runs.

Neither has a thread or asyncio subprocess transport per command.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses as dc
import os
import typing as typ

from cuprum import _engine, _native
from cuprum.catalogue import native_name
from cuprum.context import current_context
from cuprum.errors import from_native
from cuprum.sh import (CommandResult, ExecutionContext, RunOutputOptions, SafeCmd,
                       TimeoutExpired, _Run)

if typ.TYPE_CHECKING:
    from cuprum import _native


@dc.dataclass(frozen=True, slots=True)
class ConcurrentConfig:
    """``concurrency`` None = all at once, N = at most N running;
    ``fail_fast`` cancels the running commands (TERM, grace, KILL) and
    starts no more after the first failure."""

    concurrency: int | None = None
    capture: bool = True
    echo: bool = False
    context: ExecutionContext | None = None
    fail_fast: bool = False

    def __post_init__(self) -> None:
        if self.concurrency is not None and self.concurrency < 1:
            msg = "concurrency must be None or at least 1"
            raise ValueError(msg)


@dc.dataclass(frozen=True, slots=True)
class ConcurrentResult:
    """Results in submission order (fail-fast: the completed ones only)."""

    results: tuple[CommandResult, ...]
    failures: tuple[int, ...] = ()
    submission_indices: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.submission_indices is None:
            object.__setattr__(self, "submission_indices",
                               tuple(range(len(self.results))))

    @property
    def ok(self) -> bool:
        """Every command exited 0."""
        return not self.failures

    @property
    def first_failure(self) -> CommandResult | None:
        """The first failed result in submission order."""
        return self.results[self.failures[0]] if self.failures else None

    @property
    def failure_submission_indices(self) -> tuple[int, ...]:
        """``failures`` as submission positions."""
        idx = typ.cast("tuple[int, ...]", self.submission_indices)
        return tuple(idx[i] for i in self.failures)


def _collect(done: dict[int, CommandResult]) -> ConcurrentResult:
    order = sorted(done)
    results = tuple(done[i] for i in order)
    failures = tuple(pos for pos, r in enumerate(results) if not r.ok)
    return ConcurrentResult(results, failures, tuple(order))


def _make_run(cmd: SafeCmd, cfg: ConcurrentConfig) -> _Run:
    out = RunOutputOptions(capture=cfg.capture, echo=cfg.echo)
    return _Run((cmd,), out, None, cfg.context, None)


# ------------------------------------------------------------ the batch

def _batch_run(cmds: tuple[SafeCmd, ...], cfg: ConcurrentConfig) -> _Run | None:
    """The options the whole batch shares, or None when something must be
    called in Python per command (hooks, observers, echo): then the batch
    runs command by command on the loop. Every command is checked against
    the allowlist here, before any of them runs."""
    scope = current_context()
    if cfg.echo or scope.before_hooks or scope.after_hooks or scope.observe_hooks:
        return None
    return _Run(cmds, RunOutputOptions(capture=cfg.capture), None, cfg.context, None)


def _worker_threads() -> int:
    """libcuprum threads for a batch: one per CPU this process may use (a
    spawn holds its thread until the child has exec'd, so one thread
    starts one command at a time); never more than the limit."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _batch_start(run: _Run, cfg: ConcurrentConfig) -> _native.Batch:
    stages = [(c.catalogue._native, native_name(c.program)[0], c.argv)
              for c in run.cmds]
    try:
        return _native.batch_start(
            stages, limit=cfg.concurrency or 0, threads=_worker_threads(),
            fail_fast=cfg.fail_fast, capture=cfg.capture,
            **run.native_options())
    except _native.Error as exc:
        raise from_native(exc) from None


def _batch_result(batch: _native.Batch, run: _Run) -> ConcurrentResult:
    """The batch's results as the loop engine gives them: a command that
    could not start raises its error and a timed-out one TimeoutExpired
    (the batch stopped at once); fail-fast omits the stopped commands."""
    try:
        items, first = batch.results(run.ctx.encoding, run.ctx.errors)
    except _native.Error as exc:
        raise from_native(exc) from None
    if first >= 0:
        item = items[first]
        if isinstance(item, _native.Error):
            raise from_native(item)
        raise TimeoutExpired(run.cmds[first].argv_with_program,
                             typ.cast("float", run.timeout),
                             output=item[2], stderr=item[3])
    done: dict[int, CommandResult] = {}
    for i, item in enumerate(items):
        if item is not None:
            cmd = run.cmds[i]
            done[i] = CommandResult(cmd.program, cmd.argv_with_program,
                                    item[0], item[1], item[2], item[3])
    return _collect(done)


async def _batch_wait_async(batch: _native.Batch) -> None:
    """Wait for the batch through the asyncio loop (its eventfd with
    add_reader); cancelling the awaiting task cancels the batch and still
    waits until every command has been reaped."""
    aloop = asyncio.get_running_loop()
    fut = aloop.create_future()

    def ready() -> None:
        if not fut.done():
            fut.set_result(None)

    fd = batch.fd()
    aloop.add_reader(fd, ready)
    try:
        await _engine.until_done(fut, batch.cancel)
    finally:
        aloop.remove_reader(fd)


# ------------------------------------------------------------ the loop

def run_concurrent_sync(*cmds: SafeCmd,
                        config: ConcurrentConfig | None = None) -> ConcurrentResult:
    """Run ``cmds`` concurrently; blocks this thread (GIL released)."""
    cfg = config or ConcurrentConfig()
    run = _batch_run(cmds, cfg)
    if run is not None:
        batch = _batch_start(run, cfg)
        batch.wait()
        return _batch_result(batch, run)
    loop = _engine.sync_loop()
    pending = collections.deque(enumerate(cmds))
    running: dict[_native.Task, tuple[int, _Run]] = {}
    done: dict[int, CommandResult] = {}
    stop = False
    cancelled: set[_native.Task] = set()
    try:
        while running or (pending and not stop):
            while pending and not stop and (
                    cfg.concurrency is None or len(running) < cfg.concurrency):
                i, cmd = pending.popleft()
                run = _make_run(cmd, cfg)
                run.before()
                running[run.start(loop)] = (i, run)
            for task in loop.step(-1):
                i, run = running.pop(task)
                if stop and task in cancelled:
                    continue  # fail-fast: cancelled commands are omitted
                result = run.finish(task)
                run.after(result)
                done[i] = result
                if cfg.fail_fast and not result.ok and not stop:
                    stop = True
                    for t in running:
                        t.cancel()
                        cancelled.add(t)
    except BaseException:
        for t in running:
            t.cancel()
        while any(not t.done() for t in running):
            loop.step(-1)
        raise
    return _collect(done)


async def run_concurrent(*cmds: SafeCmd,
                         config: ConcurrentConfig | None = None) -> ConcurrentResult:
    """Run ``cmds`` concurrently, awaited on the running asyncio loop."""
    cfg = config or ConcurrentConfig()
    run = _batch_run(cmds, cfg)
    if run is not None:
        batch = _batch_start(run, cfg)
        await _batch_wait_async(batch)
        return _batch_result(batch, run)
    sem = asyncio.Semaphore(cfg.concurrency or max(1, len(cmds)))
    done: dict[int, CommandResult] = {}
    failed = asyncio.Event()

    async def one(i: int, cmd: SafeCmd) -> None:
        async with sem:
            if failed.is_set():
                return
            try:
                result = await _make_run(cmd, cfg).run_async()
            except BaseException:
                # It leaves run_concurrent: with fail_fast the others are
                # cancelled and reaped first, not waited for.
                failed.set()
                raise
            done[i] = result
            if cfg.fail_fast and not result.ok:
                failed.set()

    tasks = [asyncio.ensure_future(one(i, c)) for i, c in enumerate(cmds)]
    try:
        if cfg.fail_fast:
            waiter = asyncio.ensure_future(failed.wait())
            await asyncio.wait([*tasks, waiter] if tasks else [waiter],
                               return_when=asyncio.FIRST_COMPLETED)
            while not failed.is_set() and not all(t.done() for t in tasks):
                await asyncio.wait([*tasks, waiter],
                                   return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        else:
            await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    for t in tasks:
        if t.done() and not t.cancelled() and t.exception() is not None:
            raise t.exception()
    return _collect(done)
