"""Many commands at once: ``run_concurrent`` / ``run_concurrent_sync``.

Both run every command on the same libcuprum loop the single runs use (the
asyncio loop's, or the thread's): a limit of N keeps at most N children
alive, the next command starting as soon as one ends; no thread or asyncio
subprocess transport per command. Results come back in submission order;
hooks and observers fire per command as for single runs.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses as dc
import typing as typ

from cuprum import _engine
from cuprum.sh import CommandResult, ExecutionContext, RunOutputOptions, SafeCmd, _Run

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


def run_concurrent_sync(*cmds: SafeCmd,
                        config: ConcurrentConfig | None = None) -> ConcurrentResult:
    """Run ``cmds`` concurrently on this thread's loop."""
    cfg = config or ConcurrentConfig()
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
    """Run ``cmds`` concurrently on the running asyncio loop."""
    cfg = config or ConcurrentConfig()
    sem = asyncio.Semaphore(cfg.concurrency or max(1, len(cmds)))
    done: dict[int, CommandResult] = {}
    failed = asyncio.Event()

    async def one(i: int, cmd: SafeCmd) -> None:
        async with sem:
            if failed.is_set():
                return
            result = await _make_run(cmd, cfg).run_async()
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
