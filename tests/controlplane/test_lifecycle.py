"""`tether dev` lifecycle: idempotent up, clean down, persistence, isolation and clear errors.

These start extra instances under a private TETHER_HOME, so they never touch the shared test
cluster or a developer's own instances.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tether.cluster import config as cluster_config
from tether.cluster.client import KubeClient
from tether.devcluster import instance, pki, ports, tools
from tether.devcluster.layout import InstanceLayout, InstanceRecord

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("tether-home")
    yield path
    for layout_dir in (path / "clusters").glob("*"):
        instance.down(layout_dir.name, home=path)


def run_cli(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "TETHER_HOME": str(home), "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "tether", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (
                    (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                )
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if text in cmdline and state != "Z":
                found.append(int(proc.name))
    return found


def test_up_twice_is_a_noop_and_down_leaves_no_process(home: Path) -> None:
    first = run_cli(home, "dev", "up", "--name", "twice", "--nodes", "1")
    assert first.returncode == 0, first.stderr
    kubeconfig = first.stdout.strip()
    assert Path(kubeconfig).is_file()

    second = run_cli(home, "dev", "up", "--name", "twice", "--nodes", "1")
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stderr
    assert second.stdout.strip() == kubeconfig

    listed = json.loads(run_cli(home, "dev", "status", "-o", "json").stdout)
    pids = list(listed[0]["pids"].values())
    assert listed[0]["state"] == "running"
    assert all(pids)

    down = run_cli(home, "dev", "down", "--name", "twice")
    assert down.returncode == 0, down.stderr
    assert processes_mentioning(str(home / "clusters" / "twice")) == []
    assert "nothing was running" in run_cli(home, "dev", "down", "--name", "twice").stderr


async def test_restart_keeps_objects_and_instances_are_isolated(
    home: Path, kube: KubeClient
) -> None:
    options = instance.UpOptions(name="persist", nodes=1, home=home)
    first = await instance.up(options, lambda _: None, lambda *_: None)
    config = cluster_config.from_kubeconfig(first.kubeconfig)
    marker = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "survives-restart", "namespace": "default"},
        "data": {"k": "v"},
    }
    async with KubeClient(config) as other:
        await other.apply(marker, field_manager="test")
    # The shared test cluster is a different cluster: it never sees the object.
    assert first.record.ports.api != kube.config.server.rsplit(":", 1)[1]
    assert await kube.get_or_none("v1", "ConfigMap", "survives-restart", "default") is None

    assert instance.down("persist", home=home)
    again = await instance.up(options, lambda _: None, lambda *_: None)
    assert not again.already_running
    async with KubeClient(cluster_config.from_kubeconfig(again.kubeconfig)) as other:
        kept = await other.get("v1", "ConfigMap", "survives-restart", "default")
    assert kept["data"] == {"k": "v"}
    instance.down("persist", home=home, purge=True)
    assert not (home / "clusters" / "persist").exists()


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert "fix:" in lines[0]
    return lines[0]


def test_busy_port_is_a_clear_error_and_starts_nothing(home: Path) -> None:
    layout = InstanceLayout.for_name("busy", home)
    record = InstanceRecord(
        "busy", tools.pinned_versions()["KUBERNETES_VERSION"], ports.allocate([], None), 1
    )
    pki.generate(layout.pki_dir)
    layout.write_record(record)  # a stopped instance whose API port someone else now holds
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", record.ports.api))
        holder.listen()
        line = _one_error_line(run_cli(home, "dev", "up", "--name", "busy"))
    assert f"port {record.ports.api}" in line
    assert "already in use" in line
    assert processes_mentioning(str(layout.root)) == []


def test_half_written_data_directory_is_a_clear_error(home: Path) -> None:
    root = home / "clusters" / "half"
    (root / "etcd").mkdir(parents=True)
    line = _one_error_line(run_cli(home, "dev", "up", "--name", "half"))
    assert "incomplete" in line
    assert "--purge" in line
    assert processes_mentioning(str(root)) == []


def test_missing_go_toolchain_is_a_clear_error(home: Path, tmp_path: Path) -> None:
    no_go_path = ":".join(p for p in os.environ["PATH"].split(":") if not (Path(p) / "go").exists())
    result = run_cli(
        home,
        "dev",
        "build",
        "--tool",
        "kwok",
        env={"PATH": no_go_path, "TETHER_TOOLS_BIN": str(tmp_path / "bin")},
    )
    assert "Go toolchain" in _one_error_line(result)


def test_failed_build_is_a_clear_error(home: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(tools.repo_root() / "controlplane", repo / "controlplane")
    pinned = (tools.repo_root() / "tools.env").read_text()
    (repo / "tools.env").write_text(pinned.replace("KWOK_VERSION=", "KWOK_VERSION=v0.0.999\n#"))
    result = run_cli(
        home,
        "dev",
        "build",
        "--tool",
        "kwok",
        env={"TETHER_REPO": str(repo), "TETHER_TOOLS_BIN": str(tmp_path / "bin")},
    )
    line = _one_error_line(result)
    assert "building kwok v0.0.999 failed" in line
