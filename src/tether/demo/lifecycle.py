"""`tether up` and `tether up --down`, as two sequences of idempotent steps.

Up: tools, the three clusters, the age key, the Git server and the example repository, the
management cluster's setup, the controller, the API/UI server, then (optionally) waiting until
every example Application is Synced and Healthy. Each step first looks at what exists and keeps
it, so a second `up` resumes the first: same ports, same repository, same key. What a step starts
is written to the state file before the next step runs, so a failure or a Ctrl-C half-way can
still be undone by `down`.

Down stops, in reverse order, only what `up` started: its own processes by PID file, and the
clusters it started (never one that was already running when `up` came).
"""

from __future__ import annotations

import asyncio
import base64
import fcntl
import os
import shutil
import signal
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from tether.auth import users
from tether.cluster import config as cluster_config
from tether.cluster import errors as api_errors
from tether.cluster.client import KubeClient
from tether.demo import clusters, encryption, example, gitserver, management, services, statuses
from tether.demo import state as up_state
from tether.demo.state import ENVIRONMENTS, MANAGEMENT, TETHER_NAMESPACE, UpLayout, UpState
from tether.devcluster import processes
from tether.devcluster.errors import DevClusterError

FOREGROUND = "up"  # the PID file of a `tether up` waiting in the foreground
CONTROLLER_PORT = 8081
SERVER_PORT = 8080


@dataclass(frozen=True, kw_only=True)
class UpOptions:
    home: Path | None = None
    nodes: int = 3
    # On first use: the API ports of dev, staging and prod (P, P+10, P+20) and then the Git
    # server's, the controller's and the UI's (P+30, P+31, P+32); None: the usual ports.
    first_port: int | None = None
    server_port: int | None = None  # the UI's port on first use, if not the above; 0: any free
    server: bool = True  # start the API/UI server (when this tether has it)
    wait_healthy: bool = True
    timeout: float = 600.0


class Reporter(Protocol):
    def say(self, message: str) -> None: ...

    def step(self, name: str, done: int, total: int) -> None: ...

    def apps(self, found: Sequence[statuses.AppSummary], waiting: Sequence[str]) -> None: ...


@dataclass(frozen=True)
class Running:
    """What `up` leaves running, for the summary it prints."""

    layout: UpLayout
    repo_url: str
    kubeconfigs: dict[str, Path]
    controller_url: str
    server_url: str | None
    server_problem: str | None  # why there is no server_url, when it failed to start
    admin_password: str | None
    waited: statuses.Waited | None
    seconds: float


def required_apps() -> list[str]:
    roots = [management.root_name(env) for env in ENVIRONMENTS]
    return roots + example.application_names()


@contextmanager
def locked(layout: UpLayout, wait: float = 0.0) -> Iterator[None]:
    """One `tether up` (or `--down`) at a time per state directory; waits up to `wait` seconds."""
    layout.root.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait
    with layout.lock_file.open("w") as lock:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise DevClusterError(
                        "another `tether up` (or `tether up --down`) is busy with this state "
                        "directory",
                        "wait for it to finish, or press Ctrl-C in its terminal",
                    ) from None
                time.sleep(0.1)
        yield


async def up(options: UpOptions, report: Reporter) -> Running:
    began = time.monotonic()
    layout = UpLayout.at(options.home)
    await asyncio.to_thread(clusters.ensure_tools, report.step)
    kubeconfigs = await _start_clusters(layout, options, report)
    key = encryption.ensure_key(layout.age_key)
    repo_url = _start_git(layout, encryption.recipient(key), options, report)
    await management.prepare(_management(layout, kubeconfigs, repo_url, key), report.say)
    home_config = kubeconfigs[MANAGEMENT]
    chosen = _ports(layout, options)
    # Both start at once: each spends seconds importing, and the apps sync meanwhile.
    controller_url, (server_url, problem) = await asyncio.gather(
        _start_controller(layout, home_config, chosen.controller_port, report),
        _start_server(layout, home_config, chosen.server_port, options.server, report),
    )
    waited = None
    if options.wait_healthy:
        waited = await _wait(home_config, options.timeout, report, began)
    password = await _admin_password(home_config) if server_url else None
    return Running(
        layout,
        repo_url,
        kubeconfigs,
        controller_url,
        server_url,
        problem,
        password,
        waited,
        time.monotonic() - began,
    )


async def _start_clusters(
    layout: UpLayout, options: UpOptions, report: Reporter
) -> dict[str, Path]:
    wanted = clusters.ClusterOptions(
        nodes=options.nodes, home=options.home, first_port=options.first_port
    )
    new = [env for env in ENVIRONMENTS if not clusters.exists(env, options.home)]

    def on_started(started: clusters.Started) -> None:
        current = up_state.read(layout)
        if started.started_now:
            current = current.owning(started.name)
        if started.name in new:
            current = current.creating(started.name)
        up_state.write(layout, current)

    started = await clusters.start_all(
        ENVIRONMENTS, wanted, say=report.say, progress=report.step, on_started=on_started
    )
    return {s.name: s.kubeconfig for s in started}


def _start_git(layout: UpLayout, public_key: str, options: UpOptions, report: Reporter) -> str:
    current = up_state.read(layout)
    if not current.git_port:
        current = replace(current, git_port=services.free_port(wanted_ports(options)[0]))
        up_state.write(layout, current)
    url = gitserver.url(current.git_port)
    if gitserver.start(layout, current.git_port):
        report.say(f"git daemon serving {layout.git_base} at git://127.0.0.1:{current.git_port}/")
    if example.ensure(layout, url, public_key):
        report.say(f"example repository made: {url} (its Secret SOPS-encrypted with a new key)")
    return url


