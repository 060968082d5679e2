"""Fixtures for the Git boundary: real servers over one shared base directory, and repositories.

Servers start once per session (each in well under a second) and serve every repository a test
creates in the base directory, so tests only pay for building their own small repositories.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import gitserver
from tether.source.credentials import CredentialStore
from tether.source.options import SourceOptions
from tether.source.repositories import Repositories

HTTP_USER = "alice"
HTTP_PASSWORD = "canary-Pa55w0rd-7f3a9c"  # a canary: it must never appear in any output


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("served")


@pytest.fixture(scope="session")
def server_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server-logs")


@pytest.fixture(scope="session")
def daemon(served: Path, server_logs: Path) -> Iterator[gitserver.GitDaemon]:
    server = gitserver.start_git_daemon(served, server_logs)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def http(served: Path, server_logs: Path) -> Iterator[gitserver.HttpGitServer]:
    server = gitserver.start_http(served, server_logs)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def http_auth(served: Path, server_logs: Path) -> Iterator[gitserver.HttpGitServer]:
    server = gitserver.start_http(served, server_logs, HTTP_USER, HTTP_PASSWORD)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sshd(
    tmp_path_factory: pytest.TempPathFactory, server_logs: Path
) -> Iterator[gitserver.SshServer]:
    if not gitserver.sshd_available() or os.geteuid() != 0:
        pytest.skip("needs Debian's openssh-server and root (sshd logs in as the current user)")
    server = gitserver.start_sshd(tmp_path_factory.mktemp("sshd"), server_logs)
    yield server
    server.stop()


@pytest.fixture
def make_repo(served: Path, tmp_path: Path) -> Callable[[], gitserver.WorkRepo]:
    """A new served repository with a unique name (servers are shared across tests)."""

    def make() -> gitserver.WorkRepo:
        return gitserver.WorkRepo(served, f"r-{uuid.uuid4().hex[:10]}", tmp_path / "work")

    return make


MakeRepos = Callable[..., Repositories]


@pytest.fixture
def make_repos(tmp_path: Path) -> MakeRepos:
    """A Repositories over a fresh cache; short timeouts keep failing tests fast."""

    def make(
        credentials: CredentialStore | None = None, cache: Path | None = None, **options: object
    ) -> Repositories:
        opts = SourceOptions(**{"network_timeout": 15.0, "allow_local": True, **options})  # type: ignore[arg-type]
        return Repositories(cache or tmp_path / f"cache-{uuid.uuid4().hex[:6]}", credentials, opts)

    return make


@pytest.fixture
def counting_git(tmp_path: Path) -> tuple[str, Path]:
    """A git wrapper that logs each invocation's arguments: (binary, log file)."""
    log = tmp_path / "git-calls.log"
    wrapper = tmp_path / "git-wrapper"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec git "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper), log


def git_calls(log: Path, verb: str) -> list[str]:
    if not log.exists():
        return []
    return [ln for ln in log.read_text().splitlines() if f" {verb} " in f" {ln} "]
