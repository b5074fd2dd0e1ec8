"""The exceptions the package raises (mapped from libcuprum's CU_E* codes)."""

from __future__ import annotations

import errno
import os

from cuprum import _native


class UnknownProgramError(LookupError):
    """The program is not in the catalogue (CU_EUNKNOWN_PROGRAM)."""


class ForbiddenProgramError(PermissionError):
    """The current context's allowlist does not permit the program."""


class DuplicateProjectError(ValueError):
    """Two projects of one catalogue share a name."""

    def __init__(self, project_name: str) -> None:
        super().__init__(f"duplicate project name: {project_name!r}")
        self.project_name = project_name


class DuplicateProgramError(ValueError):
    """Two projects of one catalogue claim the same program."""

    def __init__(self, program: str, owner: str) -> None:
        super().__init__(f"program {program!r} is already owned by {owner!r}")
        self.program = program
        self.owner = owner


class CuprumError(RuntimeError):
    """A libcuprum failure with no more specific Python exception: the
    command could not be started (spawn, stdin, environment, ENOEXEC, ...);
    a missing executable or an unusable cwd is an ``OSError`` subclass
    instead, a permission problem a ``PermissionError``. ``code`` is the
    negative CU_E* code, ``name`` its name (e.g. ``"EBADENV"``)."""

    def __init__(self, code: int, name: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.name = name


# libcuprum's messages for a failed chdir or exec end in ": " + strerror()
# (the same libc as os.strerror). OSError(errno, message) then picks the
# subclass subprocess would raise: NotADirectoryError for a cwd that is a
# file, PermissionError for one that cannot be entered, and so on.
_OS_ERRNOS = (errno.ENOENT, errno.ENOTDIR, errno.EACCES, errno.EPERM,
              errno.ELOOP, errno.ENAMETOOLONG, errno.EISDIR)


def _errno_of(message: str, default: int) -> int:
    for e in _OS_ERRNOS:
        if message.endswith(": " + os.strerror(e)):
            return e
    return default


def from_native(err: _native.Error) -> Exception:
    """The Python exception for a libcuprum error."""
    code, name, message = err.args
    if name == "EUNKNOWN_PROGRAM":
        return UnknownProgramError(message)
    if name == "EFORBIDDEN":
        return ForbiddenProgramError(message)
    if name in ("ENOTFOUND", "ECWD"):
        return OSError(_errno_of(message, errno.ENOENT), message)
    if name == "EACCES":
        return PermissionError(13, message)
    return CuprumError(code, name, message)
