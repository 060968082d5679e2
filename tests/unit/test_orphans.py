"""Orphaned resources as data: testdata/projects/orphans/<case>/.

Each case has `app.yaml` (the destination namespace and the keys the app renders or owns),
`project.yaml` (a Project spec), `live.yaml` (the objects a listing of the cluster returned) and
`expected.yaml` (the orphans, sorted, and optionally the warning's message and status entries).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tether.cluster.discovery import ApiResource
from tether.engine import conditions
from tether.engine.conditions import Condition, ConditionType, Reason
from tether.model.resources import ResourceKey
from tether.policy import orphans
from tether.policy import projectspecs as policies
from tether.reconcile import orphans as scans
from tether.reconcile.apps import Application

CASES = Path(__file__).resolve().parents[2] / "testdata" / "projects" / "orphans"
CASE_DIRS = sorted(p for p in CASES.iterdir() if p.is_dir())


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _key(text: str) -> ResourceKey:
    """'Deployment.apps/ns/name' (the str() of a ResourceKey) back into a key."""
    group_kind, namespace, name = text.split("/")
    kind, _, group = group_kind.partition(".")
    return ResourceKey(group, kind, namespace, name)


@pytest.mark.parametrize("case", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_orphans_case(case: Path) -> None:
    app = _yaml(case / "app.yaml")
    project = policies.parse("p", _yaml(case / "project.yaml"))
    live = [orphans.listed(o) for o in yaml.safe_load_all((case / "live.yaml").read_text()) if o]
    expected = _yaml(case / "expected.yaml")
    managed = {_key(k) for k in app.get("managed") or ()}

    found = orphans.orphaned(app["namespace"], project, live, managed)

    assert [str(o.key) for o in found] == expected["orphans"]
    if "message" in expected:
        assert orphans.message(found, app["namespace"]) == expected["message"]
    if "entries" in expected:
        assert [orphans.entry(o) for o in found] == expected["entries"]


def test_no_namespace_has_no_orphans() -> None:
    project = policies.parse("p", {"orphanedResources": {"warn": True}})
    stray = orphans.listed({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    assert orphans.orphaned("", project, [stray]) == []


def test_parse_reads_warn_and_the_ignore_list() -> None:
    spec = {"orphanedResources": {"warn": True, "ignore": [{"kind": "ConfigMap", "name": "a-*"}]}}
    rules = policies.parse("p", spec).orphaned_resources
    assert rules == policies.OrphanedResources(
        True, (policies.OrphanIgnore("", "ConfigMap", "a-*"),)
    )
    assert orphans.warns(policies.parse("p", spec))
    assert not orphans.warns(policies.parse("p", {"orphanedResources": {}}))
    assert not orphans.warns(policies.parse("p", {}))


def test_the_crd_describes_the_ignore_list() -> None:
    from tether import crds

    crd = next(c for c in crds.load_all() if c["metadata"]["name"] == "projects.tether.dev")
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    ignore = spec["properties"]["orphanedResources"]["properties"]["ignore"]
    assert set(ignore["items"]["properties"]) == {"group", "kind", "name"}


def _resource(group: str, version: str, kind: str, **kw: Any) -> ApiResource:
    return ApiResource(
        group=group,
        version=version,
        kind=kind,
        plural=kind.lower() + "s",
        namespaced=kw.get("namespaced", True),
        verbs=kw.get("verbs", ("get", "list", "watch")),
        subresources=(),
        preferred=kw.get("preferred", True),
    )


def test_kinds_to_list_are_namespaced_listable_preferred_and_not_noise() -> None:
    served = [
        _resource("", "v1", "ConfigMap"),
        _resource("", "v1", "Namespace", namespaced=False),
        _resource("", "v1", "Binding", verbs=("create",)),
        _resource("", "v1", "Event"),
        _resource("events.k8s.io", "v1", "Event"),
        _resource("coordination.k8s.io", "v1", "Lease"),
        _resource("discovery.k8s.io", "v1", "EndpointSlice"),
        _resource("", "v1", "Endpoints"),
        _resource("metrics.k8s.io", "v1beta1", "PodMetrics"),
        _resource("example.com", "v1beta1", "Widget", preferred=False),
        _resource("example.com", "v1", "Widget"),
        _resource("example.com", "v1alpha1", "Gadget", preferred=False),  # only version served
    ]
    chosen = [(r.group, r.version, r.kind) for r in scans.kinds_to_list(served)]
    assert chosen == [
        ("", "v1", "ConfigMap"),
        ("example.com", "v1alpha1", "Gadget"),
        ("example.com", "v1", "Widget"),
    ]


def _app(status: dict[str, Any]) -> Application:
    return Application(
        {
            "metadata": {"name": "a", "namespace": "apps", "generation": 3},
            "spec": {"source": {"repoURL": "git://x/y"}, "destination": {"namespace": "shop"}},
            "status": status,
        }
    )


def _merged(app: Application, now: str) -> dict[str, Any]:
    """A status as the engine's conditions merge leaves it: Ready and friends set."""
    ready = conditions.ready("synced")
    merged = conditions.merge(app.status.get("conditions") or [], ready, now, app.generation)
    return {"conditions": merged}


