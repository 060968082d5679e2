"""A cluster's state in Git, laid out as `tether bootstrap` expects (see the README):

    clusters/<name>/tether/config.yaml      the ConfigMap tether-config (wave -1)
    clusters/<name>/tether/install.yaml     tether's install manifests (only when self-managed)
    clusters/<name>/apps/<app>.yaml         one child Application per app
    apps/web/deployment.yaml                plain manifests
    apps/api/base/, apps/api/overlays/prod/ a kustomize overlay
    apps/worker/deployment.yaml             plain manifests, a later sync wave

The root app recurses into clusters/<name> only; each child points at its own path outside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from tether import crds


@dataclass(frozen=True)
class App:
    name: str
    path: str
    namespace: str  # destination
    wave: int = 1
    deployments: tuple[str, ...] = ()  # what it deploys, for the tests' checks


def dump(*objects: dict[str, Any]) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False)


def dump_list(items: list[dict[str, Any]]) -> str:
    return yaml.safe_dump(items, sort_keys=False)


def deployment(name: str, replicas: int = 1, image: str = "registry.invalid/app:1") -> dict:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def config_map(data: dict[str, str]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "tether-config",
            # before the apps: their health may depend on tether's configuration
            "annotations": {"tether.dev/sync-wave": "-1"},
        },
        "data": data,
    }


def child(app: App, repo_url: str, create_namespace: bool) -> dict:
    """A child Application; its namespace is the root app's destination (tether's namespace)."""
    policy: dict[str, Any] = {"automated": {"prune": True, "selfHeal": True}}
    if create_namespace:
        policy["syncOptions"] = ["CreateNamespace=true"]
    return {
        "apiVersion": crds.API_VERSION,
        "kind": "Application",
        "metadata": {"name": app.name, "annotations": {"tether.dev/sync-wave": str(app.wave)}},
        "spec": {
            "source": {"repoURL": repo_url, "path": app.path, "targetRevision": "main"},
            "destination": {"namespace": app.namespace},
            "syncPolicy": policy,
        },
    }


def app_files(namespaces: dict[str, str]) -> tuple[list[App], dict[str, str]]:
    """Three apps (web, api as a kustomize overlay, worker) and their files in Git."""
    apps = [
        App("web", "apps/web", namespaces["web"], 1, ("web",)),
        App("api", "apps/api/overlays/prod", namespaces["api"], 1, ("api",)),
        App("worker", "apps/worker", namespaces["worker"], 2, ("worker",)),
    ]
    files = {
        "apps/web/deployment.yaml": dump(deployment("web", 2)),
        "apps/api/base/deployment.yaml": dump(deployment("api", image="registry.invalid/api:1")),
        "apps/api/base/kustomization.yaml": "resources: [deployment.yaml]\n",
        "apps/api/overlays/prod/kustomization.yaml": (
            "resources: [../../base]\n"
            "replicas: [{name: api, count: 3}]\n"
            "images: [{name: registry.invalid/api, newTag: '2'}]\n"
        ),
        "apps/worker/deployment.yaml": dump(deployment("worker")),
    }
    return apps, files


@dataclass
class ClusterRepo:
    """The files of one cluster's directory (and its apps) for a given repository URL."""

    repo_url: str
    path: str = "clusters/prod"
    config: dict[str, str] = field(default_factory=lambda: {"resync.seconds": "30"})
    install: list[dict[str, Any]] = field(default_factory=list)
    create_namespaces: bool = True

    def files(self, apps: list[App], app_files: dict[str, str]) -> dict[str, str]:
        files = dict(app_files)
        files[f"{self.path}/tether/config.yaml"] = dump(config_map(self.config))
        if self.install:
            files[f"{self.path}/tether/install.yaml"] = dump(*self.install)
        for app in apps:
            body = child(app, self.repo_url, self.create_namespaces)
            files[f"{self.path}/apps/{app.name}.yaml"] = dump(body)
        return files
