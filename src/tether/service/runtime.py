"""Wiring: one place that turns settings into connections (clients, Git cache) and, for the CLI
and the API server, an orchestrator that reads the API directly.

`connect` opens what every process needs; `Runtime` adds the Application store and the
orchestrator the use cases in `tether.service` run through. The controller composes its own
orchestrator from the same connections (with its watch caches, Git poller and watched Projects)
rather than changing this one, so each process has exactly one.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tether.cluster import config as cluster_config
from tether.cluster.client import KubeClient
from tether.cluster.registry import ClusterRegistry
from tether.engine import health
from tether.reconcile.admission import ProjectStore
from tether.reconcile.apps import AppStore
from tether.reconcile.orchestrator import Orchestrator
from tether.source.kubecredentials import KubeCredentialStore
from tether.source.options import SourceOptions
from tether.source.repositories import Repositories

DEFAULT_NAMESPACE = "tether"


def _default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tether"


@dataclass(frozen=True, kw_only=True)
class Settings:
    kubeconfig: Path | None = None  # None: $KUBECONFIG, ~/.kube/config, or in-cluster
    context: str | None = None
    namespace: str = DEFAULT_NAMESPACE  # where Applications, repo and cluster Secrets live
    cache_dir: Path = field(default_factory=_default_cache)
    allow_local_repos: bool = field(
        default_factory=lambda: os.environ.get("TETHER_ALLOW_LOCAL_REPOS") == "1"
    )
    health_rules: health.HealthRules | None = None

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env_ns = os.environ.get("TETHER_NAMESPACE")
        values: dict[str, object] = {"namespace": env_ns} if env_ns else {}
        if rules_file := os.environ.get("TETHER_HEALTH_RULES"):
            values["health_rules"] = load_health_rules(Path(rules_file))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def load_health_rules(path: Path) -> health.HealthRules:
    """Custom health rules (CEL) from a YAML list: [{group, kind, healthy, progressing, ...}]."""
    data = yaml.safe_load(path.read_text()) or []
    if not isinstance(data, list):
        raise ValueError(f"{path}: health rules must be a YAML list")
    return health.HealthRules.from_config(data)


def cluster_config_for(settings: Settings) -> cluster_config.ClusterConfig:
    if settings.kubeconfig is not None:
        return cluster_config.from_kubeconfig(settings.kubeconfig, settings.context)
    env = os.environ.get("KUBECONFIG")
    if env:
        return cluster_config.from_kubeconfig(env.split(os.pathsep)[0], settings.context)
    default = Path.home() / ".kube" / "config"
    if default.exists():
        return cluster_config.from_kubeconfig(default, settings.context)
    return cluster_config.in_cluster()


@dataclass(frozen=True)
class Connections:
    """What every tether process talks through: tether's cluster, the destinations, Git."""

    settings: Settings
    kube: KubeClient
    clusters: ClusterRegistry
    repos: Repositories


@asynccontextmanager
async def connect(settings: Settings) -> AsyncIterator[Connections]:
    kube = KubeClient(cluster_config_for(settings))
    clusters = ClusterRegistry(kube, settings.namespace)
    repos = Repositories(
        settings.cache_dir / "git",
        credentials=KubeCredentialStore(kube, settings.namespace),
        options=SourceOptions(allow_local=settings.allow_local_repos),
    )
    try:
        yield Connections(settings, kube, clusters, repos)
    finally:
        await clusters.aclose()
        await kube.aclose()


@dataclass(frozen=True)
class Runtime:
    connections: Connections
    store: AppStore
    orchestrator: Orchestrator

    @property
    def settings(self) -> Settings:
        return self.connections.settings

    @property
    def kube(self) -> KubeClient:
        return self.connections.kube

    @property
    def clusters(self) -> ClusterRegistry:
        return self.connections.clusters

    @property
    def repos(self) -> Repositories:
        return self.connections.repos

    @property
    def projects(self) -> ProjectStore:
        return self.orchestrator.projects


def direct(connections: Connections) -> Runtime:
    """The runtime of a CLI command or the API server: every read goes to the API server."""
    settings = connections.settings
    store = AppStore(connections.kube)
    projects = ProjectStore(connections.kube, settings.namespace)  # in tether's namespace
    # A diff memo even for one CLI command: the comparison after a sync then reuses what the
    # applies returned instead of dry-running every object a second time.
    orchestrator = Orchestrator(
        store,
        connections.clusters,
        connections.repos,
        projects,
        rules=lambda: settings.health_rules,
        memos={},
    )
    return Runtime(connections, store, orchestrator)


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    async with connect(settings) as connections:
        yield direct(connections)
