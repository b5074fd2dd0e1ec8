"""SafeCmd.run_sync / run: output, echo, env, cwd, stdin, timeouts."""

from __future__ import annotations

import asyncio
import io
import os

import pytest

from conftest import alive, py, slack
from cuprum import (
    CAT, ECHO, FALSE, PWD, CommandResult, ExecutionContext, RunOutputOptions,
    StdinInput, TimeoutExpired, sh,
)


def test_capture_default() -> None:
    r = sh.make(ECHO)("-n", "hi").run_sync()
    assert isinstance(r, CommandResult)
    assert (r.stdout, r.stderr, r.exit_code, r.ok) == ("hi", "", 0, True)
    assert r.pid > 0 and not alive(r.pid)


def test_nonzero_exit_is_a_result_not_an_exception() -> None:
    r = sh.make(FALSE)().run_sync()
    assert r.exit_code == 1 and not r.ok


def test_no_capture_gives_none() -> None:
    r = sh.make(ECHO)("x").run_sync(output=RunOutputOptions(capture=False))
    assert r.stdout is None and r.stderr is None and r.ok


def test_echo_tees_to_sinks_and_keeps_multibyte_whole() -> None:
    out, err = io.StringIO(), io.StringIO()
    # "é" is two bytes; the child writes them in two flushed writes.
    code = ("import sys,os;os.write(1,b'caf\\xc3');os.write(1,b'\\xa9\\n');"
            "os.write(2,b'warn\\n')")
    ctx = ExecutionContext(stdout_sink=out, stderr_sink=err)
    r = py(code).run_sync(output=RunOutputOptions(echo=True), context=ctx)
    assert out.getvalue() == "café\n" and err.getvalue() == "warn\n"
    assert r.stdout == "café\n"


def test_env_overlay_and_live_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CU_LIVE", "live")
    ctx = ExecutionContext(env={"CU_CALL": "call"})
    r = py("import os;print(os.environ['CU_LIVE'], os.environ['CU_CALL'])"
           ).run_sync(context=ctx)
    assert r.stdout == "live call\n"
    assert "CU_CALL" not in os.environ


def test_cwd(tmp_path) -> None:
    r = sh.make(PWD)().run_sync(context=ExecutionContext(cwd=tmp_path))
    assert r.stdout.strip() == str(tmp_path)
    with pytest.raises(FileNotFoundError):
        sh.make(PWD)().run_sync(context=ExecutionContext(cwd=tmp_path / "no"))


def test_stdin_text_and_data() -> None:
    assert sh.make(CAT)().run_sync(stdin=StdinInput(text="héllo")).stdout == "héllo"
    assert sh.make(CAT)().run_sync(stdin=StdinInput(data=b"\x00ab")).stdout == "\x00ab"
    with pytest.raises(ValueError):
        StdinInput(text="a", data=b"b")


def test_timeout_raises_with_partial_output() -> None:
    # The child must have printed before the deadline: a sanitizer build
    # on a loaded machine starts python slowly, so the deadline is the
    # build's slack, not a fixed half second.
    code = "import time;print('partial',flush=True);time.sleep(600)"
    limit = 2 * slack()
    with pytest.raises(TimeoutExpired) as e:
        py(code).run_sync(timeout=limit)
    assert e.value.output == "partial\n"
    assert e.value.timeout == limit


def test_non_positive_timeout_expires_at_once() -> None:
    with pytest.raises(TimeoutExpired):
        py("import time;time.sleep(60)").run_sync(timeout=0)


def test_async_run_matches_sync() -> None:
    async def main() -> tuple[CommandResult, CommandResult]:
        cmd = sh.make(ECHO)("-n", "same")
        return await cmd.run(), cmd.run_sync()
    a, b = asyncio.run(main())
    assert (a.stdout, a.exit_code) == (b.stdout, b.exit_code) == ("same", 0)


def test_many_async_runs_on_one_loop_use_no_threads() -> None:
    import threading

    async def main() -> list[CommandResult]:
        before = threading.active_count()
        runs = [sh.make(ECHO)(str(i)).run() for i in range(40)]
        res = await asyncio.gather(*runs)
        assert threading.active_count() == before
        return res
    res = asyncio.run(main())
    assert [r.stdout for r in res] == [f"{i}\n" for i in range(40)]


