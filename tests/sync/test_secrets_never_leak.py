"""A canary Secret value never appears in diff, CLI output, status, events or logs."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from tests.conftest import Cluster
from tests.support.apps_fixtures import Repo, tether_cli
from tests.sync import manifests as m
from tether.cluster.client import KubeClient
from tether.service import apps as use
from tether.service.runtime import Runtime

pytestmark = pytest.mark.cluster
CANARY = "canary-s3cr3t-9d1f6b"
CANARY_CHANGED = "canary-s3cr3t-next-77aa"


async def test_canary_secret_value_never_leaks(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient, cluster: Cluster
) -> None:
    repo = make_repo()
    repo.commit(
        "secret", {"app/s.yaml": m.dump(m.secret("db", {"password": CANARY}), m.config_map("c"))}
    )
    await use.create(
        rt,
        use.CreateOptions(
            name="secretive", repo_url=repo.url, path="app", dest_namespace=namespace
        ),
    )
    outputs = [
        tether_cli(cluster, namespace, "diff", "secretive"),
        tether_cli(cluster, namespace, "manifests", "secretive"),
        tether_cli(cluster, namespace, "sync", "secretive"),
    ]
    repo.commit(
        "rotate",
        {"app/s.yaml": m.dump(m.secret("db", {"password": CANARY_CHANGED}), m.config_map("c"))},
    )
    outputs += [
        tether_cli(cluster, namespace, "diff", "secretive"),
        tether_cli(cluster, namespace, "diff", "secretive", "-o", "json"),
        tether_cli(cluster, namespace, "get", "secretive", "-o", "yaml", "--refresh"),
        tether_cli(cluster, namespace, "sync", "secretive"),
        tether_cli(cluster, namespace, "history", "secretive", "-o", "yaml"),
    ]
    assert (
        outputs[0].returncode == 1 and "++++++++" in outputs[0].stdout
    )  # the diff shows a masked change
    assert "(changed)" in outputs[3].stdout
    assert outputs[2].returncode == 0 and outputs[6].returncode == 0, (
        outputs[2].stderr + outputs[6].stderr
    )
    app = await kube.get("tether.dev/v1alpha1", "Application", "secretive", namespace)
    events = await kube.list("v1", "Event", namespace)
    # The secret really is in the cluster (so the canary was live all along) ...
    live = await kube.get("v1", "Secret", "db", namespace)
    assert live["data"]["password"]
    # ... yet it is nowhere in what tether showed or wrote.
    encoded = [base64.b64encode(v.encode()).decode() for v in (CANARY, CANARY_CHANGED)]
    for text in [o.stdout + o.stderr for o in outputs] + [str(app), str(events.items)]:
        for value in (CANARY, CANARY_CHANGED, *encoded):
            assert value not in text
