"""Catalogues: the allowlist of programs, grouped in projects.

Backed by libcuprum's cu_catalogue: the default catalogue is the library's
curated one (project ``core-ops`` and friends), a ProgramCatalogue built
from ProjectSettings is a cu_catalogue of its own. A program given as an
absolute path is catalogued under its base name with the path pinned (the
library resolves programs once, in the parent, and execs absolute paths).
"""

from __future__ import annotations

import dataclasses as dc
import os
import typing as typ

from cuprum import _native
from cuprum.errors import (
    DuplicateProgramError,
    DuplicateProjectError,
    UnknownProgramError,
)
from cuprum.program import Program

if typ.TYPE_CHECKING:
    import collections.abc as cabc


@dc.dataclass(frozen=True, slots=True)
class ProjectSettings:
    """One project: its programs, documentation links and noise rules
    (POSIX extended regular expressions for droppable output lines)."""

    name: str
    programs: tuple[Program, ...]
    documentation_locations: tuple[str, ...] = ()
    noise_rules: tuple[str, ...] = ()

    def owns(self, program: Program) -> bool:
        """Whether the project lists ``program``."""
        return program in self.programs


@dc.dataclass(frozen=True, slots=True)
class ProgramEntry:
    """A program and the project that owns it."""

    program: Program
    project: ProjectSettings

    @property
    def project_name(self) -> str:
        """The owning project's name."""
        return self.project.name


def native_name(program: str) -> tuple[str, str | None]:
    """The library's (name, pinned path) for a Program."""
    if "/" in program:
        if not os.path.isabs(program):
            msg = f"a program path must be absolute: {program!r}"
            raise ValueError(msg)
        return os.path.basename(program), program
    return program, None


class ProgramCatalogue:
    """An allowlist of programs grouped in projects (a cu_catalogue)."""

    def __init__(
        self,
        *,
        projects: cabc.Iterable[ProjectSettings],
        _native_cat: _native.Catalogue | None = None,
    ) -> None:
        self._projects: dict[str, ProjectSettings] = {}
        self._owner: dict[Program, ProjectSettings] = {}
        for project in projects:
            if project.name in self._projects:
                raise DuplicateProjectError(project.name)
            self._projects[project.name] = project
            for program in project.programs:
                if program in self._owner:
                    raise DuplicateProgramError(program, self._owner[program].name)
                self._owner[program] = project
        if _native_cat is None:
            _native_cat = _native.Catalogue()
            for p in self._projects.values():
                programs = [native_name(prog) for prog in p.programs]
                try:
                    _native_cat.add_project(
                        p.name, programs, p.documentation_locations, p.noise_rules
                    )
                except _native.Error as exc:
                    if exc.args[1] == "EPROGRAM_CONFLICT":
                        raise DuplicateProgramError(str(programs), p.name) from exc
                    raise ValueError(exc.args[2]) from exc
        self._native = _native_cat

    @property
    def allowlist(self) -> frozenset[Program]:
        """Every program of the catalogue."""
        return frozenset(self._owner)

    def is_allowed(self, program: Program | str) -> bool:
        """Whether the catalogue lists ``program``."""
        return Program(program) in self._owner

    def lookup(self, program: Program | str) -> ProgramEntry:
        """The entry of ``program``; UnknownProgramError if not listed."""
        project = self._owner.get(Program(program))
        if project is None:
            msg = f"program {program!r} is not in the catalogue"
            raise UnknownProgramError(msg)
        return ProgramEntry(Program(program), project)

    def project_for(self, program: Program | str) -> ProjectSettings:
        """The project owning ``program``."""
        return self.lookup(program).project

    def visible_settings(self) -> cabc.Mapping[str, ProjectSettings]:
        """Projects by name (noise rules and docs for downstream tools)."""
        return dict(self._projects)

    def resolve(self, program: Program) -> str:
        """The absolute path libcuprum will exec for ``program``."""
        name, _ = native_name(program)
        try:
            return _native_cat_lookup(self._native, name)
        except _native.Error as exc:
            if exc.args[1] == "EUNKNOWN_PROGRAM":
                raise UnknownProgramError(exc.args[2]) from exc
            raise


def _native_cat_lookup(cat: _native.Catalogue, name: str) -> str:
    return cat.lookup(name)[1]


def _default_catalogue() -> ProgramCatalogue:
    native = _native.default_catalogue()
    by_project: dict[str, list[Program]] = {}
    for program, project in native.entries():
        by_project.setdefault(project, []).append(Program(program))
    projects = []
    for name, programs in by_project.items():
        _, docs, noise = native.project(name)
        projects.append(ProjectSettings(name, tuple(programs), docs, noise))
    return ProgramCatalogue(projects=projects, _native_cat=native)


DEFAULT_CATALOGUE = _default_catalogue()
DEFAULT_PROJECTS = tuple(DEFAULT_CATALOGUE.visible_settings().values())
CORE_OPS_PROJECT = DEFAULT_CATALOGUE.visible_settings()["core-ops"]

ECHO = Program("echo")
LS = Program("ls")
CAT = Program("cat")
TRUE = Program("true")
FALSE = Program("false")
PRINTF = Program("printf")
HEAD = Program("head")
YES = Program("yes")
SLEEP = Program("sleep")
SEQ = Program("seq")
WC = Program("wc")
TR = Program("tr")
GREP = Program("grep")
PWD = Program("pwd")
GIT = Program("git")
RSYNC = Program("rsync")
TAR = Program("tar")
