"""The controller's audit trail: a real controller process records an automated sync and a
self-healed drift, each exactly once, with the actor, revision, commit author and culprit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.controller.conftest import StartController
from tests.support.apps_fixtures import Repo
from tests.support.waiting import wait_for
from tests.sync import manifests as m
from tether.audit.entries import Entry, Result
from tether.audit.queries import Filter
from tether.audit.store import AuditLog
from tether.cluster.client import KubeClient
from tether.model.principals import PrincipalKind
from tether.service import apps as use
from tether.service.runtime import Runtime

pytestmark = pytest.mark.cluster


def _entries(path: Path) -> list[Entry]:
    if not path.exists():
        return []
    log = AuditLog.open(path)
    try:
        return list(log.scan(Filter(object="default/audited")))
    finally:
        log.close()


async def _read(path: Path) -> list[Entry]:
    return await asyncio.to_thread(_entries, path)


async def test_sync_and_self_heal_are_recorded_once(
    rt: Runtime,
    make_repo: Callable[[], Repo],
    namespace: str,
    kube: KubeClient,
    start_controller: StartController,
    tmp_path: Path,
) -> None:
    repo = make_repo()
    sha = repo.commit(
        "web: first release",
        {"app/web.yaml": m.dump(m.deployment("web", 1, image="registry.invalid/web:1"))},
    )
    await use.create(
        rt,
        use.CreateOptions(
            name="audited",
            repo_url=repo.url,
            path="app",
            dest_namespace=namespace,
            automated=True,
            self_heal=True,
        ),
    )
    db = tmp_path / "audit.db"
    start_controller("--audit-db", str(db))

    synced = await wait_for(
        lambda: _read(db),
        lambda found: any(e.action == "controller.sync" for e in found),
        what="the first sync in the audit trail",
    )
    first = next(e for e in synced if e.action == "controller.sync")
    assert (first.actor.name, first.actor.kind) == ("tether-controller", PrincipalKind.SERVICE)
    assert (first.resource, first.object, first.project) == (
        "applications",
        "default/audited",
        "default",
    )
    assert first.result is Result.SUCCEEDED
    assert first.deployment is not None
    assert first.deployment.revision.endswith(f"@sha1:{sha}")
    assert first.deployment.commit_author == "Ada Lovelace <ada@example.com>"
    assert first.deployment.commit_message.startswith("web: first release")
    assert first.deployment.initiated_by == "automated"
    assert f"Deployment.apps/{namespace}/web created" in first.deployment.objects_changed
    assert not first.deployment.drift_corrected

    edit = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "evil:1"}]}}},
    }
    await kube.apply(edit, field_manager="kubectl-edit", force=True)
    healed = await wait_for(
        lambda: _read(db),
        lambda found: any(e.deployment and e.deployment.drift_corrected for e in found),
        what="the self-heal in the audit trail",
    )
    await asyncio.sleep(2)  # a duplicate, if any, would be written by now
    found = await _read(db)
    syncs = [e for e in found if e.action == "controller.sync"]
    drifts = [e for e in found if e.action == "controller.drift"]
    assert len(syncs) == 2 and len(drifts) == 1, [e.to_dict() for e in found]
    heal = syncs[1]
    assert heal.deployment is not None and heal.deployment.drift_corrected
    assert heal.deployment.revision == first.deployment.revision
    assert heal.deployment.commit_author == "Ada Lovelace <ada@example.com>"
    assert heal.deployment.objects_changed == (f"Deployment.apps/{namespace}/web configured",)
    (culprit,) = heal.deployment.drift
    assert (culprit.object, culprit.manager) == (f"Deployment.apps/{namespace}/web", "kubectl-edit")
    assert culprit.time
    detected = drifts[0]
    assert detected.deployment is not None
    assert detected.deployment.drift[0].manager == "kubectl-edit"
    assert detected.id < heal.id and "changed by kubectl-edit" in detected.message
    assert healed  # (seen while waiting)
