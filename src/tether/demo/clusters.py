"""The demo's three clusters: started together, with progress, by the dev-cluster layer.

Each is an ordinary `tether dev` instance (`tether dev status` lists them), so they keep their
data between runs. Starting is mostly waiting on the API server, so they start concurrently, at
most one per CPU core: on a 2-core machine a third etcd+apiserver starting alongside only slows
the other two down.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tether.devcluster import instance, ports, tools
from tether.devcluster.layout import InstanceLayout

Say = Callable[[str], None]
# Every pinned tool `tether up` needs: the clusters, and rendering and decrypting the example.
TOOLS = (
    tools.CONTROLPLANE,
    tools.KWOK,
    tools.KUSTOMIZE,
    tools.RENDER_HELPER,
    tools.HELM,
    tools.SOPS,
    tools.AGE,
)
_STEPS = 3  # starting, API server ready, nodes Ready


@dataclass(frozen=True)
class Started:
    name: str
    kubeconfig: Path
    started_now: bool  # False: it was already running


def ensure_tools(progress: tools.Progress) -> list[tools.Tool]:
    """Build whatever is missing (minutes, once); before any cluster starts, so no two builds
    of the same tool race."""
    return tools.ensure(TOOLS, progress)


@dataclass(frozen=True, kw_only=True)
class ClusterOptions:
    nodes: int
    home: Path | None
    first_port: int | None = None  # API port of the first cluster, on first use; then +10 each


def api_port(options: ClusterOptions, index: int) -> int | None:
    """The API port asked for the `index`-th cluster (None: the dev-cluster layer chooses)."""
    if options.first_port is None:
        return None
    return options.first_port + index * ports.BLOCK


async def start_all(
    names: tuple[str, ...],
    options: ClusterOptions,
    *,
    say: Say,
    progress: tools.Progress,
    on_started: Callable[[Started], None],
) -> list[Started]:
    """Start every named cluster (already running ones are left as they are). `on_started` hears
    of each as soon as it is up, so a failure of another still lets the caller stop it."""
    limit = asyncio.Semaphore(max(1, os.cpu_count() or 1))

    async def one(index: int, name: str) -> Started:
        wanted = instance.UpOptions(
            name=name, nodes=options.nodes, home=options.home, port=api_port(options, index)
        )
        async with limit:
            started = await _start(wanted, say, progress)
        on_started(started)
        return started

    results = await asyncio.gather(
        *(one(i, n) for i, n in enumerate(names)), return_exceptions=True
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        raise failures[0]
    return [r for r in results if isinstance(r, Started)]


async def _start(options: instance.UpOptions, say: Say, progress: tools.Progress) -> Started:
    name, nodes = options.name, options.nodes
    task = f"cluster {name}"
    seen = 0
    progress(task, 0, _STEPS)

    def report(message: str) -> None:
        nonlocal seen
        seen += 1
        say(f"{name}: {message}")
        progress(task, min(seen, _STEPS - 1), _STEPS)

    result = await instance.up(options, report, lambda *_: None)
    progress(task, _STEPS, _STEPS)
    if result.already_running:
        say(f"{name}: already running")
    else:
        say(f"{name}: {nodes} node(s) Ready in {result.seconds_to_nodes:.1f}s")
    return Started(name, result.kubeconfig, not result.already_running)


def exists(name: str, home: Path | None) -> bool:
    return InstanceLayout.for_name(name, home).root.exists()


def stop(name: str, home: Path | None, *, purge: bool = False) -> list[str]:
    return instance.down(name, home=home, purge=purge)
