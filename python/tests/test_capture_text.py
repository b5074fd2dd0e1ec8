"""Large captures decoded to text: an ASCII capture of 4 MiB or more takes
the extension's own copy (into a str with huge-page advice), anything else
CPython's decoder; both must give exactly what bytes.decode gives."""

from __future__ import annotations

import pytest

from conftest import py
from cuprum import ExecutionContext

BIG = 5 * 1024 * 1024 + 3  # past the threshold, not a multiple of 8


def _writer(chunk: bytes, tail: bytes = b"") -> tuple[object, bytes]:
    """A command writing ``chunk`` repeated to BIG bytes, then ``tail``."""
    data = (chunk * (BIG // len(chunk) + 1))[:BIG] + tail
    code = ("import sys;c=bytes.fromhex(sys.argv[1]);t=bytes.fromhex(sys.argv[2]);"
            f"n={BIG};sys.stdout.buffer.write((c*(n//len(c)+1))[:n]+t)")
    return py(code, chunk.hex(), tail.hex()), data


@pytest.mark.parametrize(("chunk", "tail"), [
    (b"0123456789abcdef\n", b""),          # ASCII: the fast copy
    (b"x" * 63 + b"\n", b"\xc3\xa9"),      # non-ASCII only in the last bytes
    ("h\u00e9llo w\u00f6rld \u20ac\n".encode(), b""),  # UTF-8 throughout
])
def test_big_capture_decodes_like_bytes_decode(chunk: bytes, tail: bytes) -> None:
    cmd, data = _writer(chunk, tail)
    r = cmd.run_sync()
    assert r.ok and r.stdout == data.decode("utf-8")
    assert type(r.stdout) is str


def test_big_capture_invalid_utf8_follows_errors() -> None:
    cmd, data = _writer(b"abc\n", b"\xff\xfe")
    r = cmd.run_sync()  # the default errors="replace"
    assert r.stdout == data.decode("utf-8", "replace")
    assert r.stdout.endswith("\ufffd\ufffd")
    strict = ExecutionContext(encoding="UTF8", errors="strict")
    with pytest.raises(UnicodeDecodeError):
        cmd.run_sync(context=strict)
    ascii_only, data2 = _writer(b"abc\n")
    assert ascii_only.run_sync(context=strict).stdout == data2.decode("ascii")
