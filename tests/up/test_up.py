"""`tether up` end to end, as a user runs it: the real command, three real control planes.

Everything runs under a private TETHER_HOME and its own block of ports (`--port`), so it never
touches the suite's shared `pytest` instance or a user's `tether up`. The module's two tests share
that home: the second resumes what the first left (or starts afresh when run alone).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tether import crds
from tether.cluster import config as cluster_config
from tether.cluster.client import KubeClient
from tether.demo import state
from tether.demo.state import ENVIRONMENTS, UpLayout
from tether.devcluster import ports

pytestmark = [pytest.mark.slow, pytest.mark.cluster]
PLAIN_VALUE = "example-only-not-a-real-password"
REPLICAS = {"dev": 1, "staging": 2, "prod": 3}  # of api and frontend; guestbook has 2 everywhere


def _free_block(size: int = 40) -> int:
    """A run of free loopback ports away from the dev-cluster layer's usual range."""
    for start in range(18443, 30000, 50):
        if all(ports.is_free(p) for p in range(start, start + size)):
            return start
    raise AssertionError("no free block of ports")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("tether-up-home")
    yield path
    _tether(path, "up", "--down", "--purge")


@pytest.fixture(scope="module")
def first_port() -> int:
    return _free_block()


def _tether(home: Path, *args: str, timeout: float = 420) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TETHER_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "tether", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _up(home: Path, first_port: int) -> subprocess.CompletedProcess[str]:
    began = time.monotonic()
    result = _tether(home, "up", "--detach", "--port", str(first_port), "--timeout", "300")
    print(f"tether up --detach: {time.monotonic() - began:.1f}s")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "15 applications Synced and Healthy in 3 clusters" in result.stdout, result.stdout
    return result


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            status = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and status != "Z":
            found.append(f"{proc.name}: {cmdline[:120]}")
    return found


def _down_leaves_nothing(home: Path) -> None:
    result = _tether(home, "up", "--down")
    assert result.returncode == 0, result.stderr
    assert "cluster dev" in result.stderr and "controller" in result.stderr, result.stderr
    assert _processes_mentioning(str(home)) == []


async def _cluster_view(home: Path) -> dict[str, Any]:
    """What the test checks in the clusters: apps, workloads, the decrypted Secret."""
    layout = UpLayout.at(home)
    view: dict[str, Any] = {}
    for env in ENVIRONMENTS:
        config = cluster_config.from_kubeconfig(layout.kubeconfig(env))
        async with KubeClient(config) as kube:
            if env == state.MANAGEMENT:
                listed = await kube.list(crds.API_VERSION, "Application", "tether")
                view["apps"] = listed.items
            deployments = {
                ns: await kube.get("apps/v1", "Deployment", ns, ns)
                for ns in ("api", "frontend", "guestbook")
            }
            secret = await kube.get("v1", "Secret", "guestbook-db", "guestbook")
            greeting = await kube.get("v1", "ConfigMap", "guestbook", "guestbook")
            view[env] = {"deployments": deployments, "secret": secret, "greeting": greeting}
    return view


def _assert_all_healthy(view: dict[str, Any]) -> None:
    apps = {a["metadata"]["name"]: a["status"] for a in view["apps"]}
    assert len(apps) == 15
    for name, status in apps.items():
        assert (status["sync"]["status"], status["health"]["status"]) == ("Synced", "Healthy"), name
    for env in ENVIRONMENTS:
        for ns, deployment in view[env]["deployments"].items():
            wanted = 2 if ns == "guestbook" else REPLICAS[env]
            assert deployment["spec"]["replicas"] == wanted, (env, ns)
            assert deployment["status"].get("readyReplicas") == wanted, (env, ns)
        password = base64.b64decode(view[env]["secret"]["data"]["password"]).decode()
        assert password == PLAIN_VALUE, env


def _assert_secret_never_shown(home: Path, view: dict[str, Any], *outputs: str) -> None:
    """Decrypted in the cluster, but never in status, logs, the audit trail or the output."""
    layout = UpLayout.at(home)
    places = {"output": "\n".join(outputs), "statuses": json.dumps(view["apps"])}
    for log in (layout.root / "logs").glob("*.log"):
        places[log.name] = log.read_text(errors="replace")
    for db in layout.state_dir.glob("audit.db*"):
        places[db.name] = db.read_bytes().decode(errors="replace")
    leaked = [where for where, text in places.items() if PLAIN_VALUE in text]
    assert leaked == []


