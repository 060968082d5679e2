"""tether's own long-running processes in the demo: the controller and the API/UI server.

They run as `python -m tether ...` with the interpreter running `tether up`, in sessions of their
own (a Ctrl-C in the terminal reaches `tether up` only, which then stops them in order), with
PID files, logs, Git cache and one audit trail under `$TETHER_HOME/up/`. The server (`tether
server`, the API and the UI) is started only when this tether has it; both are ready when their
`/readyz` answers 200.

One controller, in the management cluster's context, reconciles every Application there; the
Applications name their destination cluster, which it reaches through the cluster Secrets. It
polls the example repository every few seconds, so a push shows up quickly without a webhook.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tether.demo.state import UpLayout
from tether.devcluster import ports, processes
from tether.devcluster.errors import DevClusterError

CONTROLLER = "controller"
SERVER = "server"
POLL_SECONDS = 3  # Git polling: how soon a push is noticed


@dataclass(frozen=True, kw_only=True)
class ProcessSpec:
    kubeconfig: Path
    namespace: str
    port: int  # on 127.0.0.1: readiness (and the controller's metrics and webhooks, the UI)


def free_port(preferred: int = 0) -> int:
    if preferred and ports.is_free(preferred):
        return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(layout: UpLayout) -> dict[str, str]:
    return {
        **os.environ,
        "XDG_CACHE_HOME": str(layout.cache_dir),
        "XDG_STATE_HOME": str(layout.state_dir),
    }


def _argv(layout: UpLayout, spec: ProcessSpec, command: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tether",
        command,
        "--kubeconfig",
        str(spec.kubeconfig),
        "-N",
        spec.namespace,
        "--listen",
        f"127.0.0.1:{spec.port}",
        *extra,
        "--audit-db",
        str(layout.audit_db),  # one trail for both processes (SQLite in WAL mode)
        "--log-json",
    ]


def controller_argv(layout: UpLayout, spec: ProcessSpec) -> list[str]:
    return _argv(layout, spec, "controller", "--poll-seconds", str(POLL_SECONDS))


def server_argv(layout: UpLayout, spec: ProcessSpec) -> list[str]:
    return _argv(layout, spec, "server")


def running(layout: UpLayout, process: str) -> int | None:
    return processes.running_pid(layout.pid_file(process))


async def start_controller(layout: UpLayout, spec: ProcessSpec, timeout: float = 90.0) -> bool:
    """Start the controller unless it runs, and wait until it is ready; True if started now."""
    argv = controller_argv(layout, spec)
    return await _start(layout, CONTROLLER, argv, spec.port, timeout)


async def start_server(layout: UpLayout, spec: ProcessSpec, timeout: float = 90.0) -> bool:
    """Start the API/UI server unless it runs, and wait until it is ready; True if started now."""
    return await _start(layout, SERVER, server_argv(layout, spec), spec.port, timeout)


def server_available() -> bool:
    """Whether this tether has the `server` command yet (found, not imported: it is heavy)."""
    return importlib.util.find_spec("tether.cli.server") is not None


def stop(layout: UpLayout, process: str) -> bool:
    return processes.stop(layout.pid_file(process))


async def _start(
    layout: UpLayout, process: str, argv: list[str], port: int, timeout: float
) -> bool:
    if running(layout, process):
        return False
    if not ports.is_free(port):
        raise DevClusterError(
            f"port {port} of tether's {process} is in use by another process",
            f"stop what listens on 127.0.0.1:{port} (`ss -ltnp 'sport = :{port}'` shows it), "
            "or start afresh on new ports with `tether up --down --purge && tether up`",
        )
    processes.start(argv, layout.log_file(process), layout.pid_file(process), _environment(layout))
    try:
        await _wait_ready(layout, process, f"http://127.0.0.1:{port}/readyz", timeout)
    except BaseException:
        processes.stop(layout.pid_file(process))
        raise
    return True


async def _wait_ready(layout: UpLayout, process: str, url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=1.0) as http:
        while time.monotonic() < deadline:
            if not running(layout, process):
                raise _exited(layout, process)
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise DevClusterError(
        f"tether's {process} was not ready after {timeout:.0f}s ({url})",
        f"read {layout.log_file(process)}",
    )


def _exited(layout: UpLayout, process: str) -> DevClusterError:
    log = layout.log_file(process)
    return DevClusterError(
        f"tether {process} exited during start: {processes.tail(log, 1)}", f"read {log}"
    )