def _management(
    layout: UpLayout, kubeconfigs: dict[str, Path], repo_url: str, key: str
) -> management.Management:
    return management.Management(
        kubeconfig=kubeconfigs[MANAGEMENT],
        namespace=TETHER_NAMESPACE,
        cache_dir=layout.cache_dir / "up",
        clusters=kubeconfigs,
        repo_url=repo_url,
        age_key=key,
    )


async def _start_controller(layout: UpLayout, kubeconfig: Path, port: int, report: Reporter) -> str:
    spec = services.ProcessSpec(kubeconfig=kubeconfig, namespace=TETHER_NAMESPACE, port=port)
    url = f"http://127.0.0.1:{port}"
    if await services.start_controller(layout, spec):
        report.say(f"controller started ({url}/metrics)")
    return url


async def _start_server(
    layout: UpLayout, kubeconfig: Path, port: int, wanted: bool, report: Reporter
) -> tuple[str | None, str | None]:
    """The UI's URL, or why it did not start: the GitOps loop runs without it, so a server that
    fails is reported, not fatal. (None, None): not wanted, or no server in this tether."""
    if not (wanted and services.server_available()):
        return None, None
    spec = services.ProcessSpec(kubeconfig=kubeconfig, namespace=TETHER_NAMESPACE, port=port)
    url = f"http://127.0.0.1:{port}"
    try:
        if await services.start_server(layout, spec):
            report.say(f"API and UI started ({url})")
    except DevClusterError as error:
        report.say(f"[yellow]the API/UI server did not start:[/yellow] {error.cause} ({error.fix})")
        return None, error.cause
    return url, None


def wanted_ports(options: UpOptions) -> tuple[int, int, int]:
    """The ports asked for the Git server, the controller and the UI (when free on first use)."""
    base = options.first_port
    git, controller, server = (
        (base + 30, base + 31, base + 32)
        if base
        else (gitserver.DEFAULT_PORT, CONTROLLER_PORT, SERVER_PORT)
    )
    return git, controller, server if options.server_port is None else options.server_port


def _ports(layout: UpLayout, options: UpOptions) -> UpState:
    """The controller's and the server's ports, chosen on first use and then kept (URLs stay)."""
    _, controller, server = wanted_ports(options)
    current = up_state.read(layout)
    if not current.controller_port:
        current = replace(current, controller_port=services.free_port(controller))
    if not current.server_port:
        current = replace(current, server_port=services.free_port(server))
    up_state.write(layout, current)
    return current


async def _wait(
    kubeconfig: Path, timeout: float, report: Reporter, began: float
) -> statuses.Waited:
    async with _kube(kubeconfig) as kube:
        return await statuses.wait_healthy(
            kube,
            TETHER_NAMESPACE,
            required_apps(),
            timeout=timeout,
            on_poll=report.apps,
            started=began,
        )


def _kube(kubeconfig: Path) -> KubeClient:
    return KubeClient(cluster_config.from_kubeconfig(kubeconfig))


async def _admin_password(kubeconfig: Path) -> str | None:
    """The initial admin password, if its Secret is still there (the user may have deleted it)."""
    async with _kube(kubeconfig) as kube:
        try:
            body = await kube.get("v1", "Secret", users.INITIAL_ADMIN_SECRET, TETHER_NAMESPACE)
        except api_errors.NotFound:
            return None
    data = body.get("data") or {}
    return base64.b64decode(data["password"]).decode() if "password" in data else None


# ---- down ------------------------------------------------------------------------------------


def mark_foreground(layout: UpLayout) -> None:
    processes.write_pid_file(layout.pid_file(FOREGROUND), os.getpid())


def stop_foreground(layout: UpLayout, timeout: float = 120.0) -> bool:
    """Ask a `tether up` waiting in another terminal to stop (it then runs `down` itself)."""
    pid = processes.running_pid(layout.pid_file(FOREGROUND))
    if pid is None or pid == os.getpid():
        return False
    os.kill(pid, signal.SIGTERM)  # not its group: that may be the user's shell or make
    deadline = time.monotonic() + timeout
    while processes.running_pid(layout.pid_file(FOREGROUND)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return True


@dataclass(frozen=True)
class Stopped:
    processes: tuple[str, ...]  # what was running and is stopped now
    deleted: tuple[str, ...] = ()  # with purge: the state directory and the clusters `up` made

    def describe(self) -> str:
        text = "stopped " + (", ".join(self.processes) or "nothing (nothing was running)")
        return text + (f"; deleted {', '.join(self.deleted)}" if self.deleted else "")


def down(home: Path | None, *, purge: bool = False) -> Stopped:
    """Stop what `up` started, newest first (and with `purge` delete what it made)."""
    layout = UpLayout.at(home)
    current = up_state.read(layout)
    stopped = [
        name for name in (services.SERVER, services.CONTROLLER) if services.stop(layout, name)
    ]
    if processes.stop(layout.pid_file(gitserver.PROCESS)):
        stopped.append(gitserver.PROCESS)
    for cluster in reversed(current.owned_clusters):
        if clusters.stop(cluster, home):
            stopped.append(f"cluster {cluster}")
    up_state.write(layout, current.disowning_all())
    layout.pid_file(FOREGROUND).unlink(missing_ok=True)
    if not purge:
        return Stopped(tuple(stopped))
    for cluster in current.created_clusters:
        clusters.stop(cluster, home, purge=True)
    shutil.rmtree(layout.root, ignore_errors=True)
    deleted = (str(layout.root), *(f"cluster {c}" for c in current.created_clusters))
    return Stopped(tuple(stopped), deleted)
