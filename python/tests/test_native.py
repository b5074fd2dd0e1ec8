"""The extension module itself and the build it runs in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import cuprum
from cuprum import _native


def test_links_libcuprum() -> None:
    assert cuprum.LIBCUPRUM_VERSION == _native.version
    assert _native.version.count(".") >= 2


def test_sanitized_build_really_loads_asan() -> None:
    # ctest preloads libasan in a sanitizer build: the library under test is
    # then checked by ASan from Python too. Elsewhere there is nothing to see.
    if not os.environ.get("CU_PY_SANITIZED"):
        pytest.skip("not a sanitizer build")
    assert "libasan" in Path("/proc/self/maps").read_text()


def test_closed_loop_refuses_work() -> None:
    loop = _native.Loop()
    loop.close()
    with pytest.raises(RuntimeError):
        loop.step(0)