def _push_greeting(home: Path, tmp: Path, greeting: str) -> None:
    repo_url = f"git://127.0.0.1:{state.read(UpLayout.at(home)).git_port}/gitops.git"
    clone = tmp / "clone"
    subprocess.run(["git", "clone", "-q", repo_url, str(clone)], check=True, timeout=60)
    configmap = clone / "apps/guestbook/configmap.yaml"
    configmap.write_text(configmap.read_text().replace("Hello from Git", greeting))
    git = ["git", "-C", str(clone), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "commit", "-qam", "New greeting"], check=True, timeout=60)
    subprocess.run([*git, "push", "-q", "origin", "main"], check=True, timeout=60)


async def _wait_greeting(home: Path, greeting: str, timeout: float = 90) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        view = await _cluster_view(home)
        if all(view[env]["greeting"]["data"]["GREETING"] == greeting for env in ENVIRONMENTS):
            return time.monotonic() - began
        await asyncio.sleep(1)
    raise AssertionError(f"the pushed greeting did not reach every cluster in {timeout}s")


async def _heals_by_hand_edit(home: Path, timeout: float = 60) -> float:
    """`kubectl scale` by hand in staging; self-heal puts Git's replica count back."""
    config = cluster_config.from_kubeconfig(UpLayout.at(home).kubeconfig("staging"))
    async with KubeClient(config) as kube:
        patch = {"spec": {"replicas": 5}}
        await kube.patch("apps/v1", "Deployment", "api", "api", patch, field_manager="kubectl")
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            await asyncio.sleep(0.5)
            live = await kube.get("apps/v1", "Deployment", "api", "api")
            if live["spec"]["replicas"] == REPLICAS["staging"]:
                return time.monotonic() - began
    raise AssertionError(f"staging's api was not healed in {timeout}s")


def _ui_login_lists_the_apps(output: str) -> None:
    """The printed UI URL and admin login work (when this tether has the API/UI server)."""
    match = re.search(r"UI +(http://127\.0\.0\.1:\d+) +login: admin / (\S+)", output)
    if match is None:
        assert "UI           not started" in output or "did not start" in output, output
        pytest.skip("no API/UI server in this tether")
    url, password = match.groups()
    with httpx.Client(base_url=url, timeout=10) as http:
        login = http.post("/api/v1/session", json={"username": "admin", "password": password})
        assert login.status_code == 200, login.text
        listed = http.get("/api/v1/applications", params={"limit": 100})
        assert listed.status_code == 200, listed.text
        assert len(listed.json()["items"]) == 15


def test_up_brings_every_example_app_to_healthy_and_down_stops_everything(
    home: Path, first_port: int, tmp_path: Path
) -> None:
    result = _up(home, first_port)
    view = asyncio.run(_cluster_view(home))
    _assert_all_healthy(view)
    _assert_secret_never_shown(home, view, result.stdout, result.stderr)
    _push_greeting(home, tmp_path, "Hello from a push")
    seconds = asyncio.run(_wait_greeting(home, "Hello from a push"))
    print(f"push to every cluster: {seconds:.1f}s")
    print(f"hand edit healed: {asyncio.run(_heals_by_hand_edit(home)):.1f}s")
    try:
        _ui_login_lists_the_apps(result.stdout)
    finally:
        _down_leaves_nothing(home)


def _head(layout: UpLayout) -> str:
    argv = ["git", "-C", str(layout.bare_repo), "rev-parse", "main"]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def test_up_again_resumes_the_same_state(home: Path, first_port: int, tmp_path: Path) -> None:
    layout = UpLayout.at(home)
    _up(home, first_port)  # from stopped (or fresh, when this test runs alone)
    key, decided = layout.age_key.read_text(), state.read(layout)
    head = _head(layout)
    again = _up(home, first_port)  # while running: nothing is re-created
    assert "root application root-prod: unchanged" in again.stderr
    assert "prod: already running" in again.stderr
    assert layout.age_key.read_text() == key
    assert state.read(layout) == decided
    head_again = _head(layout)
    assert head_again == head  # the repository (and any pushed history) is kept
    _assert_all_healthy(asyncio.run(_cluster_view(home)))
    _ctrl_c_in_the_foreground_stops_everything(home, first_port, tmp_path)


def _ctrl_c_in_the_foreground_stops_everything(home: Path, first_port: int, tmp: Path) -> None:
    output = tmp / "foreground.out"
    env = {**os.environ, "TETHER_HOME": str(home), "COLUMNS": "200"}
    argv = [sys.executable, "-m", "tether", "up", "--port", str(first_port)]
    with output.open("w") as sink:
        proc = subprocess.Popen(argv, env=env, stdout=sink, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 300
            while "Running in the foreground" not in output.read_text():
                assert proc.poll() is None, output.read_text()
                assert time.monotonic() < deadline, output.read_text()
                time.sleep(0.5)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=120) == 0, output.read_text()
        finally:
            proc.kill()
    assert "stopped server" in output.read_text() or "stopped controller" in output.read_text()
    assert _processes_mentioning(str(home)) == []
