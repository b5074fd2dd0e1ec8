#!/usr/bin/env bash
# The Python package's pytest suite for one interpreter (ctest python.*):
#   python-test.sh INTERPRETER PACKAGE_PARENT_DIR HAS_HEADERS
# Exit 77 (skip, with the reason) when the interpreter lacks its headers or
# pytest, or the build cannot host the module (CU_PY_SKIP).
set -u
py=$1 pkg=$2 has_h=$3
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ -n "${CU_PY_SKIP:-}" ]; then echo "skip: $CU_PY_SKIP"; exit 77; fi
if [ "$has_h" != 1 ]; then echo "skip: $py has no Python.h (python3-dev)"; exit 77; fi
# Debian's pytest is pure Python: pyenv's interpreters use it from
# dist-packages when they have none of their own (no downloads needed).
export PYTHONPATH="$pkg:/usr/lib/python3/dist-packages"
if ! env -u LD_PRELOAD "$py" -c 'import pytest' 2>/dev/null; then
  echo "skip: no pytest for $py (apt-get install python3-pytest)"; exit 77
fi
export PYTHONDONTWRITEBYTECODE=1
exec "$py" -m pytest -q -p no:cacheprovider -o addopts= \
  -W "ignore::DeprecationWarning:_pytest.assertion.rewrite" "$here/python/tests"
