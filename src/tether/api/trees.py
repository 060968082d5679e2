"""The resource tree of an Application: what it deployed, and what those objects own in turn.

Roots are the app's resources (its status, as the last comparison left it), read live from the
destination cluster. Children are found by ownerReferences, for the kinds whose children matter
to a person looking at a rollout (Deployment → ReplicaSet → Pod, StatefulSet/DaemonSet/Job →
Pod, CronJob → Job): one list per parent, narrowed by the parent's label selector and capped,
then kept only if the child names the parent's uid as its owner. Every node carries the health
tether's health checks (`engine.health`) assess for it. The whole tree is bounded by `limit` nodes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tether.cluster import errors as api_errors
from tether.cluster.api import KubeAPI
from tether.engine import health
from tether.model.resources import Body, ResourceKey, group_of
from tether.reconcile.compare import live_object

# (group, kind) of a parent -> (apiVersion, kind) of the children worth showing.
CHILDREN: Mapping[tuple[str, str], tuple[str, str]] = {
    ("apps", "Deployment"): ("apps/v1", "ReplicaSet"),
    ("apps", "ReplicaSet"): ("v1", "Pod"),
    ("apps", "StatefulSet"): ("v1", "Pod"),
    ("apps", "DaemonSet"): ("v1", "Pod"),
    ("batch", "Job"): ("v1", "Pod"),
    ("batch", "CronJob"): ("batch/v1", "Job"),
}


@dataclass(frozen=True)
class Tree:
    nodes: list[dict[str, Any]]
    live: dict[ResourceKey, Body]  # every live object found, by key
    truncated: bool


def _ref(obj: Body) -> dict[str, str]:
    key = ResourceKey.of(obj)
    uid = str((obj.get("metadata") or {}).get("uid", ""))
    return {
        "group": key.group,
        "kind": key.kind,
        "namespace": key.namespace,
        "name": key.name,
        "uid": uid,
    }


def _version(api_version: str) -> str:
    return api_version.rpartition("/")[2]


def node(
    obj: Body, parents: Sequence[dict[str, str]], rules: health.HealthRules | None
) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    assessed = health.assess(obj, rules)
    return {
        **_ref(obj),
        "version": _version(str(obj.get("apiVersion", ""))),
        "parentRefs": list(parents),
        "health": {"status": str(assessed.status), "message": assessed.message}
        if assessed
        else None,
        "createdAt": str(meta.get("creationTimestamp") or ""),
    }


def missing(resource: Mapping[str, Any]) -> dict[str, Any]:
    """A node for a resource the app should have but the cluster does not."""
    return {
        "group": str(resource.get("group", "")),
        "version": str(resource.get("version", "")),
        "kind": str(resource.get("kind", "")),
        "namespace": str(resource.get("namespace", "")),
        "name": str(resource.get("name", "")),
        "health": {"status": "Missing", "message": "not found in the cluster"},
    }


async def _live(dest: KubeAPI, resource: Mapping[str, Any]) -> Body | None:
    key = ResourceKey(
        str(resource.get("group", "")),
        str(resource.get("kind", "")),
        str(resource.get("namespace", "")),
        str(resource.get("name", "")),
    )
    return await live_object(dest, key, str(resource.get("version", "")))


async def children(dest: KubeAPI, parent: Body, limit: int) -> list[Body]:
    """The parent's children of the kind worth showing, at most `limit` (one capped list)."""
    wanted = CHILDREN.get((group_of(str(parent.get("apiVersion", ""))), str(parent.get("kind"))))
    if wanted is None or limit <= 0:
        return []
    meta = parent.get("metadata") or {}
    labels = ((parent.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    params = {"limit": str(limit)}
    if labels:
        params["labelSelector"] = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    try:
        res = await dest.resource(*wanted)
        page = await dest.request("GET", res.collection_path(meta.get("namespace")), params=params)
    except (api_errors.ApiError, api_errors.UnknownResource):
        return []
    uid = meta.get("uid")
    found = []
    for item in page.get("items") or []:
        if any(
            o.get("uid") == uid for o in (item.get("metadata") or {}).get("ownerReferences") or []
        ):
            found.append({"apiVersion": wanted[0], "kind": wanted[1], **item})
    return found


async def build(
    dest: KubeAPI,
    resources: Sequence[Mapping[str, Any]],
    rules: health.HealthRules | None,
    limit: int,
) -> Tree:
    roots = list(resources)[:limit]
    lives = await asyncio.gather(*(_live(dest, r) for r in roots))
    nodes: list[dict[str, Any]] = []
    live: dict[ResourceKey, Body] = {}
    frontier: list[Body] = []
    for resource, obj in zip(roots, lives, strict=True):
        nodes.append(missing(resource) if obj is None else node(obj, [], rules))
        if obj is not None:
            live[ResourceKey.of(obj)] = obj
            frontier.append(obj)
    truncated = len(resources) > limit
    while frontier:
        room = limit - len(nodes)
        found = await asyncio.gather(*(children(dest, p, room + 1) for p in frontier))
        next_frontier: list[Body] = []
        for parent, kids in zip(frontier, found, strict=True):
            for kid in kids:
                if len(nodes) >= limit:
                    return Tree(nodes, live, True)
                nodes.append(node(kid, [_ref(parent)], rules))
                live[ResourceKey.of(kid)] = kid
                next_frontier.append(kid)
        frontier = next_frontier
    return Tree(nodes, live, truncated)
