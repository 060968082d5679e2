"""The example's Applications at a glance: which are Synced and Healthy, and which are not (why).

`tether up --wait-healthy` returns when every Application in tether's namespace is Synced and
Healthy, the roots included. A root is Healthy only when each child Application it deploys is
(its sync waves wait for them), so this cannot succeed before the children exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tether import crds
from tether.cluster import errors as api_errors
from tether.cluster.client import KubeClient

OnPoll = Callable[[Sequence["AppSummary"], Sequence[str]], None]  # apps, what is awaited
HEALTHY = ("Synced", "Healthy")


@dataclass(frozen=True)
class AppSummary:
    name: str
    cluster: str
    sync: str
    health: str
    message: str = ""

    @property
    def ready(self) -> bool:
        return (self.sync, self.health) == HEALTHY

    def describe(self) -> str:
        why = f": {self.message}" if self.message else ""
        return f"{self.name} ({self.sync}, {self.health}{why})"


def summarize(body: dict[str, Any]) -> AppSummary:
    status = body.get("status") or {}
    message = next(
        (
            str(c.get("message") or "")
            for c in status.get("conditions") or []
            if c.get("type") == "Ready" and c.get("status") != "True"
        ),
        "",
    )
    destination = (body.get("spec") or {}).get("destination") or {}
    return AppSummary(
        name=str(body["metadata"]["name"]),
        cluster=str(destination.get("name") or destination.get("cluster") or "in-cluster"),
        sync=str((status.get("sync") or {}).get("status") or "Unknown"),
        health=str((status.get("health") or {}).get("status") or "Unknown"),
        message=message[:200],
    )


async def summaries(kube: KubeClient, namespace: str) -> list[AppSummary]:
    listed = await kube.list(crds.API_VERSION, "Application", namespace)
    return sorted((summarize(a) for a in listed.items), key=lambda s: s.name)


def not_ready(found: Sequence[AppSummary], required: Sequence[str]) -> list[str]:
    """What keeps the example from being ready: missing required apps, then unready ones."""
    names = {s.name for s in found}
    missing = [f"{name} (not created yet)" for name in required if name not in names]
    return missing + [s.describe() for s in found if not s.ready]


@dataclass(frozen=True)
class Waited:
    ready: bool
    seconds: float
    apps: tuple[AppSummary, ...]
    waiting_for: tuple[str, ...]  # empty when ready


async def wait_healthy(
    kube: KubeClient,
    namespace: str,
    required: Sequence[str],
    *,
    timeout: float,
    on_poll: OnPoll,
    started: float,
) -> Waited:
    """Poll until every app is Synced and Healthy or `timeout` passes; never raises on a
    transient API error (the clusters may still be settling)."""
    deadline = time.monotonic() + timeout
    found: list[AppSummary] = []
    while True:
        with contextlib.suppress(api_errors.ApiError, OSError):
            found = await summaries(kube, namespace)
        waiting = not_ready(found, required)
        on_poll(found, waiting)
        if not waiting or time.monotonic() > deadline:
            seconds = time.monotonic() - started
            return Waited(not waiting, seconds, tuple(found), tuple(waiting))
        await asyncio.sleep(1.0)
