#!/usr/bin/env bash
# The Python package built the way a user builds it (ctest python.setuptools):
# libcuprum installed into a temporary prefix, then python/setup.py (via
# pyproject.toml) compiles cuprum._native against it with pkg-config, and
# a smoke run imports the result from a copy of python/ outside the tree.
#   python-setuptools-test.sh WORKDIR
# Exit 77 (skip) without setuptools or pkg-config.
set -eu
work=$1
src="$(cd "$(dirname "$0")/.." && pwd)"
py=/usr/bin/python3
unset LD_PRELOAD ASAN_OPTIONS
command -v pkg-config >/dev/null || { echo "skip: no pkg-config"; exit 77; }
"$py" -c 'import setuptools' 2>/dev/null || { echo "skip: no setuptools for $py"; exit 77; }
rm -rf "$work"
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DCUPRUM_BUILD_TESTS=OFF \
  -DCUPRUM_BUILD_BENCH=OFF -DCUPRUM_BUILD_EXAMPLES=OFF -DCUPRUM_BUILD_CLI=OFF \
  -DCUPRUM_BUILD_PYTHON=OFF -DCUPRUM_BUILD_OTEL=OFF -DCUPRUM_MAN=OFF \
  -DCMAKE_INSTALL_PREFIX="$work/prefix" >/dev/null
cmake --build "$work/build" -j 2 >/dev/null
cmake --install "$work/build" >/dev/null
cp -r "$src/python" "$work/pkg"
(cd "$work/pkg" && PKG_CONFIG_PATH="$(echo "$work"/prefix/lib*/pkgconfig)" \
  "$py" setup.py -q build_ext --inplace 2>&1 | grep -v -i warn || true)
cd "$work"
PYTHONPATH="$work/pkg/src" "$py" - <<'PY'
import cuprum
from cuprum import ECHO, TR, sh
assert cuprum._native.__file__.startswith(cuprum.__path__[0]), cuprum._native.__file__
r = (sh.make(ECHO)("-n", "installed") | sh.make(TR)("a-z", "A-Z")).run_sync()
assert r.stdout == "INSTALLED", r
print("python.setuptools: ok against", cuprum.LIBCUPRUM_VERSION)
PY

# The README's other way: pip into a venv that reuses the system's
# setuptools, offline (--no-build-isolation --no-index: Debian's python3
# refuses pip outside a venv, PEP 668, and isolation would fetch from PyPI).
"$py" -m venv --system-site-packages "$work/venv"
(cd "$work/pkg" && PKG_CONFIG_PATH="$(echo "$work"/prefix/lib*/pkgconfig)" \
  "$work/venv/bin/pip" install -q --no-build-isolation --no-index . 2>&1 | grep -v -i warn || true)
"$work/venv/bin/python" - <<'PY'
import cuprum
from cuprum import ECHO, sh
assert "/venv/" in cuprum.__file__, cuprum.__file__
assert sh.make(ECHO)("-n", "venv").run_sync().stdout == "venv"
print("python.setuptools: pip into a venv ok")
PY
