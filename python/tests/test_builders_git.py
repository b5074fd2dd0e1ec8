"""The git builders beyond status/checkout/commit/init: rev-parse, clone,
fetch, log, diff --stat and add. Each is checked for its exact argv, run
against a real repository made in a temp dir, and fed bad values that must
raise ValueError before anything is spawned."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cuprum import ExecutionContext, before, observe
from cuprum.builders import (
    git_add, git_clone, git_commit, git_diff_stat, git_fetch, git_init,
    git_log, git_rev_parse,
)

pytestmark = pytest.mark.skipif(not shutil.which("git"),
                                reason="git is not installed")

# A hermetic git: no system or user configuration, a fixed identity.
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
}
CTX = ExecutionContext(env=GIT_ENV)


def _ok(cmd):
    r = cmd.run_sync(context=CTX)
    assert r.ok, (r.argv, r.stderr)
    return r


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository on branch main with two commits: a.txt, then b.txt."""
    path = tmp_path / "repo"
    _ok(git_init(path, quiet=True, initial_branch="main"))
    (path / "a.txt").write_text("one\n")
    _ok(git_add("a.txt", repo=path, allow_relative=True))
    _ok(git_commit("first", quiet=True, repo=path))
    (path / "b.txt").write_text("two\nlines\n")
    _ok(git_add(path / "b.txt", repo=path))
    _ok(git_commit("second", quiet=True, repo=path))
    return path


# ------------------------------------------------------------- exact argv

def test_rev_parse_argv() -> None:
    assert git_rev_parse("main").argv_with_program == (
        "git", "rev-parse", "--verify", "--end-of-options", "main")
    assert git_rev_parse("HEAD", short=12, quiet=True,
                         repo="/srv/r").argv_with_program == (
        "git", "-C", "/srv/r", "rev-parse", "--verify", "--quiet",
        "--short=12", "--end-of-options", "HEAD")
    assert git_rev_parse("HEAD", abbrev_ref=True).argv[-3:] == (
        "--abbrev-ref", "--end-of-options", "HEAD")
    assert git_rev_parse("main").project.name == "vcs"


def test_clone_argv() -> None:
    assert git_clone("https://example.org/x.git", "/tmp/x").argv == (
        "clone", "--", "https://example.org/x.git", "/tmp/x")
    assert git_clone("/srv/src", "/tmp/x", depth=1, branch="main",
                     bare=True).argv == (
        "clone", "--depth=1", "--branch", "main", "--bare", "--",
        "/srv/src", "/tmp/x")


def test_fetch_argv() -> None:
    assert git_fetch().argv == ("fetch",)
    assert git_fetch("origin", "main", prune=True, tags=True,
                     depth=3).argv == (
        "fetch", "--prune", "--tags", "--depth=3", "--", "origin", "main")


def test_log_argv() -> None:
    assert git_log().argv == ("log", "--no-color", "--")
    assert git_log("main", format="%H %s", max_count=2).argv == (
        "log", "--no-color", "--format=%H %s", "--max-count=2", "main", "--")


def test_diff_stat_argv() -> None:
    assert git_diff_stat().argv == ("diff", "--stat", "--no-color", "--")
    assert git_diff_stat("HEAD", cached=True).argv == (
        "diff", "--stat", "--no-color", "--cached", "HEAD", "--")
    assert git_diff_stat("v1", "v2").argv[-3:] == ("v1", "v2", "--")


def test_add_argv() -> None:
    assert git_add(["/r/a", Path("/r/b")]).argv == ("add", "--", "/r/a", "/r/b")
    assert git_add(all=True, repo="/r").argv == ("-C", "/r", "add", "--all", "--")
    # A single path is one path, not a sequence of characters.
    assert git_add("/r/abc").argv == ("add", "--", "/r/abc")


# ------------------------------------------------------- run for real

def test_rev_parse_and_log_on_a_real_repository(repo: Path) -> None:
    head = _ok(git_rev_parse("HEAD", repo=repo)).stdout.strip()
    assert len(head) == 40 and int(head, 16) >= 0
    short = _ok(git_rev_parse("HEAD", short=8, repo=repo)).stdout.strip()
    assert head.startswith(short) and len(short) == 8
    assert _ok(git_rev_parse("HEAD", abbrev_ref=True,
                             repo=repo)).stdout == "main\n"
    missing = git_rev_parse("no-such-branch", quiet=True,
                            repo=repo).run_sync(context=CTX)
    assert not missing.ok and missing.stdout == ""

    log = _ok(git_log("main", format="%s", repo=repo)).stdout
    assert log.splitlines() == ["second", "first"]
    assert _ok(git_log(format="%H", max_count=1,
                       repo=repo)).stdout.strip() == head


