"""Credentials over real servers: HTTP basic auth through askpass, SSH keys with pinned host keys.

The HTTP password is a canary: whatever fails, it must appear in no error, no log record and no
git command line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.source.conftest import HTTP_PASSWORD, HTTP_USER, MakeRepos
from tests.support import gitserver
from tether.source import errors
from tether.source.credentials import CredentialTable, RepoCredentials, StaticCredentialStore

MakeRepo = Callable[[], gitserver.WorkRepo]


def _store(url: str, creds: RepoCredentials) -> StaticCredentialStore:
    return StaticCredentialStore(CredentialTable(repositories={url: creds}))


@pytest.fixture
def pushed(make_repo: MakeRepo) -> tuple[gitserver.WorkRepo, str]:
    repo = make_repo()
    sha = repo.commit("one", {"a.yaml": "a: 1\n"})
    repo.push()
    return repo, sha


def _assert_no_canary(exc: BaseException, *texts: str) -> None:
    for text in (str(exc), repr(exc), *(str(a) for a in exc.args), *texts):
        assert HTTP_PASSWORD not in text
        assert HTTP_USER not in text


async def test_http_basic_auth_with_the_right_password(
    pushed: tuple[gitserver.WorkRepo, str],
    http_auth: gitserver.HttpGitServer,
    make_repos: MakeRepos,
    counting_git: tuple[str, Path],
) -> None:
    repo, sha = pushed
    url = http_auth.url(repo.bare.name)
    git, log = counting_git
    repos = make_repos(_store(url, RepoCredentials(HTTP_USER, HTTP_PASSWORD)), git=git)
    snap = await repos.snapshot(url, "main")
    assert snap.revision.sha == sha
    assert (snap.root / "a.yaml").read_text() == "a: 1\n"
    assert f"{HTTP_USER} 200" in "\n".join(http_auth.requests())
    assert HTTP_PASSWORD not in log.read_text()  # never on a git command line


async def test_http_basic_auth_with_a_wrong_password(
    pushed: tuple[gitserver.WorkRepo, str],
    http_auth: gitserver.HttpGitServer,
    make_repos: MakeRepos,
    caplog: pytest.LogCaptureFixture,
) -> None:
    repo, _ = pushed
    url = http_auth.url(repo.bare.name)
    wrong = RepoCredentials(HTTP_USER, HTTP_PASSWORD + "-wrong")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(errors.AuthenticationFailed) as caught:
        await make_repos(_store(url, wrong)).resolve(url, "main")
    assert str(caught.value).startswith(f"{url}: git ls-remote: authentication failed")
    _assert_no_canary(caught.value, caplog.text)


async def test_http_without_credentials_says_so(
    pushed: tuple[gitserver.WorkRepo, str],
    http_auth: gitserver.HttpGitServer,
    make_repos: MakeRepos,
) -> None:
    repo, _ = pushed
    with pytest.raises(errors.AuthenticationFailed, match="none are configured"):
        await make_repos().resolve(http_auth.url(repo.bare.name), "main")


async def test_credentials_written_into_the_url_are_moved_out_of_it(
    pushed: tuple[gitserver.WorkRepo, str],
    http_auth: gitserver.HttpGitServer,
    make_repos: MakeRepos,
    counting_git: tuple[str, Path],
) -> None:
    repo, sha = pushed
    git, log = counting_git
    port = http_auth.server.port
    good = f"http://{HTTP_USER}:{HTTP_PASSWORD}@127.0.0.1:{port}/{repo.bare.name}"
    snap = await make_repos(git=git).snapshot(good, "main")
    assert snap.revision.sha == sha
    assert snap.repo_url == http_auth.url(repo.bare.name)
    assert HTTP_PASSWORD not in log.read_text()

    bad = f"http://{HTTP_USER}:{HTTP_PASSWORD}x@127.0.0.1:{port}/{repo.bare.name}"
    with pytest.raises(errors.AuthenticationFailed) as caught:
        await make_repos().resolve(bad, "main")
    _assert_no_canary(caught.value)


async def test_ssh_key_with_pinned_host_key(
    pushed: tuple[gitserver.WorkRepo, str], sshd: gitserver.SshServer, make_repos: MakeRepos
) -> None:
    repo, sha = pushed
    url = sshd.url(repo.bare)
    creds = RepoCredentials(ssh_private_key=sshd.client_key, known_hosts=sshd.known_hosts)
    snap = await make_repos(_store(url, creds)).snapshot(url, "main")
    assert snap.revision.sha == sha
    assert (snap.root / "a.yaml").read_text() == "a: 1\n"


async def test_ssh_refuses_a_host_key_that_is_not_pinned(
    pushed: tuple[gitserver.WorkRepo, str],
    sshd: gitserver.SshServer,
    make_repos: MakeRepos,
    tmp_path: Path,
) -> None:
    repo, _ = pushed
    url = sshd.url(repo.bare)
    _, impostor = gitserver.keygen(tmp_path / "impostor", "impostor")
    wrong_pin = f"[127.0.0.1]:{sshd.server.port} {impostor}\n"
    for known_hosts in (wrong_pin, ""):
        creds = RepoCredentials(ssh_private_key=sshd.client_key, known_hosts=known_hosts)
        with pytest.raises(errors.HostKeyRejected, match="host key verification failed"):
            await make_repos(_store(url, creds)).resolve(url, "main")


@pytest.mark.parametrize("key", ["stranger", "none"])
async def test_ssh_with_an_unauthorized_key_or_none(
    pushed: tuple[gitserver.WorkRepo, str],
    sshd: gitserver.SshServer,
    make_repos: MakeRepos,
    tmp_path: Path,
    key: str,
) -> None:
    repo, _ = pushed
    url = sshd.url(repo.bare)
    stranger = gitserver.keygen(tmp_path / "stranger", "stranger")[0] if key == "stranger" else ""
    creds = RepoCredentials(ssh_private_key=stranger, known_hosts=sshd.known_hosts)
    with pytest.raises(errors.AuthenticationFailed) as caught:
        await make_repos(_store(url, creds)).resolve(url, "main")
    assert "Permission denied (publickey)" in str(caught.value)
    assert "PRIVATE KEY" not in str(caught.value)
    assert "WARNING" not in str(caught.value)  # no identity of the host user was tried
