"""The UI tests' fixtures: the API server with the UI mounted, in its own process, on a free
loopback port against the shared control plane; Debian's Chromium driven by Playwright."""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from tests.conftest import Cluster
from tests.controller.conftest import start_controller  # noqa: F401 - a fixture, re-exported
from tests.support.gitserver import free_port
from tether.auth.users import INITIAL_ADMIN_SECRET, UserStore
from tether.cluster.client import KubeClient

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NO_CHROMIUM = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} is absent: install Debian's chromium (scripts/setup.sh does)",
)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"


@dataclass
class UIServer:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _wait_ready(server: UIServer, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise AssertionError(f"UI server exited:\n{server.log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"UI server not ready after {timeout}s:\n{server.log.read_text()}")


@pytest.fixture
def ui_server(
    cluster: Cluster, namespace: str, tmp_path: Path, tether_installed: None
) -> Iterator[UIServer]:
    port = free_port()
    state = tmp_path / "ui-state"
    state.mkdir()
    log = tmp_path / "ui-server.log"
    argv = [
        sys.executable,
        "-m",
        "tests.ui.serve",
        "--kubeconfig",
        str(cluster.kubeconfig),
        "--namespace",
        namespace,
        "--port",
        str(port),
        "--state",
        str(state),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))
    server = UIServer(f"http://127.0.0.1:{port}", proc, log)
    try:
        _wait_ready(server)
        yield server
    finally:
        server.stop()


VIEWER_PASSWORD = "viewer-password-1"


async def add_viewer(kube: KubeClient, namespace: str) -> None:
    """A local account `viewer` bound to role:readonly (before anyone logs in: the server caches
    the account list for a few seconds, and drops a session whose account it does not list)."""
    await UserStore(kube, namespace).create("viewer", "viewer-password-1")
    await kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "tether-rbac", "namespace": namespace},
            "data": {"policy.csv": "g, viewer, role:readonly\n"},
        },
        field_manager="test",
    )


async def admin_password(kube: KubeClient, namespace: str) -> str:
    secret = await kube.get("v1", "Secret", INITIAL_ADMIN_SECRET, namespace)
    return base64.b64decode(secret["data"]["password"]).decode()


@pytest_asyncio.fixture(loop_scope="session")
async def browser() -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    path = ARTIFACTS / request.node.name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
