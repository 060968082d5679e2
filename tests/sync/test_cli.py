"""The `tether app` command line against the real cluster: create, diff exit codes, sync with
progress, wait, history, rollback, delete; and the CRD's schema served for `kubectl explain`."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml

from tests.conftest import Cluster
from tests.support.apps_fixtures import Repo, tether_cli
from tests.support.waiting import wait_for
from tests.sync import manifests as m
from tether.cluster.client import KubeClient

pytestmark = pytest.mark.cluster


async def test_app_lifecycle_through_the_cli(
    make_repo: Callable[[], Repo],
    namespace: str,
    cluster: Cluster,
    kube: KubeClient,
    tether_installed: None,
) -> None:
    repo = make_repo()
    repo.commit(
        "v1",
        {"app/web.yaml": m.dump(m.deployment("web", 1), m.config_map("web-config", {"v": "1"}))},
    )
    create = tether_cli(
        cluster,
        namespace,
        "create",
        "web",
        "--repo",
        repo.url,
        "--path",
        "app",
        "--dest-namespace",
        namespace,
    )
    assert create.returncode == 0, create.stderr
    again = tether_cli(
        cluster,
        namespace,
        "create",
        "web",
        "--repo",
        repo.url,
        "--path",
        "app",
        "--dest-namespace",
        namespace,
    )
    assert again.returncode == 0, again.stderr  # same spec: idempotent
    other = tether_cli(
        cluster, namespace, "create", "web", "--repo", repo.url, "--path", "elsewhere"
    )
    assert other.returncode == 1 and "--upsert" in other.stderr

    assert tether_cli(cluster, namespace, "diff", "web").returncode == 1
    synced = tether_cli(cluster, namespace, "sync", "web")
    assert synced.returncode == 0, synced.stderr
    assert (
        "Sync wave 0" in synced.stderr
        and "Deployment.apps" in synced.stderr
        and "Succeeded" in synced.stderr
    )
    assert tether_cli(cluster, namespace, "wait", "web", "--timeout", "60").returncode == 0
    assert tether_cli(cluster, namespace, "diff", "web").returncode == 0

    repo.commit(
        "v2",
        {"app/web.yaml": m.dump(m.deployment("web", 2), m.config_map("web-config", {"v": "2"}))},
    )
    assert tether_cli(cluster, namespace, "sync", "web").returncode == 0
    history = yaml.safe_load(tether_cli(cluster, namespace, "history", "web", "-o", "yaml").stdout)
    assert [h["message"].strip() for h in history] == ["v1", "v2"]
    rolled = tether_cli(cluster, namespace, "rollback", "web", "0")
    assert rolled.returncode == 0, rolled.stderr
    assert (await kube.get("v1", "ConfigMap", "web-config", namespace))["data"] == {"v": "1"}

    listed = yaml.safe_load(tether_cli(cluster, namespace, "list", "-o", "yaml").stdout)
    assert [a["name"] for a in listed] == ["web"]
    got = tether_cli(cluster, namespace, "get", "web")
    assert "Deployment" in got.stdout and "web-config" in got.stdout

    deleted = tether_cli(cluster, namespace, "delete", "web")
    assert deleted.returncode == 0, deleted.stderr
    await wait_for(
        lambda: kube.get_or_none("apps/v1", "Deployment", "web", namespace),
        lambda d: d is None,
        what="the Deployment deleted with its app",
    )
    assert await kube.get_or_none("tether.dev/v1alpha1", "Application", "web", namespace) is None
    missing = tether_cli(cluster, namespace, "diff", "web")
    assert missing.returncode == 2 and "not found" in missing.stderr


async def test_application_schema_is_served_for_explain(
    kube: KubeClient, tether_installed: None
) -> None:
    doc = await kube.request("GET", "/openapi/v3/apis/tether.dev/v1alpha1")
    schema = doc["components"]["schemas"]["dev.tether.v1alpha1.Application"]
    spec = schema["properties"]["spec"]
    assert (
        spec["properties"]["source"]["description"] == "A Git repository path and how to render it."
    )
    assert "syncPolicy" in spec["properties"]
    assert "revisionHistoryLimit" in spec["properties"]
    status = schema["properties"]["status"]["properties"]
    assert {
        "sync",
        "health",
        "resources",
        "conditions",
        "operationState",
        "history",
        "inventory",
    } <= set(status)