def test_diff_stat_and_add_on_a_real_repository(repo: Path) -> None:
    assert _ok(git_diff_stat(repo=repo)).stdout == ""
    (repo / "a.txt").write_text("one\nmore\n")
    unstaged = _ok(git_diff_stat(repo=repo)).stdout
    assert "a.txt" in unstaged and "1 file changed" in unstaged
    assert _ok(git_diff_stat(cached=True, repo=repo)).stdout == ""
    _ok(git_add(all=True, repo=repo))
    assert "a.txt" in _ok(git_diff_stat(cached=True, repo=repo)).stdout
    assert "a.txt" in _ok(git_diff_stat("HEAD", repo=repo)).stdout
    # Two refs: what the second commit changed, seen from the first.
    first = _ok(git_log(format="%H", repo=repo)).stdout.split()[-1]
    between = _ok(git_diff_stat(first, "main", repo=repo)).stdout
    assert "b.txt" in between and "a.txt" not in between


def test_clone_and_fetch_from_a_real_repository(repo: Path,
                                                tmp_path: Path) -> None:
    dest = tmp_path / "clone"
    _ok(git_clone(str(repo), dest, branch="main"))
    assert (dest / "b.txt").read_text() == "two\nlines\n"
    # A new commit upstream arrives through fetch.
    (repo / "c.txt").write_text("three\n")
    _ok(git_add("c.txt", repo=repo, allow_relative=True))
    _ok(git_commit("third", quiet=True, repo=repo))
    upstream = _ok(git_rev_parse("main", repo=repo)).stdout
    _ok(git_fetch("origin", "main", prune=True, repo=dest))
    assert _ok(git_rev_parse("FETCH_HEAD", repo=dest)).stdout == upstream
    assert _ok(git_rev_parse("origin/main", repo=dest)).stdout == upstream
    shallow = tmp_path / "shallow"
    _ok(git_clone(f"file://{repo}", shallow, depth=1))
    assert _ok(git_log(format="%s", repo=shallow)).stdout == "third\n"


# ---------------------------------------------- bad input, nothing spawned

BAD = [
    (git_rev_parse, ("-x",), {}),                       # an option, not a ref
    (git_rev_parse, ("a..b",), {}),
    (git_rev_parse, ("HEAD",), {"short": 3}),
    (git_rev_parse, ("HEAD",), {"short": 65}),
    (git_rev_parse, ("HEAD",), {"short": -1}),
    (git_rev_parse, ("HEAD",), {"short": 8, "abbrev_ref": True}),
    (git_rev_parse, ("HEAD",), {"repo": "relative"}),
    (git_clone, ("--upload-pack=touch /tmp/x", "/tmp/d"), {}),
    (git_clone, ("ext::sh -c touch% /tmp/x", "/tmp/d"), {}),
    (git_clone, ("fd::3", "/tmp/d"), {}),
    (git_clone, ("https://e.org/x\n", "/tmp/d"), {}),
    (git_clone, ("https://e.org/x", "/tmp/../d"), {}),
    (git_clone, ("https://e.org/x", "d"), {}),
    (git_clone, ("https://e.org/x", "/tmp/d"), {"depth": -1}),
    (git_clone, ("https://e.org/x", "/tmp/d"), {"branch": "a b"}),
    (git_fetch, (None, "main"), {}),                    # ref needs remote
    (git_fetch, ("origin/x",), {}),                     # one-level remote
    (git_fetch, ("-origin",), {}),
    (git_fetch, ("origin",), {"depth": -2}),
    (git_log, (), {"format": "%H\x1b[31m"}),
    (git_log, (), {"max_count": -1}),
    (git_log, ("x.lock",), {}),
    (git_diff_stat, (None, "main"), {}),                # to needs from
    (git_diff_stat, ("a", "b"), {"cached": True}),
    (git_diff_stat, ("a@{1}",), {}),
    (git_add, (), {}),                                  # nothing to add
    (git_add, (["/r/a", "/r/../b"],), {}),
    (git_add, (["rel"],), {}),
    (git_add, (["/r/a\0b"],), {}),
]


@pytest.mark.parametrize(("builder", "args", "kw"), BAD,
                         ids=[f"{b.__name__}-{i}" for i, (b, _, _) in enumerate(BAD)])
def test_bad_input_is_refused_before_anything_runs(builder, args, kw,
                                                   children_of_me) -> None:
    seen: list[object] = []
    before_children = children_of_me()
    with before(seen.append), observe(seen.append), pytest.raises(ValueError):
        builder(*args, **kw)
    assert seen == [] and children_of_me() == before_children


def test_wrong_types_are_type_errors() -> None:
    with pytest.raises(TypeError):
        git_rev_parse(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        git_log(max_count="2")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        git_add([b"/r/a"])  # type: ignore[list-item]
