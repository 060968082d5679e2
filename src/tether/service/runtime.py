"""Wiring: one place that turns settings into a connected engine (clients, Git cache, stores).

The CLI, the controller and the API server all build their engine here, so they reconcile with
exactly the same components and configuration.
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
from tether.reconcile.apps import AppStore
from tether.reconcile.engine import Engine
from tether.reconcile.projects import ProjectStore
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
class Runtime:
    settings: Settings
    kube: KubeClient
    store: AppStore
    clusters: ClusterRegistry
    repos: Repositories
    engine: Engine


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    kube = KubeClient(cluster_config_for(settings))
    clusters = ClusterRegistry(kube, settings.namespace)
    repos = Repositories(
        settings.cache_dir / "git",
        credentials=KubeCredentialStore(kube, settings.namespace),
        options=SourceOptions(allow_local=settings.allow_local_repos),
    )
    store = AppStore(kube)
    projects = ProjectStore(kube, settings.namespace)  # Projects live in tether's namespace
    # A diff memo even for one CLI command: the comparison after a sync then reuses what the
    # applies returned instead of dry-running every object a second time.
    engine = Engine(store, clusters, repos, settings.health_rules, projects=projects, memos={})
    try:
        yield Runtime(settings, kube, store, clusters, repos, engine)
    finally:
        await clusters.aclose()
        await kube.aclose()
