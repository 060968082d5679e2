"""SOPS-encrypted manifests end to end: the engine decrypts them with the age key in tether's
namespace and applies the plain Secret, yet the value never appears in what tether shows or
writes; without the right key nothing is applied and the error names the object only."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
import yaml

from tests.conftest import Cluster
from tests.secrets.sopsfiles import encrypt, new_age_key
from tests.support.apps_fixtures import Repo, tether_cli
from tests.support.waiting import condition
from tests.sync import manifests as m
from tether.cluster.client import KubeClient
from tether.engine.operation import OperationPhase
from tether.secrets import keys
from tether.service import apps as use
from tether.service import operations as ops
from tether.service.runtime import Runtime

pytestmark = pytest.mark.cluster
CANARY = "sops-canary-7e31a0"


def _key_secret(namespace: str, key_text: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": keys.SECRET_NAME, "namespace": namespace},
        "stringData": {keys.KEY_FIELD: key_text},
    }


def _commit_encrypted(repo: Repo, recipient: str) -> None:
    encrypted = encrypt(m.secret("db", {"password": CANARY}), recipient)
    assert CANARY not in encrypted
    repo.commit("secret", {"app/db.sops.yaml": encrypted, "app/cm.yaml": m.dump(m.config_map("c"))})


def _leaks(texts: list[str]) -> list[str]:
    encoded = base64.b64encode(CANARY.encode()).decode()
    return [t[:200] for t in texts if CANARY in t or encoded in t]


async def test_encrypted_secret_is_applied_decrypted_and_never_shown(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient, cluster: Cluster
) -> None:
    key_text, recipient = new_age_key()
    await kube.create(_key_secret(namespace, key_text))
    repo = make_repo()
    _commit_encrypted(repo, recipient)
    await use.create(
        rt,
        use.CreateOptions(name="sealed", repo_url=repo.url, path="app", dest_namespace=namespace),
    )

    outputs = [
        tether_cli(cluster, namespace, "diff", "sealed"),
        tether_cli(cluster, namespace, "manifests", "sealed"),
        tether_cli(cluster, namespace, "sync", "sealed"),
        tether_cli(cluster, namespace, "get", "sealed", "-o", "yaml", "--refresh"),
        tether_cli(cluster, namespace, "diff", "sealed", "-o", "json"),
    ]

    assert outputs[2].returncode == 0, outputs[2].stdout + outputs[2].stderr
    assert outputs[4].returncode == 0, outputs[4].stdout  # in sync after the sync
    live = await kube.get("v1", "Secret", "db", namespace)
    assert base64.b64decode(live["data"]["password"]).decode() == CANARY
    assert "sops" not in live
    manifests = list(yaml.safe_load_all(outputs[1].stdout))
    shown = next(o for o in manifests if o and o["kind"] == "Secret")
    assert "sops" not in shown and shown["stringData"]["password"] != CANARY  # masked
    app = await kube.get("tether.dev/v1alpha1", "Application", "sealed", namespace)
    events = await kube.list("v1", "Event", namespace)
    texts = [o.stdout + o.stderr for o in outputs] + [str(app), str(events.items)]
    assert _leaks(texts) == []


@pytest.mark.parametrize("key", ["missing", "wrong"])
async def test_without_the_right_key_nothing_is_applied(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient, key: str
) -> None:
    _, recipient = new_age_key()
    if key == "wrong":
        other_key, _ = new_age_key()
        await kube.create(_key_secret(namespace, other_key))
    repo = make_repo()
    _commit_encrypted(repo, recipient)
    await use.create(
        rt,
        use.CreateOptions(name="sealed", repo_url=repo.url, path="app", dest_namespace=namespace),
    )

    state = await ops.sync_to_end(rt, "sealed", ops.SyncArgs(), lambda _: None)

    assert state.phase in (OperationPhase.FAILED, OperationPhase.ERROR)
    assert f"Secret/{namespace}/db" in state.message
    status = (await use.get(rt, "sealed")).status
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "RenderFailed" and f"Secret/{namespace}/db" in ready["message"]
    assert condition({"status": status}, "Stalled") == "True"
    assert await kube.get_or_none("v1", "ConfigMap", "c", namespace) is None
    assert _leaks([state.message, str(status)]) == []
