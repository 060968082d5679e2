"""A signed push webhook refreshes and syncs the app at once (no waiting for polling); a badly
signed one is refused and refreshes nothing."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Callable

import httpx
import pytest

from tests.controller.conftest import StartController
from tests.support.apps_fixtures import Repo
from tests.support.waiting import wait_for
from tests.sync import manifests as m
from tether.cluster.client import KubeClient
from tether.service import apps as use
from tether.service.runtime import Runtime

pytestmark = pytest.mark.cluster
SECRET = "webhook-shared-secret"


def _push(repo: Repo, before: str, after: str) -> bytes:
    return json.dumps(
        {
            "ref": "refs/heads/main",
            "before": before,
            "after": after,
            "repository": {"clone_url": repo.url, "default_branch": "main"},
            "commits": [{"id": after, "added": [], "removed": [], "modified": ["app/web.yaml"]}],
        }
    ).encode()


def _signed(body: bytes, secret: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-GitHub-Event": "push",
        "X-Hub-Signature-256": f"sha256={digest}",
        "Content-Type": "application/json",
    }


async def test_signed_push_syncs_without_polling_and_bad_signature_is_refused(
    rt: Runtime,
    make_repo: Callable[[], Repo],
    namespace: str,
    kube: KubeClient,
    start_controller: StartController,
) -> None:
    await kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "tether-webhook", "namespace": namespace},
            "data": {"github": base64.b64encode(SECRET.encode()).decode()},
        }
    )
    repo = make_repo()
    first = repo.commit("v1", {"app/web.yaml": m.dump(m.config_map("web", {"v": "1"}))})
    await use.create(
        rt,
        use.CreateOptions(
            name="hooked", repo_url=repo.url, path="app", dest_namespace=namespace, automated=True
        ),
    )
    ctl = start_controller("--poll-seconds", "3600")
    await wait_for(
        lambda: kube.get_or_none("v1", "ConfigMap", "web", namespace),
        lambda c: c is not None,
        what="first sync",
    )

    second = repo.commit("v2", {"app/web.yaml": m.dump(m.config_map("web", {"v": "2"}))})
    body = _push(repo, first, second)
    async with httpx.AsyncClient(base_url=ctl.url) as http:
        forged = await http.post(
            "/api/webhook", content=body, headers=_signed(body, "not-the-secret")
        )
        assert forged.status_code == 401
        assert SECRET not in forged.text
        await asyncio.sleep(2)
        assert (await kube.get("v1", "ConfigMap", "web", namespace))["data"] == {"v": "1"}

        accepted = await http.post("/api/webhook", content=body, headers=_signed(body, SECRET))
        assert accepted.status_code == 200 and accepted.json() == {"refreshed": 1}
        await wait_for(
            lambda: kube.get("v1", "ConfigMap", "web", namespace),
            lambda c: c["data"] == {"v": "2"},
            what="the pushed change applied",
            timeout=10,
        )

        too_big = await http.post(
            "/api/webhook", content=b"x" * (1024 * 1024 + 1), headers=_signed(b"", SECRET)
        )
        assert too_big.status_code == 413
