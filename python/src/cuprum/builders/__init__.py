"""Builders for git, rsync and tar, and the typed arguments they take.

Every builder hands its typed values to libcuprum's builder of the same
name (cuprum/builders.h), which validates them and assembles the argv in
one reviewed place; the result is an ordinary SafeCmd from the default
catalogue (git: project ``vcs``, rsync: ``sync``, tar: ``archive``).
Validation failures raise ValueError naming the rule.
"""

from __future__ import annotations

import dataclasses as dc
import enum
import os
import typing as typ

from cuprum import _native
from cuprum.catalogue import DEFAULT_CATALOGUE
from cuprum.program import Program
from cuprum.sh import SafeCmd

if typ.TYPE_CHECKING:
    import collections.abc as cabc

SafePath = typ.NewType("SafePath", str)
GitRef = typ.NewType("GitRef", str)
_PathLike = typ.Union[str, os.PathLike[str]]

__all__ = [
    "Compression", "GitRef", "RsyncOptions", "SafePath", "TarCreateOptions",
    "git_checkout", "git_commit", "git_init", "git_ref", "git_status",
    "rsync_sync", "safe_path", "tar_create", "tar_extract", "tar_list",
]


def _call(fn: typ.Callable[..., tuple[str, ...]], *args: typ.Any,
          **kw: typ.Any) -> tuple[str, ...]:
    try:
        return fn(*args, **kw)
    except _native.Error as exc:
        raise ValueError(exc.args[2]) from None


def _cmd(argv: tuple[str, ...]) -> SafeCmd:
    entry = DEFAULT_CATALOGUE.lookup(Program(argv[0]))
    return SafeCmd(entry.program, argv[1:], entry.project, DEFAULT_CATALOGUE)


def _p(path: _PathLike | None) -> str | None:
    return None if path is None else os.fspath(path)


def safe_path(path: _PathLike, *, allow_relative: bool = False) -> SafePath:
    """A path checked by libcuprum's rules: not empty, no NUL, no ``..``
    component, absolute unless ``allow_relative``."""
    return SafePath(_call(_native.safe_path, os.fspath(path),
                          allow_relative=allow_relative))


def git_ref(ref: str) -> GitRef:
    """A ref name checked by git-check-ref-format's rules (and no leading
    ``-``)."""
    return GitRef(_call(_native.git_ref, ref))


def git_checkout(ref: str, *, create_branch: bool = False, detach: bool = False,
                 force: bool = False, start_point: str | None = None,
                 repo: _PathLike | None = None,
                 allow_relative: bool = False) -> SafeCmd:
    """``git checkout [-b] REF [START] --``."""
    return _cmd(_call(_native.git_checkout, ref, create=create_branch,
                      detach=detach, force=force, start=start_point,
                      repo=_p(repo), allow_relative=allow_relative))


def git_status(*, short: bool = False, branch: bool = False,
               porcelain: bool = False, repo: _PathLike | None = None,
               allow_relative: bool = False) -> SafeCmd:
    """``git status`` with ``--short``/``--branch``/``--porcelain=v1``."""
    return _cmd(_call(_native.git_status, short=short, branch=branch,
                      porcelain=porcelain, repo=_p(repo),
                      allow_relative=allow_relative))


def git_commit(message: str, *, all: bool = False,  # noqa: A002
               allow_empty: bool = False, quiet: bool = False,
               repo: _PathLike | None = None,
               allow_relative: bool = False) -> SafeCmd:
    """``git commit -m MESSAGE`` (no control bytes but newline and tab)."""
    return _cmd(_call(_native.git_commit, message, all=all,
                      allow_empty=allow_empty, quiet=quiet, repo=_p(repo),
                      allow_relative=allow_relative))


def git_init(directory: _PathLike, *, bare: bool = False, quiet: bool = False,
             initial_branch: str | None = None,
             allow_relative: bool = False) -> SafeCmd:
    """``git init [--bare] [--initial-branch=B] -- DIR``."""
    return _cmd(_call(_native.git_init, os.fspath(directory), bare=bare,
                      quiet=quiet, initial_branch=initial_branch,
                      allow_relative=allow_relative))


@dc.dataclass(frozen=True, slots=True)
class RsyncOptions:
    """rsync flags; ``delete`` needs ``archive`` or ``recursive``."""

    archive: bool = True
    recursive: bool = False
    delete: bool = False
    dry_run: bool = False
    verbose: bool = False
    compress: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    allow_relative: bool = False


def rsync_sync(source: _PathLike | cabc.Sequence[_PathLike], destination: _PathLike,
               *, options: RsyncOptions | None = None) -> SafeCmd:
    """``rsync [flags] -- SRC... DEST`` (a trailing slash on a source is
    kept: "dir/" is the contents of dir)."""
    o = options or RsyncOptions()
    sources = ([source] if isinstance(source, (str, os.PathLike)) else list(source))
    return _cmd(_call(_native.rsync, [os.fspath(s) for s in sources],
                      os.fspath(destination), archive=o.archive,
                      recursive=o.recursive, delete=o.delete, dry_run=o.dry_run,
                      verbose=o.verbose, compress=o.compress,
                      include=list(o.include), exclude=list(o.exclude),
                      allow_relative=o.allow_relative))


class Compression(enum.IntEnum):
    """tar compression (values are cu_tar_compression's)."""

    AUTO = 0
    NONE = 1
    GZIP = 2
    BZIP2 = 3
    XZ = 4


@dc.dataclass(frozen=True, slots=True)
class TarCreateOptions:
    """tar creation flags."""

    compression: Compression = Compression.NONE
    directory: _PathLike | None = None
    verbose: bool = False
    allow_relative: bool = False


def tar_create(archive: _PathLike, members: cabc.Sequence[_PathLike], *,
               options: TarCreateOptions | None = None) -> SafeCmd:
    """``tar -c [-z|-j|-J] -f ARCHIVE [-C DIR] -- MEMBER...``."""
    o = options or TarCreateOptions()
    return _cmd(_call(_native.tar, "c", os.fspath(archive),
                      members=[os.fspath(m) for m in members],
                      compression=int(o.compression), directory=_p(o.directory),
                      verbose=o.verbose, allow_relative=o.allow_relative))


def tar_list(archive: _PathLike, *, compression: Compression = Compression.AUTO,
             allow_relative: bool = False) -> SafeCmd:
    """``tar -t -f ARCHIVE``."""
    return _cmd(_call(_native.tar, "t", os.fspath(archive),
                      compression=int(compression), allow_relative=allow_relative))


def tar_extract(archive: _PathLike, *, destination: _PathLike,
                compression: Compression = Compression.AUTO,
                allow_relative: bool = False) -> SafeCmd:
    """``tar -x -f ARCHIVE -C DEST`` without ownership, permissions or
    paths escaping DEST (libcuprum's containment rules)."""
    return _cmd(_call(_native.tar, "x", os.fspath(archive),
                      dest=os.fspath(destination), compression=int(compression),
                      allow_relative=allow_relative))
