"""Catalogue, Program, sh.make, build_argv."""

from __future__ import annotations

import pytest

from conftest import CATALOGUE, PYTHON
from cuprum import (
    DEFAULT_CATALOGUE, ECHO, LS, DuplicateProgramError, DuplicateProjectError,
    Program, ProgramCatalogue, ProjectSettings, UnknownProgramError, sh,
)


def test_default_catalogue_lists_core_ops() -> None:
    entry = DEFAULT_CATALOGUE.lookup(ECHO)
    assert entry.project_name == "core-ops"
    assert DEFAULT_CATALOGUE.is_allowed(LS)
    assert "core-ops" in DEFAULT_CATALOGUE.visible_settings()


def test_shells_are_not_catalogued() -> None:
    for name in ("sh", "bash", "env", "xargs"):
        assert not DEFAULT_CATALOGUE.is_allowed(name)
        with pytest.raises(UnknownProgramError):
            sh.make(Program(name))


def test_make_builds_argv() -> None:
    cmd = sh.make(ECHO)("-n", "hello world", 3)
    assert cmd.argv_with_program == ("echo", "-n", "hello world", "3")
    assert cmd.project.name == "core-ops"


def test_build_argv_flags_and_none() -> None:
    assert sh.build_argv("status", porcelain=True, max_count=3) == (
        "status", "--porcelain=True", "--max-count=3")
    with pytest.raises(TypeError):
        sh.build_argv(None)
    with pytest.raises(TypeError):
        sh.make(ECHO)(flag=None)


def test_custom_catalogue_pins_absolute_path() -> None:
    r = sh.make(PYTHON, catalogue=CATALOGUE)("-c", "print(6*7)").run_sync()
    assert r.ok and r.stdout == "42\n"
    assert CATALOGUE.lookup(PYTHON).project.noise_rules == (r"^noise:",)
    with pytest.raises(UnknownProgramError):
        sh.make(LS, catalogue=CATALOGUE)


def test_duplicates_are_rejected() -> None:
    a = ProjectSettings("a", (Program("echo"),))
    with pytest.raises(DuplicateProjectError) as e:
        ProgramCatalogue(projects=(a, ProjectSettings("a", ())))
    assert e.value.project_name == "a"
    with pytest.raises(DuplicateProgramError) as e2:
        ProgramCatalogue(projects=(a, ProjectSettings("b", (Program("echo"),))))
    assert e2.value.program == "echo" and e2.value.owner == "a"
    assert isinstance(e2.value, ValueError)


def test_missing_executable_fails_at_run_not_silently() -> None:
    cmd = sh.make(Program("sh-not-here"), catalogue=CATALOGUE)()
    with pytest.raises(FileNotFoundError):
        cmd.run_sync()
