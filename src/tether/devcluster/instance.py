"""Bring a local control plane up, take it down, and report its state.

`up` is idempotent: a running instance is left alone, a stopped one is restarted from its data
directory, a missing one is created. If anything fails on the way, everything this call started is
stopped again, so a failed `up` leaves nothing running.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tether.cluster import config as cluster_config
from tether.cluster.client import KubeClient
from tether.devcluster import components, kubeconfig, nodes, pki, ports, processes, tools
from tether.devcluster.errors import DevClusterError
from tether.devcluster.layout import (
    COMPONENTS,
    InstanceLayout,
    InstanceRecord,
    known_instances,
)

Report = Callable[[str], None]


def _kwok_config() -> str:
    """The lifecycle stages kwok plays for Nodes and Pods (its options come from flags)."""
    stages = tools.binary(tools.KWOK_STAGES).read_text()
    extra = tools.repo_root() / "controlplane" / "kwok-stages.yaml"
    parts = [stages] + ([extra.read_text()] if extra.is_file() else [])
    return "---\n".join(p if p.endswith("\n") else p + "\n" for p in parts)


@dataclass(frozen=True, kw_only=True)
class UpOptions:
    name: str = "dev"
    nodes: int = 3
    port: int | None = None
    audit: bool = True
    home: Path | None = None
    start_timeout: float = 90.0


@dataclass(frozen=True)
class UpResult:
    name: str
    kubeconfig: Path
    already_running: bool
    seconds_to_ready: float
    seconds_to_nodes: float
    record: InstanceRecord


@dataclass(frozen=True)
class InstanceStatus:
    name: str
    root: Path
    record: InstanceRecord | None
    running: dict[str, int | None] = field(default_factory=dict)

    @property
    def state(self) -> str:
        alive = [pid for pid in self.running.values() if pid]
        if not alive:
            return "stopped"
        return "running" if len(alive) == len(COMPONENTS) else "degraded"


def status(layout: InstanceLayout) -> InstanceStatus:
    running = {c: processes.running_pid(layout.pid_file(c)) for c in COMPONENTS}
    return InstanceStatus(layout.name, layout.root, layout.read_record(), running)


def status_all(home: Path | None = None) -> list[InstanceStatus]:
    return [status(layout) for layout in known_instances(home)]


def _other_records(layout: InstanceLayout, home: Path | None) -> list[InstanceRecord]:
    others = [other.read_record() for other in known_instances(home) if other.name != layout.name]
    return [r for r in others if r is not None]


def _prepare(layout: InstanceLayout, options: UpOptions) -> InstanceRecord:
    """Create or validate the data directory; returns the instance record."""
    record = layout.read_record()
    version = tools.pinned_versions()["KUBERNETES_VERSION"]
    if record is None:
        if layout.etcd_dir.exists() or layout.pki_dir.exists():
            raise layout.damaged("instance.json is missing but data exists")
        record = InstanceRecord(
            layout.name,
            version,
            ports.allocate(_other_records(layout, options.home), options.port),
            options.nodes,
        )
        pki.generate(layout.pki_dir)
        layout.write_record(record)
    elif missing := pki.missing_files(layout.pki_dir):
        raise layout.damaged(f"pki/{missing[0]} is missing")
    if record.kubernetes_version != version or record.nodes != options.nodes:
        record = InstanceRecord(record.name, version, record.ports, options.nodes)
        layout.write_record(record)
    _write_configs(layout, record)
    return record


def _write_configs(layout: InstanceLayout, record: InstanceRecord) -> None:
    server = f"https://127.0.0.1:{record.ports.api}"
    cluster_name = f"tether-{layout.name}"
    kubeconfig.write(
        layout.kubeconfig, kubeconfig.render(cluster_name, server, layout.pki_dir, "admin")
    )
    for stem in ("controller-manager", "scheduler", "kwok"):
        config = kubeconfig.render(cluster_name, server, layout.pki_dir, stem)
        kubeconfig.write(layout.component_kubeconfig(stem), config)
    layout.audit_policy.write_text(components.AUDIT_POLICY)
    (layout.root / "kwok.yaml").write_text(_kwok_settings(layout))


class _Starter:
    """Starts components, remembers them, and stops them all again if the start fails."""

    def __init__(self, layout: InstanceLayout) -> None:
        self.layout = layout
        self.started: list[str] = []

    def start(self, component: components.Component) -> None:
        if processes.running_pid(self.layout.pid_file(component.name)):
            return
        processes.start(
            component.argv,
            self.layout.log_file(component.name),
            self.layout.pid_file(component.name),
        )
        self.started.append(component.name)

    def check_alive(self) -> None:
        for name in self.started:
            if processes.running_pid(self.layout.pid_file(name)) is None:
                log = self.layout.log_file(name)
                raise DevClusterError(
                    f"{name} of instance {self.layout.name!r} exited during start: "
                    f"{processes.tail(log, 1)}",
                    f"read {log}",
                )

    def rollback(self) -> None:
        for name in reversed(self.started):
            processes.stop(self.layout.pid_file(name), grace_seconds=5)


async def _wait_until(
    check: Callable[[], Awaitable[bool]], starter: _Starter, what: str, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        starter.check_alive()
        try:
            if await check():
                return
        except (httpx.HTTPError, OSError):
            pass
        if time.monotonic() > deadline:
            raise DevClusterError(
                f"{what} not ready after {timeout:.0f}s",
                f"read the logs in {starter.layout.logs_dir}",
            )
        await asyncio.sleep(0.1)


async def _start_all(
    layout: InstanceLayout,
    record: InstanceRecord,
    options: UpOptions,
    report: Report,
    starter: _Starter,
) -> tuple[float, float]:
    began = time.monotonic()
    config = cluster_config.from_kubeconfig(layout.kubeconfig)
    report("starting kube-apiserver (etcd embedded)")
    starter.start(components.apiserver(layout, record, options.audit))
    async with httpx.AsyncClient(verify=config.ssl_context, timeout=2.0) as http:

        async def api_ready() -> bool:
            return (await http.get(f"{config.server}/readyz")).status_code == 200

        await _wait_until(api_ready, starter, "kube-apiserver /readyz", options.start_timeout)
    ready_at = time.monotonic() - began
    report(f"kube-apiserver ready in {ready_at:.1f}s; starting the rest and {options.nodes} nodes")
    # These exit at once if the API server does not answer yet, so they start after /readyz.
    starter.start(components.controller_manager(layout, record))
    starter.start(components.scheduler(layout, record))
    starter.start(components.kwok(layout))
    async with KubeClient(config) as client:
        await nodes.ensure(client, options.nodes)
        await _wait_components_healthy(record, starter, options.start_timeout)
        await nodes.wait_ready(client, options.nodes, options.start_timeout)
    return ready_at, time.monotonic() - began


async def _wait_components_healthy(
    record: InstanceRecord, starter: _Starter, timeout: float
) -> None:
    # Their serving certificates are self-signed and only /healthz is read: no verification needed.
    async with httpx.AsyncClient(verify=False, timeout=2.0) as http:
        for name, port in (
            ("kube-controller-manager", record.ports.controller_manager),
            ("kube-scheduler", record.ports.scheduler),
        ):

            async def healthy(port: int = port) -> bool:
                return (await http.get(f"https://127.0.0.1:{port}/healthz")).status_code == 200

            await _wait_until(healthy, starter, name, timeout)


async def up(options: UpOptions, report: Report, progress: tools.Progress) -> UpResult:
    layout = InstanceLayout.for_name(options.name, options.home)
    await asyncio.to_thread(tools.ensure, tools.CLUSTER_TOOLS, progress)
    current = status(layout)
    if current.state == "running" and current.record is not None:
        _refresh_kwok_stages(layout, report)
        return UpResult(layout.name, layout.kubeconfig, True, 0.0, 0.0, current.record)
    record = _prepare(layout, options)
    if current.state == "stopped":
        ports.ensure_free(record.ports, layout.name)
    starter = _Starter(layout)
    try:
        ready_at, nodes_at = await _start_all(layout, record, options, report, starter)
    except BaseException:
        starter.rollback()
        raise
    return UpResult(layout.name, layout.kubeconfig, False, ready_at, nodes_at, record)


def _kwok_settings(layout: InstanceLayout) -> str:
    """Everything kwok reads only at start: its stages and its command line."""
    return _kwok_config() + "\n# argv: " + " ".join(components.kwok(layout).argv) + "\n"


def _refresh_kwok_stages(layout: InstanceLayout, report: Report) -> None:
    """kwok reads its settings only at start: restart it when they changed."""
    wanted = _kwok_settings(layout)
    config = layout.root / "kwok.yaml"
    if config.read_text() == wanted:
        return
    config.write_text(wanted)
    processes.stop(layout.pid_file("kwok"))
    processes.start(components.kwok(layout).argv, layout.log_file("kwok"), layout.pid_file("kwok"))
    report("restarted kwok: its settings changed")


def down(name: str, *, purge: bool = False, home: Path | None = None) -> list[str]:
    """Stop the instance's processes (only those its PID files name); returns what was stopped."""
    layout = InstanceLayout.for_name(name, home)
    stopped = [c for c in reversed(COMPONENTS) if processes.stop(layout.pid_file(c))]
    if purge:
        shutil.rmtree(layout.root, ignore_errors=True)
    return stopped
