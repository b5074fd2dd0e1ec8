"""The extension module against an installed libcuprum, found with
pkg-config (``cuprum.pc``; set PKG_CONFIG_PATH for a non-system prefix).
The project's own tests build the module with CMake instead
(python/CMakeLists.txt)."""

from __future__ import annotations

import shlex
import subprocess

from setuptools import Extension, setup


def pkg_config(*args: str) -> list[str]:
    try:
        out = subprocess.run(["pkg-config", *args, "cuprum"], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        msg = ("libcuprum not found by pkg-config: install it (make install, "
               "or the libcuprum-dev package) or set PKG_CONFIG_PATH")
        raise SystemExit(msg) from exc
    return shlex.split(out)


cflags = pkg_config("--cflags")
libs = pkg_config("--libs")
libdirs = [f[2:] for f in libs if f.startswith("-L")]

setup(ext_modules=[Extension(
    "cuprum._native",
    sources=["src/native/native.c"],
    include_dirs=[f[2:] for f in cflags if f.startswith("-I")],
    library_dirs=libdirs,
    runtime_library_dirs=libdirs,
    libraries=[f[2:] for f in libs if f.startswith("-l")],
)])
