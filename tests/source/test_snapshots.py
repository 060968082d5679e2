"""Snapshots: the files of a commit on disk, once per commit, with safe symlinks only."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.source.conftest import MakeRepos
from tests.support import gitserver
from tests.support.gitserver import Executable, Symlink
from tether.model.revisions import ResolvedRevision
from tether.source import errors

MakeRepo = Callable[[], gitserver.WorkRepo]

INSIDE = {
    "ok-file": "a.yaml",
    "ok-dir": "sub",
    "ok-chain": "ok-dir/x.yaml",
    "ok-up-and-down": "sub/../a.yaml",
    "sub/ok-parent": "../a.yaml",
}
ESCAPING = {
    "esc-parent": "../outside",
    "esc-deep": "sub/../../x",
    "esc-abs": "/etc/passwd",
    "esc-dirlink": "..",
    "esc-via-dirlink": "esc-dirlink/etc/passwd",
    "esc-chain": "sub/esc-hop",
    "sub/esc-hop": "../../etc/passwd",
    "esc-loop-a": "esc-loop-b",
    "esc-loop-b": "esc-loop-a",
}
FILES: dict[str, gitserver.FileSpec] = {
    "a.yaml": "a: 1\n",
    "sub/x.yaml": "x: 1\n",
    "bin/run.sh": Executable("#!/bin/sh\necho hi\n"),
    "data.bin": bytes(range(256)),
    **{path: Symlink(target) for path, target in {**INSIDE, **ESCAPING}.items()},
}


@pytest.fixture
def served_repo(make_repo: MakeRepo, daemon: gitserver.GitDaemon) -> tuple[str, gitserver.WorkRepo]:
    repo = make_repo()
    repo.env["GIT_AUTHOR_DATE"] = "2024-05-01T12:00:00+02:00"
    repo.commit("First commit\n\nWith a body.", FILES)
    repo.tag("v1.0.0")
    repo.push()
    return daemon.url(repo.bare.name), repo


async def test_contents_modes_and_commit(
    served_repo: tuple[str, gitserver.WorkRepo], make_repos: MakeRepos
) -> None:
    url, repo = served_repo
    snap = await make_repos().snapshot(url, "main")
    root = snap.root
    assert (root / "a.yaml").read_text() == "a: 1\n"
    assert (root / "data.bin").read_bytes() == bytes(range(256))
    assert os.stat(root / "bin/run.sh").st_mode & 0o111 == 0o111
    assert os.stat(root / "a.yaml").st_mode & 0o111 == 0
    assert all(
        os.stat(p).st_mode & 0o222 == 0
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink()
    )
    assert str(snap.revision) == f"main@sha1:{repo.git('rev-parse', 'HEAD')}"
    assert snap.commit.author == "Ada Lovelace <ada@example.com>"
    assert snap.commit.message == "First commit\n\nWith a body."
    assert snap.commit.timestamp == "2024-05-01T12:00:00+02:00"


async def test_only_symlinks_that_stay_inside_are_materialized(
    served_repo: tuple[str, gitserver.WorkRepo], make_repos: MakeRepos
) -> None:
    url, _ = served_repo
    snap = await make_repos().snapshot(url, "main")
    assert snap.escaping_links == frozenset(ESCAPING)
    for path, target in INSIDE.items():
        assert os.readlink(snap.root / path) == target
    for path in ESCAPING:
        assert not (snap.root / path).is_symlink()
        assert not (snap.root / path).exists()
    assert (snap.root / "ok-chain").read_text() == "x: 1\n"
    assert (snap.root / "sub/ok-parent").read_text() == "a: 1\n"
    for link in snap.root.rglob("*"):
        if link.is_symlink():
            assert link.resolve().is_relative_to(snap.root.resolve())


async def test_one_directory_per_commit_shared_by_refs_and_callers(
    served_repo: tuple[str, gitserver.WorkRepo], make_repos: MakeRepos, tmp_path: Path
) -> None:
    url, _ = served_repo
    cache = tmp_path / "shared-cache"
    repos = make_repos(cache=cache)
    snaps = await asyncio.gather(
        *(repos.snapshot(url, rev) for rev in ["main", "v1.0.0", "HEAD", "1.x"] * 3)
    )
    assert len({s.root for s in snaps}) == 1
    assert repos.snapshots.written == 1
    assert repos.snapshots.builds.started == 1
    assert {s.revision.ref for s in snaps} == {"main", "v1.0.0", "HEAD", "1.x"}
    assert not [p for p in snaps[0].root.parent.parent.iterdir() if p.name.startswith(".tmp-")]

    restarted = make_repos(cache=cache)  # a new process: the directory on disk is reused
    again = await restarted.snapshot(url, snaps[0].revision)
    assert again.root == snaps[0].root
    assert again.escaping_links == snaps[0].escaping_links
    assert restarted.snapshots.written == 0


async def test_a_resolved_revision_on_a_warm_cache_runs_no_git(
    served_repo: tuple[str, gitserver.WorkRepo],
    make_repos: MakeRepos,
    counting_git: tuple[str, Path],
    tmp_path: Path,
) -> None:
    url, _ = served_repo
    git, log = counting_git
    cache = tmp_path / "warm"
    first = await make_repos(cache=cache, git=git).snapshot(url, "main")
    calls = log.read_text()
    hit = await make_repos(cache=cache, git=git).snapshot(url, first.revision)
    assert hit == first
    assert log.read_text() == calls  # neither the server nor the mirror was touched


async def test_submodules_are_skipped(
    make_repo: MakeRepo, daemon: gitserver.GitDaemon, make_repos: MakeRepos
) -> None:
    repo = make_repo()
    sha = repo.commit("one", {"a.yaml": "a: 1\n"})
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{sha},vendor/lib")
    repo.git("commit", "-q", "-m", "add a submodule")
    repo.push()
    snap = await make_repos().snapshot(daemon.url(repo.bare.name), "main")
    assert sorted(p.name for p in snap.root.iterdir()) == ["a.yaml", "vendor"]
    assert list((snap.root / "vendor").iterdir()) == []


async def test_changed_paths_between_commits(
    make_repo: MakeRepo, daemon: gitserver.GitDaemon, make_repos: MakeRepos
) -> None:
    repo = make_repo()
    old = repo.commit("one", {"a.yaml": "1", "c.yaml": "c", "d/old.yaml": "d", "keep": "k"})
    (repo.path / "c.yaml").unlink()
    (repo.path / "d/old.yaml").rename(repo.path / "d/new.yaml")
    new = repo.commit("two", {"a.yaml": "2", "apps/b.yaml": "b"})
    repo.push()
    repos = make_repos()
    changed = await repos.changed_paths(daemon.url(repo.bare.name), old, new)
    assert changed == {"a.yaml", "c.yaml", "d/old.yaml", "d/new.yaml", "apps/b.yaml"}


async def test_snapshot_of_a_missing_commit(
    served_repo: tuple[str, gitserver.WorkRepo], make_repos: MakeRepos
) -> None:
    url, _ = served_repo
    missing = ResolvedRevision("gone", "1" * 40)
    with pytest.raises(errors.RevisionNotFound, match=f"commit {'1' * 40}"):
        await make_repos().snapshot(url, missing)
