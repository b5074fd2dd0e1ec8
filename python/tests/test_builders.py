"""safe_path, git_ref and the git/rsync/tar builders, run for real."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cuprum.builders import (
    Compression, RsyncOptions, TarCreateOptions, git_checkout, git_commit,
    git_init, git_ref, git_status, rsync_sync, safe_path, tar_create,
    tar_extract, tar_list,
)


def test_safe_path_rules() -> None:
    assert safe_path("/srv/data") == "/srv/data"
    assert safe_path(Path("rel/x"), allow_relative=True) == "rel/x"
    for bad in ("", "/a/../b", "rel"):
        with pytest.raises(ValueError):
            safe_path(bad)
    with pytest.raises(ValueError):
        safe_path("/a\0b")


def test_git_ref_rules() -> None:
    assert git_ref("main") == "main"
    for bad in ("-x", "a..b", "a b", "x.lock", "a//b", "a@{1}", "end."):
        with pytest.raises(ValueError):
            git_ref(bad)


def test_git_builders_argv() -> None:
    assert git_checkout("main", create_branch=True).argv_with_program[:3] == (
        "git", "checkout", "-b")
    with pytest.raises(ValueError):
        git_checkout("main", create_branch=True, detach=True)
    with pytest.raises(ValueError):
        git_checkout("--upload-pack=x")
    assert git_status(porcelain=True).project.name == "vcs"


@pytest.mark.skipif(not shutil.which("git"), reason="git is not installed")
def test_git_round_trip(tmp_path: Path) -> None:
    from cuprum import ExecutionContext
    repo = tmp_path / "r"
    assert git_init(repo, quiet=True, initial_branch="main").run_sync().ok
    (repo / "f").write_text("x")
    ctx = ExecutionContext(cwd=repo, env={
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"})
    assert git_commit("first", all=True, allow_empty=True, repo=repo).run_sync(
        context=ctx).ok
    st = git_status(porcelain=True, repo=repo).run_sync(context=ctx)
    assert st.ok and "f" in st.stdout


@pytest.mark.skipif(not shutil.which("tar"), reason="tar is not installed")
def test_tar_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("hello")
    archive = tmp_path / "a.tar.gz"
    opts = TarCreateOptions(compression=Compression.GZIP, directory=src,
                            allow_relative=True)
    assert tar_create(archive, ["a.txt"], options=opts).run_sync().ok
    assert tar_list(archive).run_sync().stdout == "a.txt\n"
    out = tmp_path / "out"
    out.mkdir()
    assert tar_extract(archive, destination=out).run_sync().ok
    assert (out / "a.txt").read_text() == "hello"


@pytest.mark.skipif(not shutil.which("rsync"), reason="rsync is not installed")
def test_rsync_round_trip(tmp_path: Path) -> None:
    src, dst = tmp_path / "s", tmp_path / "d"
    src.mkdir()
    (src / "x").write_text("1")
    (src / "skip.o").write_text("2")
    cmd = rsync_sync(f"{src}/", dst, options=RsyncOptions(exclude=("*.o",)))
    assert "--" in cmd.argv
    assert cmd.run_sync().ok
    assert (dst / "x").exists() and not (dst / "skip.o").exists()


def test_rsync_delete_needs_archive_or_recursive() -> None:
    with pytest.raises(ValueError):
        rsync_sync("/a", "/b", options=RsyncOptions(archive=False, delete=True))
