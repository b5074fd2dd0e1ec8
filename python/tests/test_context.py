"""The scoped context: allowlist, allow(), hooks, env(), isolation."""

from __future__ import annotations

import asyncio
import threading

import pytest

from cuprum import (
    ECHO, LS, PWD, ExecutionContext, ForbiddenProgramError, ScopeConfig,
    after, allow, before, current_context, env, scoped, sh,
)
from conftest import py


def test_root_is_permissive_and_scopes_narrow() -> None:
    assert current_context().is_allowed(LS)
    with scoped(ScopeConfig(allowlist=frozenset([ECHO, LS]))) as ctx:
        assert ctx.is_allowed(LS)
        with scoped(ScopeConfig(allowlist=frozenset([ECHO]))) as inner:
            assert inner.is_allowed(ECHO) and not inner.is_allowed(LS)
            with scoped(ScopeConfig()) as nested:
                assert not nested.is_allowed(LS)
            with scoped(ScopeConfig(allowlist=frozenset([LS]))) as widen:
                assert not widen.is_allowed(LS)  # cannot widen by scoping
    assert current_context().is_allowed(LS)


def test_forbidden_program_is_not_run() -> None:
    with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
        with pytest.raises(ForbiddenProgramError):
            sh.make(LS)().run_sync()
        with pytest.raises(ForbiddenProgramError):
            (sh.make(ECHO)("a") | sh.make(LS)()).run_sync()
        current_context().check_allowed(ECHO)


def test_allow_and_detach() -> None:
    with scoped(ScopeConfig(allowlist=frozenset([ECHO]))):
        with allow(LS):
            assert current_context().is_allowed(LS)
            assert sh.make(LS)("/").run_sync().ok
        assert not current_context().is_allowed(LS)
        reg = allow(LS)
        assert current_context().is_allowed(LS)
        reg.detach()
        reg.detach()
        assert not current_context().is_allowed(LS)


def test_hook_order_and_veto() -> None:
    calls: list[str] = []
    with scoped(ScopeConfig(before_hooks=(lambda c: calls.append("b-outer"),),
                            after_hooks=(lambda c, r: calls.append("a-outer"),))):
        with before(lambda c: calls.append("b-inner")), \
             after(lambda c, r: calls.append(f"a-inner:{r.exit_code}")):
            sh.make(ECHO)("x").run_sync()
    assert calls == ["b-outer", "b-inner", "a-inner:0", "a-outer"]

    ran: list[int] = []

    def veto(cmd: sh.SafeCmd) -> None:
        raise RuntimeError("vetoed")
    with before(veto), after(lambda c, r: ran.append(r.pid)):
        with pytest.raises(RuntimeError, match="vetoed"):
            sh.make(ECHO)("x").run_sync()
    assert ran == []


def test_before_hook_detach() -> None:
    def hook(cmd: sh.SafeCmd) -> None:
        pass
    with scoped(ScopeConfig()):
        reg = before(hook)
        assert hook in current_context().before_hooks
        reg.detach()
        assert hook not in current_context().before_hooks


def test_env_overlay_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    code = "import os;print(os.environ.get('A'), os.environ.get('B'))"
    monkeypatch.setenv("A", "environ")
    monkeypatch.setenv("B", "environ")
    with env(A="scope", B="scope"):
        r = py(code).run_sync(context=ExecutionContext(env={"B": "call"}))
        assert r.stdout == "scope call\n"
        assert current_context().env_overlay["A"] == "scope"
    assert "A" not in current_context().env_overlay
    reg = env({"A": "manual"})
    try:
        assert py(code).run_sync().stdout == "manual environ\n"
    finally:
        reg.detach()


def test_scope_timeout_default() -> None:
    from cuprum import TimeoutExpired
    with scoped(ScopeConfig(timeout=0.3)):
        with pytest.raises(TimeoutExpired):
            py("import time;time.sleep(60)").run_sync()


def test_thread_isolation() -> None:
    seen: dict[str, bool] = {}
    ready = threading.Barrier(2)

    def worker(name: str, programs: frozenset) -> None:
        with scoped(ScopeConfig(allowlist=programs)):
            ready.wait()
            seen[name] = current_context().is_allowed(ECHO)
            ready.wait()
    t1 = threading.Thread(target=worker, args=("t1", frozenset([ECHO])))
    t2 = threading.Thread(target=worker, args=("t2", frozenset([LS])))
    t1.start(), t2.start()
    t1.join(), t2.join()
    assert seen == {"t1": True, "t2": False}
    assert current_context().allowlist is None


def test_task_isolation() -> None:
    async def worker(programs: frozenset, gate: asyncio.Event,
                     other: asyncio.Event) -> tuple[bool, str | None]:
        with scoped(ScopeConfig(allowlist=programs)):
            gate.set()
            await other.wait()  # both scopes are open now
            allowed = current_context().is_allowed(PWD)
            out = None
            if allowed:
                out = (await sh.make(PWD)().run()).stdout
            else:
                with pytest.raises(ForbiddenProgramError):
                    await sh.make(PWD)().run()
            return allowed, out

    async def main() -> list[tuple[bool, str | None]]:
        a, b = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(worker(frozenset([PWD]), a, b),
                                    worker(frozenset([ECHO]), b, a))
    (ok1, out1), (ok2, out2) = asyncio.run(main())
    assert ok1 and out1 and not ok2 and out2 is None
