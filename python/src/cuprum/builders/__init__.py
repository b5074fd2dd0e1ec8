"""Builders for git, rsync and tar, and the typed arguments they take.

Every builder hands its typed values to the matching libcuprum builder
(cuprum/builders.h: ``git_*`` to ``cu_git_*``, ``rsync_sync`` to
``cu_rsync``, ``tar_*`` to ``cu_tar_*``), which validates them and assembles the argv in
one reviewed place; the result is an ordinary SafeCmd from the default
catalogue (git: project ``vcs``, rsync: ``sync``, tar: ``archive``).
Validation failures raise ValueError naming the rule (as the Python
design's builders do); a value of the wrong type raises TypeError.
"""

from __future__ import annotations

import dataclasses as dc
import enum
import os
import typing as typ

from cuprum import _native
from cuprum.catalogue import DEFAULT_CATALOGUE
from cuprum.errors import from_native
from cuprum.program import Program
from cuprum.sh import SafeCmd

if typ.TYPE_CHECKING:
    import collections.abc as cabc

SafePath = typ.NewType("SafePath", str)
GitRef = typ.NewType("GitRef", str)
_PathLike = typ.Union[str, os.PathLike[str]]

__all__ = [
    "Compression", "GitRef", "RsyncOptions", "SafePath", "TarCreateOptions",
    "git_add", "git_checkout", "git_clone", "git_commit", "git_diff_stat",
    "git_fetch", "git_init", "git_log", "git_ref", "git_rev_parse",
    "git_status", "rsync_sync", "safe_path", "tar_create", "tar_extract",
    "tar_list",
]


def _call(fn: typ.Callable[..., tuple[str, ...]], *args: typ.Any,
          **kw: typ.Any) -> tuple[str, ...]:
    try:
        return fn(*args, **kw)
    except _native.Error as exc:
        if exc.args[1] in ("EINVAL", "ENULARG"):  # a rule broken: ValueError
            raise ValueError(exc.args[2]) from None
        raise from_native(exc) from None  # e.g. git not installed


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
    """``git checkout [-b|-B] [--detach] [--force] REF [START] --``."""
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
    """``git commit [--all] [--allow-empty] [--quiet] --message=MESSAGE``
    (not empty; no control bytes but newline and tab)."""
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


def git_rev_parse(ref: str, *, short: int = 0, abbrev_ref: bool = False,
                  quiet: bool = False, repo: _PathLike | None = None,
                  allow_relative: bool = False) -> SafeCmd:
    """``git rev-parse --verify [--quiet] [--short=N | --abbrev-ref]
    --end-of-options REF``: one object name (``short`` 0 = the full hash,
    else 4..64 characters; it contradicts ``abbrev_ref``)."""
    return _cmd(_call(_native.git_rev_parse, ref, quiet=quiet, short_len=short,
                      abbrev_ref=abbrev_ref, repo=_p(repo),
                      allow_relative=allow_relative))


def git_clone(url: str, destination: _PathLike, *, depth: int = 0,
              branch: str | None = None, bare: bool = False,
              repo: _PathLike | None = None,
              allow_relative: bool = False) -> SafeCmd:
    """``git clone [--depth=N] [--branch B] [--bare] -- URL DEST``. The URL
    may not start with ``-`` or use the ``ext::``/``fd::`` transports (they
    run commands); ``depth`` 0 = the full history."""
    return _cmd(_call(_native.git_clone, url, os.fspath(destination),
                      depth=depth, branch=branch, bare=bare, repo=_p(repo),
                      allow_relative=allow_relative))


def git_fetch(remote: str | None = None, ref: str | None = None, *,
              prune: bool = False, tags: bool = False, depth: int = 0,
              repo: _PathLike | None = None,
              allow_relative: bool = False) -> SafeCmd:
    """``git fetch [--prune] [--tags] [--depth=N] [-- REMOTE [REF]]``;
    ``remote`` is a one-level name (``origin``) and ``ref`` needs it."""
    return _cmd(_call(_native.git_fetch, remote, ref, prune=prune, tags=tags,
                      depth=depth, repo=_p(repo),
                      allow_relative=allow_relative))


def git_log(ref: str | None = None, *,
            format: str | None = None,  # noqa: A002 (git's own name)
            max_count: int = 0, repo: _PathLike | None = None,
            allow_relative: bool = False) -> SafeCmd:
    """``git log --no-color [--format=F] [--max-count=N] [REF] --``
    (``max_count`` 0 = all; the format holds no control bytes)."""
    return _cmd(_call(_native.git_log, ref, format=format, max_count=max_count,
                      repo=_p(repo), allow_relative=allow_relative))


def git_diff_stat(from_ref: str | None = None, to_ref: str | None = None, *,
                  cached: bool = False, repo: _PathLike | None = None,
                  allow_relative: bool = False) -> SafeCmd:
    """``git diff --stat --no-color [--cached] [FROM [TO]] --`` (``to_ref``
    needs ``from_ref`` and contradicts ``cached``)."""
    return _cmd(_call(_native.git_diff_stat, from_ref, to_ref, cached=cached,
                      repo=_p(repo), allow_relative=allow_relative))


def git_add(paths: _PathLike | cabc.Sequence[_PathLike] = (), *,
            all: bool = False,  # noqa: A002 (git's own name)
            repo: _PathLike | None = None,
            allow_relative: bool = False) -> SafeCmd:
    """``git add [--all] -- PATH...``; no paths needs ``all``. Relative
    paths (to ``repo`` or the run's cwd) need ``allow_relative``."""
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    return _cmd(_call(_native.git_add, [os.fspath(p) for p in items], all=all,
                      repo=_p(repo), allow_relative=allow_relative))


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
    """``tar -t [-z|-j|-J] -f ARCHIVE``."""
    return _cmd(_call(_native.tar, "t", os.fspath(archive),
                      compression=int(compression), allow_relative=allow_relative))


def tar_extract(archive: _PathLike, *, destination: _PathLike,
                compression: Compression = Compression.AUTO,
                allow_relative: bool = False) -> SafeCmd:
    """``tar -x [-z|-j|-J] -f ARCHIVE -C DEST`` without ownership, permissions or
    paths escaping DEST (libcuprum's containment rules)."""
    return _cmd(_call(_native.tar, "x", os.fspath(archive),
                      dest=os.fspath(destination), compression=int(compression),
                      allow_relative=allow_relative))
