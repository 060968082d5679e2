"""Resolving branches, tags, semver ranges, SHAs and HEAD against a real `git daemon`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.source.conftest import MakeRepos
from tests.support import gitserver
from tether.source import errors


@dataclass(frozen=True)
class History:
    url: str
    repo: gitserver.WorkRepo
    shas: dict[str, str]  # tag or branch name -> commit


@pytest.fixture
def history(make_repo: Callable[[], gitserver.WorkRepo], daemon: gitserver.GitDaemon) -> History:
    """main: v1.0.0, v1.2.0, v1.2.5 (annotated), v1.3.0-rc.1, v2.0.0; `release` forks at v1.2.0."""
    repo = make_repo()
    shas: dict[str, str] = {}
    for tag in ("v1.0.0", "v1.2.0", "v1.2.5", "v1.3.0-rc.1", "v2.0.0"):
        shas[tag] = repo.commit(tag, {"version.txt": tag})
        repo.tag(tag, message=f"release {tag}" if tag == "v1.2.5" else "")
    repo.git("checkout", "-q", "-b", "release", "v1.2.0")
    shas["release"] = repo.commit("hotfix", {"fix.txt": "1"})
    repo.git("checkout", "-q", "main")
    repo.push()
    return History(daemon.url(repo.bare.name), repo, shas)


@pytest.mark.parametrize(
    ("revision", "expected"),
    [
        ("HEAD", "v2.0.0"),
        ("main", "v2.0.0"),
        ("release", "release"),
        ("refs/heads/release", "release"),
        ("v1.0.0", "v1.0.0"),
        ("v1.2.5", "v1.2.5"),  # annotated: resolves to the commit, not the tag object
        ("1.2.x", "v1.2.5"),
        ("1.2.*", "v1.2.5"),
        (">=1.0.0 <2.0.0", "v1.2.5"),  # the release candidate is not a release
        ("^1.2.0", "v1.2.5"),
        ("~1.2.0", "v1.2.5"),
        ("*", "v2.0.0"),
        (">=1.3.0-0 <2.0.0", "v1.3.0-rc.1"),
    ],
)
async def test_resolve(
    history: History, make_repos: MakeRepos, revision: str, expected: str
) -> None:
    resolved = await make_repos().resolve(history.url, revision)
    assert resolved.sha == history.shas[expected]
    assert resolved.ref == revision
    assert str(resolved) == f"{revision}@sha1:{history.shas[expected]}"


async def test_sha_is_used_as_is(history: History, make_repos: MakeRepos) -> None:
    sha = history.shas["v1.0.0"]
    repos = make_repos()
    resolved = await repos.resolve(history.url, sha.upper())
    assert resolved.sha == sha
    assert repos.mirrors.has_commit(history.url, sha)


async def test_sha_on_no_branch_is_fetched_by_sha(history: History, make_repos: MakeRepos) -> None:
    history.repo.git("checkout", "-q", "--detach")
    hidden = history.repo.commit("only on a hidden ref", {"hidden.txt": "x"})
    history.repo.push(f"{hidden}:refs/hidden/x")
    repos = make_repos()
    assert (await repos.resolve(history.url, hidden)).sha == hidden


async def test_ls_remote_lists_peeled_refs(history: History, make_repos: MakeRepos) -> None:
    advertised = await make_repos().ls_remote(history.url)
    assert advertised["HEAD"] == history.shas["v2.0.0"]
    assert advertised["refs/heads/release"] == history.shas["release"]
    assert advertised["refs/tags/v1.2.5"] == history.shas["v1.2.5"]


@pytest.mark.parametrize(
    ("revision", "says"),
    [
        ("no-such-branch", "no branch, tag or ref named 'no-such-branch'"),
        ("3.x", "no tag matches semver constraint '3.x'"),
        ("0" * 40, f"commit {'0' * 40}"),
    ],
)
async def test_missing_revisions(
    history: History, make_repos: MakeRepos, revision: str, says: str
) -> None:
    with pytest.raises(errors.RevisionNotFound) as caught:
        await make_repos().resolve(history.url, revision)
    assert says in str(caught.value)
    assert str(caught.value).startswith(history.url)


async def test_missing_repository_is_unreachable(
    daemon: gitserver.GitDaemon, make_repos: MakeRepos
) -> None:
    with pytest.raises(errors.RepoUnreachable, match=r"no-such-repo\.git: git ls-remote"):
        await make_repos().resolve(daemon.url("no-such-repo.git"), "main")
