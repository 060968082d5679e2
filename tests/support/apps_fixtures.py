"""Fixtures for app-level tests (engine, CLI, controller): a real git daemon with served
repositories, tether's CRDs on the shared control plane, and a runtime whose Applications live in
the test's own namespace. Loaded as a plugin by tests/conftest.py."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.conftest import Cluster
from tests.support import gitserver
from tether.cluster.client import KubeClient
from tether.service import apps as use
from tether.service.runtime import Runtime, Settings, open_runtime


@pytest.fixture(scope="session")
def sync_served(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sync-served")


@pytest.fixture(scope="session")
def git_daemon(
    sync_served: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[gitserver.GitDaemon]:
    server = gitserver.start_git_daemon(sync_served, tmp_path_factory.mktemp("sync-git-logs"))
    yield server
    server.stop()


class Repo:
    """A served repository plus its git:// URL."""

    def __init__(self, work: gitserver.WorkRepo, url: str) -> None:
        self.work = work
        self.url = url

    def commit(
        self, message: str, files: dict[str, gitserver.FileSpec], remove: tuple[str, ...] = ()
    ) -> str:
        for rel in remove:
            (self.work.path / rel).unlink()
        sha = self.work.commit(message, files)
        self.work.push()
        return sha


@pytest.fixture
def make_repo(
    sync_served: Path, git_daemon: gitserver.GitDaemon, tmp_path: Path
) -> Callable[[], Repo]:
    def make() -> Repo:
        name = f"r-{uuid.uuid4().hex[:10]}"
        work = gitserver.WorkRepo(sync_served, name, tmp_path / "work")
        return Repo(work, git_daemon.url(f"{name}.git"))

    return make


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def tether_installed(kube: KubeClient) -> None:
    await use.install(kube, "tether")


@pytest_asyncio.fixture(loop_scope="session")
async def rt(
    cluster: Cluster, namespace: str, tether_installed: None, tmp_path: Path
) -> AsyncIterator[Runtime]:
    settings = Settings(
        kubeconfig=cluster.kubeconfig, namespace=namespace, cache_dir=tmp_path / "cache"
    )
    async with open_runtime(settings) as runtime:
        yield runtime


def tether_cli(cluster: Cluster, namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `tether app ...` as a user would, against the test cluster and namespace."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tether",
            "app",
            "--kubeconfig",
            str(cluster.kubeconfig),
            "-N",
            namespace,
            *args,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=300,
    )
