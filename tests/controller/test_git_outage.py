"""With the Git server down, apps keep their last good state, the condition says why, and nothing
is pruned; when it is back, the controller recovers without anyone's help."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from tests.controller.conftest import StartController
from tests.support import gitserver
from tests.support.waiting import condition, wait_for
from tests.sync import manifests as m
from tether.cluster.client import KubeClient
from tether.service import apps as use
from tether.service.runtime import Runtime

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


async def test_git_outage_keeps_last_good_state_and_recovers(
    rt: Runtime, namespace: str, kube: KubeClient, tmp_path: Path, start_controller: StartController
) -> None:
    base, logs = tmp_path / "served", tmp_path / "logs"
    base.mkdir()
    logs.mkdir()
    daemon = gitserver.start_git_daemon(base, logs)
    name = f"r-{uuid.uuid4().hex[:8]}"
    repo = gitserver.WorkRepo(base, name, tmp_path / "work")
    url = daemon.url(f"{name}.git")
    repo.commit(
        "v1", {"app/a.yaml": m.dump(m.config_map("a")), "app/b.yaml": m.dump(m.config_map("b"))}
    )
    repo.push()
    await use.create(
        rt,
        use.CreateOptions(
            name="outage",
            repo_url=url,
            path="app",
            dest_namespace=namespace,
            automated=True,
            auto_prune=True,
        ),
    )
    start_controller("--poll-seconds", "1")
    await wait_for(
        lambda: kube.get_or_none("v1", "ConfigMap", "b", namespace),
        lambda c: c is not None,
        what="first sync",
    )

    daemon.stop()
    (repo.path / "app" / "b.yaml").unlink()
    repo.commit("drop b")
    repo.push()  # lands in the served directory; the daemon in front of it is down
    app = await wait_for(
        lambda: use.get(rt, "outage"),
        lambda a: (
            (
                next((c for c in a.status.get("conditions", []) if c["type"] == "Ready"), {}).get(
                    "reason"
                )
            )
            == "SourceUnavailable"
        ),
        what="the outage reported",
        timeout=30,
    )
    ready = next(c for c in app.status["conditions"] if c["type"] == "Ready")
    assert name in ready["message"] or "127.0.0.1" in ready["message"]
    assert condition(app.body, "Stalled") == "False"
    await asyncio.sleep(2)
    assert await kube.get_or_none("v1", "ConfigMap", "b", namespace) is not None  # nothing pruned

    back = gitserver.start_git_daemon(base, logs, port=daemon.server.port)
    try:
        await wait_for(
            lambda: kube.get_or_none("v1", "ConfigMap", "b", namespace),
            lambda c: c is None,
            what="recovery: the new commit synced and b pruned",
            timeout=60,
        )
        app = await wait_for(
            lambda: use.get(rt, "outage"),
            lambda a: condition(a.body, "Ready") == "True",
            what="Ready again",
            timeout=30,
        )
    finally:
        back.stop()  # the test's own daemon: no fixture stops it
    assert await kube.get_or_none("v1", "ConfigMap", "a", namespace) is not None
