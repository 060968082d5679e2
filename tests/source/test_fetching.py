"""Mirror fetches: incremental, coalesced, bounded by a deadline, and refusing unsafe URLs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pygit2
import pytest

from tests.source.conftest import MakeRepos, git_calls
from tests.support import gitserver
from tether.source import errors

MakeRepo = Callable[[], gitserver.WorkRepo]


async def test_incremental_fetch_picks_up_a_new_commit(
    make_repo: MakeRepo, daemon: gitserver.GitDaemon, make_repos: MakeRepos
) -> None:
    repo = make_repo()
    first = repo.commit("one", {"a.yaml": "a: 1\n"})
    repo.push()
    url = daemon.url(repo.bare.name)
    repos = make_repos()
    assert (await repos.resolve(url, "main")).sha == first
    mirror = repos.mirrors.path(url)
    packs_before = set((mirror / "objects").rglob("*"))

    second = repo.commit("two", {"a.yaml": "a: 2\n"})
    repo.push()
    assert (await repos.resolve(url, "main")).sha == second
    assert repos.mirrors.path(url) == mirror  # the same mirror, updated in place
    assert packs_before <= set((mirror / "objects").rglob("*"))  # nothing re-downloaded wholesale
    assert repos.mirrors.has_commit(url, first)


async def test_fetch_prunes_deleted_branches(
    make_repo: MakeRepo, daemon: gitserver.GitDaemon, make_repos: MakeRepos
) -> None:
    repo = make_repo()
    repo.commit("one")
    repo.git("branch", "feature")
    repo.push()
    url = daemon.url(repo.bare.name)
    repos = make_repos()
    await repos.fetch(url)
    repo.git("branch", "-D", "feature")
    repo.push()
    await repos.fetch(url)
    assert list(pygit2.Repository(str(repos.mirrors.path(url))).branches.local) == ["main"]


async def test_concurrent_fetches_share_one_git_process(
    make_repo: MakeRepo,
    daemon: gitserver.GitDaemon,
    make_repos: MakeRepos,
    counting_git: tuple[str, Path],
) -> None:
    git, log = counting_git
    repo = make_repo()
    repo.commit("one", {f"f{i}.txt": str(i) for i in range(20)})
    repo.push()
    url = daemon.url(repo.bare.name)
    repos = make_repos(git=git)

    await asyncio.gather(*(repos.fetch(url) for _ in range(10)))
    assert len(git_calls(log, "fetch")) == 1
    assert repos.mirrors.fetches.started == 1

    await repos.fetch(url)  # once settled, the next caller runs a fresh fetch
    assert len(git_calls(log, "fetch")) == 2


async def test_concurrent_resolves_share_listing_and_fetch(
    make_repo: MakeRepo,
    daemon: gitserver.GitDaemon,
    make_repos: MakeRepos,
    counting_git: tuple[str, Path],
) -> None:
    git, log = counting_git
    repo = make_repo()
    sha = repo.commit("one")
    repo.push()
    repos = make_repos(git=git)
    url = daemon.url(repo.bare.name)
    resolved = await asyncio.gather(*(repos.resolve(url, "main") for _ in range(10)))
    assert {r.sha for r in resolved} == {sha}
    assert len(git_calls(log, "ls-remote")) == 1
    assert len(git_calls(log, "fetch")) == 1


async def test_resolving_from_a_listing_already_seen(
    make_repo: MakeRepo,
    daemon: gitserver.GitDaemon,
    make_repos: MakeRepos,
    counting_git: tuple[str, Path],
) -> None:
    git, log = counting_git
    repo = make_repo()
    sha = repo.commit("one")
    repo.tag("v1.0.0")
    repo.push()
    repos = make_repos(git=git)
    url = daemon.url(repo.bare.name)
    advertised = await repos.ls_remote(url)  # one poll...
    for revision in ("main", "v1.0.0", "^1"):  # ...serves any number of resolutions
        assert (await repos.resolve(url, revision, advertised=advertised)).sha == sha
    assert len(git_calls(log, "ls-remote")) == 1
    assert len(git_calls(log, "fetch")) == 1


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and text.encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


@pytest.mark.parametrize("scheme", ["git", "http"])
async def test_a_silent_server_times_out(
    scheme: str, server_logs: Path, make_repos: MakeRepos
) -> None:
    with gitserver.stalling_server(server_logs) as port:
        url = f"{scheme}://127.0.0.1:{port}/stalled.git"
        repos = make_repos(network_timeout=1.0)
        started = time.monotonic()
        with pytest.raises(errors.GitTimeout) as caught:
            await repos.fetch(url)
        elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 3.0
    assert str(caught.value) == f"{url}: git fetch timed out after 1s (git was stopped)"
    assert isinstance(caught.value, errors.RepoUnreachable)
    assert _processes_mentioning(f"127.0.0.1:{port}/stalled.git") == []  # no git left behind


async def test_a_closed_port_is_unreachable(make_repos: MakeRepos) -> None:
    port = gitserver.free_port()
    with pytest.raises(errors.RepoUnreachable, match="repository unreachable"):
        await make_repos().ls_remote(f"git://127.0.0.1:{port}/nothing.git")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("--upload-pack=touch /tmp/pwned", "not a repository URL"),
        ("ext::sh -c 'touch /tmp/pwned'", "unsupported transport"),
        ("/srv/git/repo.git", "local repositories are not allowed"),
        ("file:///srv/git/repo.git", "local repositories are not allowed"),
    ],
)
async def test_unsafe_urls_are_refused(url: str, says: str, make_repos: MakeRepos) -> None:
    with pytest.raises(errors.UnsupportedRepo, match=says):
        await make_repos(allow_local=False).ls_remote(url)


async def test_local_paths_work_when_allowed(make_repo: MakeRepo, make_repos: MakeRepos) -> None:
    repo = make_repo()
    sha = repo.commit("one")
    repo.push()
    assert (await make_repos(allow_local=True).resolve(str(repo.bare), "HEAD")).sha == sha


@pytest.mark.parametrize("server", ["daemon", "http"])
async def test_pushes_over_the_served_protocols_are_seen(
    server: str,
    make_repo: MakeRepo,
    daemon: gitserver.GitDaemon,
    http: gitserver.HttpGitServer,
    make_repos: MakeRepos,
) -> None:
    """The test servers take pushes too (receive-pack), as later write-back tests need."""
    repo = make_repo()
    repo.commit("one")
    repo.push()
    url = (daemon if server == "daemon" else http).url(repo.bare.name)
    sha = repo.commit("two", {"b.yaml": "b"})
    repo.git("push", "-q", url, "main:refs/heads/pushed")
    assert (await make_repos().resolve(url, "pushed")).sha == sha
