"""Output options: RunOutputOptions, the deprecated IOOptions alias, and the
deprecated flat ``capture``/``echo`` keywords of Pipeline.run/run_sync, with
the errors the Python design gives for mixing them."""

from __future__ import annotations

import asyncio
import dataclasses as dc
import io
import warnings

import pytest

from cuprum import (
    ECHO, TR, ExecutionContext, IOOptions, Pipeline, RunOutputOptions, sh,
)


def _pipe() -> Pipeline:
    return sh.make(ECHO)("-n", "hi") | sh.make(TR)("a-z", "A-Z")


def test_io_options_warns_and_is_the_same_options() -> None:
    with pytest.warns(DeprecationWarning, match="IOOptions is deprecated") as rec:
        opts = IOOptions(capture=False, echo=True)
    assert rec[0].filename == __file__  # the warning names the caller
    assert isinstance(opts, RunOutputOptions)
    assert (opts.capture, opts.echo) == (False, True)
    with pytest.raises(dc.FrozenInstanceError):
        opts.capture = True  # type: ignore[misc]


def test_io_options_is_accepted_as_output() -> None:
    with pytest.warns(DeprecationWarning):
        opts = IOOptions(capture=False)
    assert sh.make(ECHO)("x").run_sync(output=opts).stdout is None
    assert _pipe().run_sync(output=opts).stdout is None


def test_run_output_options_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _pipe().run_sync(output=RunOutputOptions()).stdout == "HI"
        assert _pipe().run_sync().stdout == "HI"


@pytest.mark.parametrize("flags", [{"capture": False}, {"echo": False},
                                   {"capture": False, "echo": False}])
def test_flat_flags_warn_and_apply(flags: dict[str, bool]) -> None:
    with pytest.warns(DeprecationWarning, match="deprecated; pass output=") as rec:
        r = _pipe().run_sync(**flags)
    assert rec[0].filename == __file__
    assert r.ok
    assert r.stdout == (None if flags.get("capture") is False else "HI")


def test_flat_echo_tees_like_output_echo() -> None:
    sink = io.StringIO()
    ctx = ExecutionContext(stdout_sink=sink, stderr_sink=io.StringIO())
    with pytest.warns(DeprecationWarning):
        r = _pipe().run_sync(echo=True, context=ctx)
    assert sink.getvalue() == "HI" and r.stdout == "HI"


def test_flat_flags_warn_from_the_async_run() -> None:
    async def main() -> object:
        return await _pipe().run(capture=False)
    with pytest.warns(DeprecationWarning) as rec:
        r = asyncio.run(main())
    assert rec[0].filename == __file__
    assert r.stdout is None


@pytest.mark.parametrize("flags", [{"capture": True}, {"echo": False},
                                   {"capture": False, "echo": True}])
def test_flat_flags_with_output_is_a_value_error(flags, children_of_me) -> None:
    before = children_of_me()
    with pytest.raises(ValueError, match="either 'output' or"):
        _pipe().run_sync(output=RunOutputOptions(), **flags)

    async def main() -> None:
        await _pipe().run(output=RunOutputOptions(), **flags)
    with pytest.raises(ValueError, match="either 'output' or"):
        asyncio.run(main())
    assert children_of_me() == before  # refused before anything ran


def test_other_keywords_are_type_errors() -> None:
    with pytest.raises(TypeError, match="unexpected keyword arguments: stdout"):
        _pipe().run_sync(stdout=True)  # type: ignore[call-arg]
    # SafeCmd.run never had the flat flags: they are not accepted there.
    with pytest.raises(TypeError):
        sh.make(ECHO)("x").run_sync(capture=False)  # type: ignore[call-arg]