def test_the_warning_joins_the_conditions_and_leaves_the_others_alone() -> None:
    app = _app({})
    found = [orphans.listed({"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("x")})]
    status = scans.reported(app, _merged(app, "t1"), found, "shop", "t1")

    types = [(c["type"], c["status"], c["reason"]) for c in status["conditions"]]
    assert types == [
        ("Ready", "True", "ReconciliationSucceeded"),
        ("Reconciling", "False", "ReconciliationSucceeded"),
        ("Stalled", "False", "ReconciliationSucceeded"),
        ("OrphanedResourceWarning", "True", "OrphanedResources"),
    ]
    warning = conditions.find(status["conditions"], ConditionType.ORPHANED_RESOURCE_WARNING)
    assert warning is not None and warning["message"].endswith(
        "in namespace shop: ConfigMap/shop/x"
    )
    assert status["orphanedResources"] == [
        {"group": "", "version": "v1", "kind": "ConfigMap", "namespace": "shop", "name": "x"}
    ]


def test_the_warning_keeps_its_transition_time_and_is_removed_when_orphans_are_gone() -> None:
    first = scans.reported(
        _app({}),
        _merged(_app({}), "t1"),
        [orphans.listed({"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("x")})],
        "shop",
        "t1",
    )
    app = _app(first)
    again = scans.reported(
        app,
        _merged(app, "t2"),
        [orphans.listed({"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("y")})],
        "shop",
        "t2",
    )
    warning = conditions.find(again["conditions"], ConditionType.ORPHANED_RESOURCE_WARNING)
    assert warning is not None and warning["lastTransitionTime"] == "t1"
    assert "ConfigMap/shop/y" in warning["message"]

    gone = scans.reported(_app(again), _merged(_app(again), "t3"), [], "shop", "t3")
    assert [c["type"] for c in gone["conditions"]] == ["Ready", "Reconciling", "Stalled"]
    assert gone["orphanedResources"] is None  # a merge patch removes it

    never = scans.cleared(_app({}), _merged(_app({}), "t1"))
    assert "orphanedResources" not in never  # nothing to remove: nothing to write


def test_without_drops_only_the_named_type() -> None:
    ready = conditions.merge([], [Condition(ConditionType.READY, True, Reason.SUCCEEDED)], "t", 1)
    kept = [*ready, {"type": "OrphanedResourceWarning", "status": "True"}]
    assert conditions.without(kept, ConditionType.ORPHANED_RESOURCE_WARNING) == ready


def _meta(name: str) -> dict[str, str]:
    return {"name": name, "namespace": "shop"}
