"""The execution context: allowlist, hooks, observers and environment,
scoped per thread and per asyncio task with ``contextvars``.

The context is an immutable CuprumContext held in a ContextVar: a thread
starts at the permissive root, an asyncio task starts from a copy of its
creator's, and every change (``scoped``, ``allow``, ``before``, ...) sets a
new value, so no change leaks into another thread or task. A run reads the
context when it is started: its allowlist is checked in Python, its before
hooks run, its observers are handed to libcuprum for that run only (a C
scope pushed around the spawn), its after hooks run on the final result.
"""

from __future__ import annotations

import contextvars
import dataclasses as dc
import os
import typing as typ

from cuprum.errors import ForbiddenProgramError
from cuprum.program import Program

if typ.TYPE_CHECKING:
    import collections.abc as cabc

BeforeHook = typ.Callable[[typ.Any], None]
AfterHook = typ.Callable[[typ.Any, typ.Any], None]


@dc.dataclass(frozen=True, slots=True)
class CuprumContext:
    """One immutable context. ``allowlist`` None means permissive (the
    root): every catalogued program may run."""

    allowlist: frozenset[Program] | None = None
    before_hooks: tuple[BeforeHook, ...] = ()
    after_hooks: tuple[AfterHook, ...] = ()
    observe_hooks: tuple[typ.Callable[..., typ.Any], ...] = ()
    env_overlay: cabc.Mapping[str, str] = dc.field(default_factory=dict)
    timeout: float | None = None

    def is_allowed(self, program: Program | str) -> bool:
        """Whether ``program`` may run in this context."""
        return self.allowlist is None or program in self.allowlist

    def check_allowed(self, program: Program | str) -> None:
        """Raise ForbiddenProgramError unless ``program`` may run."""
        if not self.is_allowed(program):
            msg = f"program {program!r} is not allowed by the current context"
            raise ForbiddenProgramError(msg)


@dc.dataclass(frozen=True, slots=True)
class ScopeConfig:
    """What ``scoped()`` changes. ``allowlist`` narrows (intersected with a
    restricted parent); hooks are appended; ``timeout`` is the default
    timeout in seconds for runs in the scope."""

    allowlist: frozenset[Program] | None = None
    before_hooks: tuple[BeforeHook, ...] = ()
    after_hooks: tuple[AfterHook, ...] = ()
    observe_hooks: tuple[typ.Callable[..., typ.Any], ...] = ()
    timeout: float | None = None


_CONTEXT: contextvars.ContextVar[CuprumContext] = contextvars.ContextVar(
    "cuprum_context", default=CuprumContext()
)


def current_context() -> CuprumContext:
    """The context of the calling thread or task."""
    return _CONTEXT.get()


get_context = current_context


class _Scope:
    """Context manager returned by ``scoped()``."""

    def __init__(self, config: ScopeConfig) -> None:
        self._config = config
        self._token: contextvars.Token[CuprumContext] | None = None

    def __enter__(self) -> CuprumContext:
        parent = _CONTEXT.get()
        cfg = self._config
        allow = parent.allowlist
        if cfg.allowlist is not None:
            given = frozenset(cfg.allowlist)
            allow = given if allow is None else allow & given
        ctx = dc.replace(
            parent,
            allowlist=allow,
            before_hooks=parent.before_hooks + tuple(cfg.before_hooks),
            after_hooks=tuple(cfg.after_hooks) + parent.after_hooks,
            observe_hooks=parent.observe_hooks + tuple(cfg.observe_hooks),
            timeout=cfg.timeout if cfg.timeout is not None else parent.timeout,
        )
        self._token = _CONTEXT.set(ctx)
        return ctx

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _CONTEXT.reset(self._token)
            self._token = None


def scoped(config: ScopeConfig | None = None) -> _Scope:
    """A block with a narrowed context: ``with scoped(ScopeConfig(...)):``."""
    return _Scope(config or ScopeConfig())


class HookRegistration:
    """A registration in the current context; ``detach()`` removes it (from
    the context current when it is called). Also a context manager."""

    def __init__(self, add: typ.Callable[[CuprumContext], CuprumContext],
                 remove: typ.Callable[[CuprumContext], CuprumContext]) -> None:
        self._remove = remove
        self._attached = True
        _CONTEXT.set(add(_CONTEXT.get()))

    def detach(self) -> None:
        """Remove the registration; idempotent."""
        if self._attached:
            self._attached = False
            _CONTEXT.set(self._remove(_CONTEXT.get()))

    def __enter__(self) -> HookRegistration:
        return self

    def __exit__(self, *exc: object) -> None:
        self.detach()


AllowRegistration = HookRegistration
EnvRegistration = HookRegistration


def _without(items: tuple[typ.Any, ...], item: object) -> tuple[typ.Any, ...]:
    out = list(items)
    if item in out:
        out.remove(item)
    return tuple(out)


def allow(*programs: Program) -> HookRegistration:
    """Add programs to the current (restricted) allowlist until detached."""
    added: set[Program] = set()

    def add(ctx: CuprumContext) -> CuprumContext:
        if ctx.allowlist is None:
            return ctx
        added.update(p for p in programs if p not in ctx.allowlist)
        return dc.replace(ctx, allowlist=ctx.allowlist | frozenset(programs))

    def remove(ctx: CuprumContext) -> CuprumContext:
        if ctx.allowlist is None:
            return ctx
        return dc.replace(ctx, allowlist=ctx.allowlist - frozenset(added))

    return HookRegistration(add, remove)


def before(hook: BeforeHook) -> HookRegistration:
    """Run ``hook(cmd)`` before each run (FIFO; raising vetoes the run)."""
    return HookRegistration(
        lambda c: dc.replace(c, before_hooks=(*c.before_hooks, hook)),
        lambda c: dc.replace(c, before_hooks=_without(c.before_hooks, hook)),
    )


def after(hook: AfterHook) -> HookRegistration:
    """Run ``hook(cmd, result)`` after each run (LIFO)."""
    return HookRegistration(
        lambda c: dc.replace(c, after_hooks=(hook, *c.after_hooks)),
        lambda c: dc.replace(c, after_hooks=_without(c.after_hooks, hook)),
    )


def observe(hook: typ.Callable[..., typ.Any]) -> HookRegistration:
    """Deliver every ExecEvent of later runs to ``hook``."""
    return HookRegistration(
        lambda c: dc.replace(c, observe_hooks=(*c.observe_hooks, hook)),
        lambda c: dc.replace(c, observe_hooks=_without(c.observe_hooks, hook)),
    )


def env(mapping: cabc.Mapping[str, str] | None = None, /,
        **kwargs: str) -> HookRegistration:
    """Overlay environment variables for later runs, resolved against the
    live ``os.environ`` when each run starts."""
    overlay = dict(mapping or {}, **kwargs)

    def add(ctx: CuprumContext) -> CuprumContext:
        return dc.replace(ctx, env_overlay={**ctx.env_overlay, **overlay})

    def remove(ctx: CuprumContext) -> CuprumContext:
        kept = {k: v for k, v in ctx.env_overlay.items()
                if not (k in overlay and overlay[k] == v)}
        return dc.replace(ctx, env_overlay=kept)

    return HookRegistration(add, remove)


def merge_env_overlays(*overlays: cabc.Mapping[str, str] | None) -> dict[str, str]:
    """Later overlays win."""
    merged: dict[str, str] = {}
    for o in overlays:
        merged.update(o or {})
    return merged


def resolve_env(overlay: cabc.Mapping[str, str] | None) -> dict[str, str]:
    """The live environment with ``overlay`` applied."""
    return {**os.environ, **(overlay or {})}
