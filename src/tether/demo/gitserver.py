"""The demo's Git server: `git daemon` on loopback, pushes enabled, serving `$TETHER_HOME/up/git`.

The git:// protocol needs no credentials and no web server, and `--enable=receive-pack` lets a
user push straight into the served bare repository, so `git clone` and `git push` just work. It
listens on 127.0.0.1 only. The port is chosen once (9418, git's own, when free) and kept, because
every Application in the example names the repository by its URL.
"""

from __future__ import annotations

import socket
import time

from tether.demo.state import REPO_NAME, UpLayout
from tether.devcluster import ports, processes
from tether.devcluster.errors import DevClusterError

PROCESS = "git-daemon"
DEFAULT_PORT = 9418


def url(port: int) -> str:
    return f"git://127.0.0.1:{port}/{REPO_NAME}"


def running(layout: UpLayout) -> int | None:
    return processes.running_pid(layout.pid_file(PROCESS))


def start(layout: UpLayout, port: int) -> bool:
    """Start the daemon unless it runs; True if this call started it."""
    if running(layout):
        return False
    if not ports.is_free(port):
        raise DevClusterError(
            f"port {port} of the demo's Git server is in use by another process",
            f"stop what listens on 127.0.0.1:{port} (`ss -ltnp 'sport = :{port}'` shows it)",
        )
    layout.git_base.mkdir(parents=True, exist_ok=True)
    argv = [
        "git",
        "daemon",
        "--export-all",
        "--enable=receive-pack",
        "--reuseaddr",
        "--informative-errors",
        "--listen=127.0.0.1",
        f"--port={port}",
        f"--base-path={layout.git_base}",
        str(layout.git_base),
    ]
    processes.start(argv, layout.log_file(PROCESS), layout.pid_file(PROCESS))
    _wait_listening(layout, port)
    return True


def _wait_listening(layout: UpLayout, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not running(layout):
            break
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    processes.stop(layout.pid_file(PROCESS))
    raise DevClusterError(
        f"git daemon did not listen on 127.0.0.1:{port}: "
        f"{processes.tail(layout.log_file(PROCESS), 1)}",
        f"read {layout.log_file(PROCESS)}",
    )
