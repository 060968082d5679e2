"""Loopback port allocation: each instance gets a block of ports no other instance claims.

Ports are chosen once, when an instance is created, and persisted so its kubeconfig stays valid
across restarts. A port that another process holds at start-up is an error naming that port.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable

from tether.devcluster.errors import DevClusterError
from tether.devcluster.layout import InstanceRecord, Ports

FIRST_PORT = 16443
BLOCK = 10  # ports reserved per instance; 5 are used today, the rest leave room


def is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def allocate(claimed_by_others: Iterable[InstanceRecord], api_port: int | None = None) -> Ports:
    """A block of free ports not claimed by any other instance (running or stopped)."""
    claimed = {port for record in claimed_by_others for port in record.ports.all()}
    starts = [api_port] if api_port else range(FIRST_PORT, 65000 - BLOCK, BLOCK)
    for start in starts:
        block = range(start, start + 5)
        if not claimed.intersection(block) and all(is_free(p) for p in block):
            return Ports(*block)
    wanted = f"ports {api_port}-{api_port + 4}" if api_port else "a block of 5 loopback ports"
    raise DevClusterError(
        f"{wanted} not free (in use or claimed by another tether instance)",
        "choose another --port, or stop what holds it",
    )


def ensure_free(ports: Ports, name: str) -> None:
    """Fail before starting anything if another process holds one of the instance's ports."""
    busy = [p for p in ports.all() if not is_free(p)]
    if busy:
        raise DevClusterError(
            f"port {busy[0]} of instance {name!r} is already in use by another process",
            f"stop the process listening on 127.0.0.1:{busy[0]} "
            f"(`ss -ltnp 'sport = :{busy[0]}'` shows it), or recreate the instance with "
            f"`tether dev down --name {name} --purge && tether dev up --name {name} --port P`",
        )