def test_stream_backend_selection() -> None:
    from cuprum.sh import stream_backend
    assert stream_backend("readwrite") == "readwrite"
    assert stream_backend() in ("splice", "readwrite")
    with pytest.raises(ValueError, match="valid values"):
        stream_backend("rust")
    for name in ("readwrite", "auto"):
        ctx = ExecutionContext(stream_backend=name)
        r = (sh.make(ECHO)("-n", "x") | sh.make(CAT)()).run_sync(context=ctx)
        assert r.stdout == "x"
    with pytest.raises(ValueError):
        sh.make(ECHO)().run_sync(context=ExecutionContext(stream_backend="nope"))


def test_run_sync_from_many_threads_at_once() -> None:
    # Each thread drives its own loop; the GIL is released while waiting,
    # so the threads' children run side by side.
    import threading
    barrier = threading.Barrier(4)
    out: dict[int, str] = {}

    def worker(i: int) -> None:
        barrier.wait()
        out[i] = py("import sys;print(sys.argv[1])", str(i)).run_sync().stdout
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == {i: f"{i}\n" for i in range(4)}


def _event_fds() -> int:
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink(f"/proc/self/fd/{fd}").startswith("anon_inode:[event")
        except OSError:
            pass
    return n


def test_asyncio_run_leaves_no_native_loop_behind() -> None:
    # Each asyncio loop gets a native loop (epoll fd + eventfd); it used to
    # be kept alive for ever, two fds leaked per asyncio.run().
    async def once() -> str | None:
        return (await sh.make(ECHO)("-n", "x").run()).stdout
    assert asyncio.run(once()) == "x"
    before = _event_fds()
    for _ in range(10):
        assert asyncio.run(once()) == "x"
    assert _event_fds() == before


def test_timeout_values_outside_the_reals() -> None:
    # inf is no limit (as in subprocess); huge values are clamped, not an
    # OverflowError; NaN and non-numbers are refused with the name.
    assert sh.make(ECHO)("-n", "a").run_sync(timeout=float("inf")).stdout == "a"
    assert sh.make(ECHO)("-n", "b").run_sync(timeout=1e300).stdout == "b"
    ctx = ExecutionContext(cancel_grace=1e300)
    assert sh.make(ECHO)("-n", "c").run_sync(context=ctx).stdout == "c"
    with pytest.raises(ValueError, match="timeout.*NaN"):
        sh.make(ECHO)("x").run_sync(timeout=float("nan"))
    with pytest.raises(ValueError, match="cancel_grace.*NaN"):
        sh.make(ECHO)("x").run_sync(context=ExecutionContext(cancel_grace=float("nan")))
    with pytest.raises(TypeError, match="timeout.*str"):
        sh.make(ECHO)("x").run_sync(timeout="5")  # type: ignore[arg-type]


def test_nul_in_env_is_refused_not_truncated() -> None:
    # C would read "A\0B" as "A": the variable A set behind the user's back.
    probe = py("import os;print(os.environ.get('CU_NUL_A'), os.environ.get('CU_NUL_V'))")
    for overlay in ({"CU_NUL_A\0B": "1"}, {"CU_NUL_V": "a\0b"}):
        with pytest.raises(ValueError, match="embedded null character"):
            probe.run_sync(context=ExecutionContext(env=overlay))
    ok = probe.run_sync(context=ExecutionContext(env={"CU_NUL_V": "ab"}))
    assert ok.stdout == "None ab\n"


def test_nul_in_an_argument_is_a_value_error() -> None:
    # As subprocess raises it; and nothing is started.
    with pytest.raises(ValueError, match="embedded null character"):
        sh.make(ECHO)("a\0b").run_sync()
    with pytest.raises(ValueError, match="embedded null character"):
        (sh.make(ECHO)("ok") | sh.make(CAT)("x\0")).run_sync()


def test_cwd_errors_are_the_oserror_subprocess_raises(tmp_path) -> None:
    # subprocess raises the OSError subclass of the chdir errno.
    afile = tmp_path / "f"
    afile.write_text("")
    shut = tmp_path / "shut"
    shut.mkdir(mode=0o000)
    cases = [(tmp_path / "missing", FileNotFoundError), (afile, NotADirectoryError)]
    if os.geteuid() != 0:  # root enters a 000 directory
        cases.append((shut, PermissionError))
    for cwd, exc in cases:
        with pytest.raises(exc, match="working directory"):
            sh.make(ECHO)("x").run_sync(context=ExecutionContext(cwd=str(cwd)))
