"""Driving libcuprum's loop from Python, asynchronously and synchronously.

Async: one native Loop per asyncio event loop, its epoll fd registered with
``add_reader``: when it is readable the reader steps the loop without
waiting (``step(0)``) and resolves the futures of the tasks that finished.
No thread per process, no polling. Cancelling the awaiting asyncio task
cancels the run (TERM, grace, KILL of its process group) and still waits
until it has been reaped before the CancelledError propagates.

Sync: one native Loop per thread, stepped with the GIL released until the
task is done; a signal (Ctrl-C) cancels the run the same way, then raises.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
import typing as typ
import weakref

from cuprum import _native

_async_drivers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _AsyncDriver] = (
    weakref.WeakKeyDictionary()
)
_all_loops: weakref.WeakSet[typ.Any] = weakref.WeakSet()
_local = threading.local()


class _AsyncDriver:
    def __init__(self, aloop: asyncio.AbstractEventLoop) -> None:
        self.native = _native.Loop()
        _all_loops.add(self.native)
        # No reference to ``aloop``: the driver is the value of a
        # WeakKeyDictionary keyed by it, so one would keep both alive for
        # ever and leak the native loop (two fds) on every asyncio.run().
        self.futures: dict[_native.Task, asyncio.Future[None]] = {}
        aloop.add_reader(self.native.fd(), self._ready)

    def _ready(self) -> None:
        for task in self.native.step(0):
            fut = self.futures.pop(task, None)
            if fut is not None and not fut.done():
                fut.set_result(None)

    def future(self, task: _native.Task) -> asyncio.Future[None]:
        fut = asyncio.get_running_loop().create_future()
        if task.done():
            fut.set_result(None)
        else:
            self.futures[task] = fut
        return fut


def async_loop() -> _native.Loop:
    """The native loop of the running asyncio loop."""
    aloop = asyncio.get_running_loop()
    drv = _async_drivers.get(aloop)
    if drv is None:
        drv = _async_drivers[aloop] = _AsyncDriver(aloop)
    return drv.native


async def wait_async(task: _native.Task) -> None:
    """Wait for ``task``; if the awaiting task is cancelled, cancel the run,
    wait until it has ended, then let the cancellation propagate."""
    drv = _async_drivers[asyncio.get_running_loop()]
    await until_done(drv.future(task), task.cancel)


async def until_done(fut: asyncio.Future[None], cancel: typ.Callable[[], None]) -> None:
    """Await ``fut``, the end of a run; if the awaiting task is cancelled,
    call ``cancel`` (TERM, grace, KILL), still wait for ``fut`` (the run
    reaped), then let the cancellation propagate."""
    try:
        await asyncio.shield(fut)
    except asyncio.CancelledError:
        cancel()
        while not fut.done():
            try:
                await asyncio.shield(fut)
            except asyncio.CancelledError:
                continue
        raise


def sync_loop() -> _native.Loop:
    """The calling thread's native loop."""
    loop = getattr(_local, "loop", None)
    if loop is None:
        loop = _local.loop = _native.Loop()
        _all_loops.add(loop)
    return loop


def wait_sync(loop: _native.Loop, task: _native.Task) -> None:
    """Step ``loop`` until ``task`` is done (GIL released while waiting)."""
    try:
        while not task.done():
            loop.step(-1)
    except BaseException:
        task.cancel()
        while not task.done():
            loop.step(-1)
        raise


@atexit.register
def _close_all() -> None:
    # Nothing outlives the interpreter: close() cancels and reaps.
    for loop in list(_all_loops):
        loop.close()
