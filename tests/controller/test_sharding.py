"""Two controller replicas split the apps: every app is reconciled, never by both at once, and
killing one hands its apps to the other within about one lease period."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import pytest

from tests.controller.conftest import ControllerProcess, StartController
from tests.support.apps_fixtures import Repo
from tests.support.waiting import wait_for
from tests.sync import manifests as m
from tether.cluster.client import KubeClient
from tether.service import apps as use
from tether.service.runtime import Runtime

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
APPS = 8
LEASE = 4


def _intervals(ctl: ControllerProcess) -> dict[str, list[tuple[str, str]]]:
    """Per app, the (start, end) times of this replica's reconciles."""
    spans: dict[str, list[tuple[str, str]]] = defaultdict(list)
    open_: dict[str, str] = {}
    for line in ctl.logs():
        app = line.get("app")
        if line.get("event") == "reconcile start":
            open_[app] = line["timestamp"]
        elif line.get("event") == "reconcile end" and app in open_:
            spans[app].append((open_.pop(app), line["timestamp"]))
    for app, start in open_.items():
        spans[app].append((start, "9999"))  # still running when the log was read
    return spans


def _overlaps(
    a: list[tuple[str, str]], b: list[tuple[str, str]]
) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    return [(x, y) for x in a for y in b if x[0] < y[1] and y[0] < x[1]]


async def _all_at(rt: Runtime, sha: str) -> list:
    apps = [await use.get(rt, f"app-{i}") for i in range(APPS)]
    return [
        a
        for a in apps
        if not a.status.get("sync", {}).get("revision", "").endswith(sha)
        or a.status["sync"]["status"] != "Synced"
    ]


async def test_two_replicas_split_apps_and_hand_over(
    rt: Runtime,
    make_repo: Callable[[], Repo],
    namespace: str,
    kube: KubeClient,
    start_controller: StartController,
) -> None:
    repo = make_repo()
    files = {f"apps/a{i}/cm.yaml": m.dump(m.config_map(f"cm-{i}", {"v": "1"})) for i in range(APPS)}
    first = repo.commit("v1", files)
    for i in range(APPS):
        await use.create(
            rt,
            use.CreateOptions(
                name=f"app-{i}",
                repo_url=repo.url,
                path=f"apps/a{i}",
                dest_namespace=namespace,
                automated=True,
            ),
        )
    args = ("--replicas", "2", "--lease-seconds", str(LEASE), "--log-level", "debug")
    a = start_controller(*args, "--identity", "replica-a", name="a")
    b = start_controller(*args, "--identity", "replica-b", name="b")

    await wait_for(
        lambda: _all_at(rt, first), lambda late: not late, what="every app synced", timeout=60
    )

    async def both_working() -> tuple[dict, dict]:
        return _intervals(a), _intervals(b)

    # The first replica up holds every bucket until the second joins and gets its share.
    spans_a, spans_b = await wait_for(
        both_working,
        lambda s: bool(s[0]) and bool(s[1]),
        what="both replicas reconciling",
        timeout=LEASE * 3,
    )
    assert set(spans_a) | set(spans_b) >= {f"{namespace}/app-{i}" for i in range(APPS)}
    assert set(spans_a) and set(spans_b), "both replicas took a share"
    for app in set(spans_a) & set(spans_b):  # an app may move between replicas, never be shared
        assert not _overlaps(spans_a[app], spans_b[app]), app

    a.kill()
    second = repo.commit(
        "v2",
        {f"apps/a{i}/cm.yaml": m.dump(m.config_map(f"cm-{i}", {"v": "2"})) for i in range(APPS)},
    )
    await wait_for(
        lambda: _all_at(rt, second),
        lambda late: not late,
        what="every app synced by the surviving replica",
        timeout=LEASE * 3 + 20,
    )
    for i in range(APPS):
        assert (await kube.get("v1", "ConfigMap", f"cm-{i}", namespace))["data"] == {"v": "2"}
