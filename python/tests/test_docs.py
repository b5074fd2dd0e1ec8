"""Every ```python block of python/README.md and of the users' guide's
Python section runs, so the documentation cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _blocks(path: Path, section: str | None = None) -> list[str]:
    text = path.read_text()
    if section is not None:
        start = text.index(f"## {section}\n")
        end = text.find("\n## ", start + 1)
        text = text[start:end if end > 0 else None]
    return re.findall(r"^```python\n(.*?)^```", text, re.M | re.S)


EXAMPLES = ([("README", b) for b in _blocks(ROOT / "python/README.md")] +
            [("guide", b) for b in _blocks(ROOT / "docs/users-guide.md",
                                           "The Python package")])


def test_examples_were_found() -> None:
    assert len(EXAMPLES) >= 8


@pytest.mark.parametrize(("where", "code"), EXAMPLES,
                         ids=[f"{w}-{i}" for i, (w, _) in enumerate(EXAMPLES)])
def test_example_runs(where: str, code: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"<{where}>", "exec"), {"__name__": "__doc_example__"})
