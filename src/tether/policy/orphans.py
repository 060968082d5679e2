"""Orphaned resources: what in an app's destination namespace nobody deploys.

A Project with `orphanedResources.warn` asks to hear about objects that live in an app's
destination namespace although no Application tracks them: a ConfigMap made by hand for a debug
session, a Deployment left behind by a deleted app. Following Argo CD, an orphan is a *top-level*
namespaced object (no ownerReferences: the ReplicaSets and Pods of an orphaned Deployment are its
business, not separate findings) that carries no valid tracking id and that this app does not
render either (a target not applied yet is out of sync, not orphaned).

Some objects are never orphans, because the cluster, not a person, makes them (the namespace's
`default` ServiceAccount and `kube-root-ca.crt` ConfigMap, the `kubernetes` Service in `default`),
because the Project does not let its apps manage the kind anyway (tenants cannot adopt what they
may not deploy), or because the Project's `ignore` list says so. High-churn kinds that are never
anyone's manifests (Events, Leases, Endpoints, EndpointSlices, metrics) are not even listed.

Pure: the caller lists the namespace and hands over what it saw (`Listed`, built by `listed`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tether.engine import tracking
from tether.engine.tracking import AppRef
from tether.model.resources import ResourceKey
from tether.policy import globs, violations
from tether.policy.projectspecs import ProjectSpec

# (group, kind) globs never listed: high-churn objects nobody writes as manifests (Argo CD
# leaves the same out of its cluster cache by default).
UNLISTED: tuple[tuple[str, str], ...] = (
    ("", "Event"),
    ("", "Endpoints"),
    ("events.k8s.io", "*"),
    ("metrics.k8s.io", "*"),
    ("coordination.k8s.io", "Lease"),
    ("discovery.k8s.io", "EndpointSlice"),
)

# (namespace glob, group, kind, name) of objects Kubernetes itself puts in namespaces.
_BUILT_IN: tuple[tuple[str, str, str, str], ...] = (
    ("*", "", "ServiceAccount", "default"),
    ("*", "", "ConfigMap", "kube-root-ca.crt"),
    ("default", "", "Service", "kubernetes"),
)

SHOWN = 5  # how many orphans a message names before "and N more"


@dataclass(frozen=True)
class Listed:
    """What orphan detection needs of a live object (a listing keeps no more of it)."""

    key: ResourceKey
    api_version: str
    has_owners: bool  # metadata.ownerReferences is not empty
    tracked_by: AppRef | None  # the app its tracking id names, if the id is valid for it


def listed(obj: Mapping[str, Any]) -> Listed:
    meta = obj.get("metadata") or {}
    return Listed(
        ResourceKey.of(obj),
        str(obj.get("apiVersion", "")),
        bool(meta.get("ownerReferences")),
        tracking.owner(obj),
    )


def unlisted(group: str, kind: str) -> bool:
    """A kind whose objects are never orphans, so never worth listing."""
    return any(globs.matches(g, group) and globs.matches(k, kind) for g, k in UNLISTED)


def _built_in(key: ResourceKey) -> bool:
    return any(
        globs.matches(ns, key.namespace) and (g, k, n) == (key.group, key.kind, key.name)
        for ns, g, k, n in _BUILT_IN
    )


def exempt(project: ProjectSpec, key: ResourceKey) -> bool:
    """Never orphaned: built in, of a kind the project does not permit, or ignored."""
    rules = project.orphaned_resources
    ignored = rules is not None and any(
        i.matches(key.group, key.kind, key.name) for i in rules.ignore
    )
    return (
        ignored
        or _built_in(key)
        or unlisted(key.group, key.kind)
        or not violations.kind_permitted(project, key, namespaced=True)
    )


def warns(project: ProjectSpec) -> bool:
    return project.orphaned_resources is not None and project.orphaned_resources.warn


def orphaned(
    namespace: str,
    project: ProjectSpec,
    live: Iterable[Listed],
    managed: Collection[ResourceKey] = (),
) -> list[Listed]:
    """The orphans among `live` in `namespace`, sorted by key. `managed` are the keys the app
    renders or still owns. An object tracked by this app or by another one is equally not an
    orphan (Argo CD also asks whether that other app still exists; tether does not list apps)."""
    found = [
        obj
        for obj in live
        if namespace
        and obj.key.namespace == namespace
        and not obj.has_owners
        and obj.tracked_by is None
        and obj.key not in managed
        and not exempt(project, obj.key)
    ]
    return sorted(found, key=lambda o: o.key)


def message(orphans: Sequence[Listed], namespace: str) -> str:
    """'2 orphaned resource(s) in namespace x: ConfigMap/x/a, Deployment.apps/x/b'."""
    names = ", ".join(str(o.key) for o in orphans[:SHOWN])
    more = f" and {len(orphans) - SHOWN} more" if len(orphans) > SHOWN else ""
    return f"{len(orphans)} orphaned resource(s) in namespace {namespace}: {names}{more}"


def entry(obj: Listed) -> dict[str, str]:
    """The status.orphanedResources entry for one orphan."""
    return {
        "group": obj.key.group,
        "version": obj.api_version.rpartition("/")[2],
        "kind": obj.key.kind,
        "namespace": obj.key.namespace,
        "name": obj.key.name,
    }
