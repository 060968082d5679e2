"""Looking into an Application: diff, rendered manifests, resource tree, Events, one resource.

Everything shown here passes through the pure core's masking (`engine.masking`) first: Secret
values never leave the server, in a diff, a manifest or a live object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from tether.api import kubeevents, trees
from tether.api.access import Caller, caller
from tether.api.models import DiffResult, Events, Graph, LiveResource, Manifests, Tree
from tether.api.problems import not_found
from tether.api.routes.common import (
    PREFIX,
    PROBLEMS,
    Name,
    Namespace,
    app_for,
    app_object,
    shown,
)
from tether.authz.policies import Action, Resource
from tether.engine import masking
from tether.engine.comparisons import Comparison, ResourceState, diff_summary
from tether.model.resources import ResourceKey
from tether.reconcile.apps import Application
from tether.service import apps as use

router = APIRouter(prefix=PREFIX, tags=["applications"], responses=PROBLEMS)
Reader = Annotated[Caller, Depends(caller)]


def _diff(r: ResourceState) -> dict[str, Any]:
    return {
        "group": r.key.group,
        "version": r.diff.version,
        "kind": r.key.kind,
        "namespace": r.key.namespace,
        "name": r.key.name,
        "action": str(r.diff.action),
        "diff": r.diff.text,
    }


async def _compare(who: Caller, app: Application) -> Comparison:
    return await use.compare(who.services.runtime, app)


@router.get("/applications/{namespace}/{name}/diff", response_model=DiffResult)
async def application_diff(namespace: Namespace, name: Name, who: Reader) -> dict[str, Any]:
    """What a sync would change: unified diffs (Secret values masked) and a summary."""
    comparison = await _compare(who, await app_for(who, namespace, name, Action.GET))
    return {
        "revision": str(comparison.targets.revision),
        "summary": diff_summary(comparison),
        "resources": [_diff(r) for r in comparison.resources if r.diff.changed],
    }


@router.get("/applications/{namespace}/{name}/manifests", response_model=Manifests)
async def application_manifests(namespace: Namespace, name: Name, who: Reader) -> dict[str, Any]:
    """The rendered target manifests at the spec's revision (Secret values masked)."""
    comparison = await _compare(who, await app_for(who, namespace, name, Action.GET))
    return {"items": use.masked_manifests(comparison)}


async def _tree(who: Caller, app: Application) -> trees.Tree:
    rt = who.services.runtime
    dest = await use.destination(rt, app)
    resources = app.status.get("resources") or []
    return await trees.build(
        dest, resources, rt.settings.health_rules, who.services.settings.tree_limit
    )


@router.get("/applications/{namespace}/{name}/tree", response_model=Tree)
async def application_tree(namespace: Namespace, name: Name, who: Reader) -> dict[str, Any]:
    """The app's live objects and what they own (Deployment → ReplicaSet → Pod), with health."""
    tree = await _tree(who, await app_for(who, namespace, name, Action.GET))
    return {"nodes": tree.nodes, "truncated": tree.truncated}


@router.get("/applications/{namespace}/{name}/events", response_model=Events)
async def application_events(namespace: Namespace, name: Name, who: Reader) -> dict[str, Any]:
    """Kubernetes Events about the app and the objects of its tree, oldest first."""
    app = await app_for(who, namespace, name, Action.GET)
    tree = await _tree(who, app)
    rt = who.services.runtime
    dest = await use.destination(rt, app)
    limit = who.services.settings.events_limit
    return {"items": await kubeevents.for_app(rt.kube, dest, app.body, tree.nodes, limit)}


@router.get("/applications/{namespace}/{name}/graph", response_model=Graph)
async def application_graph(namespace: Namespace, name: Name, who: Reader) -> dict[str, Any]:
    """The app's dependencies (spec.dependsOn, transitively) and the apps that depend on it,
    with whether each is Ready; apps the caller may not see are left out."""
    await app_for(who, namespace, name, Action.GET)
    found = await use.graph(who.services.runtime, name)
    shown_refs = {ref for ref, node in found.nodes.items() if _visible(who, node)}
    return {
        "nodes": [_node(n) for ref, n in sorted(found.nodes.items()) if ref in shown_refs],
        "edges": [
            {"source": str(a), "target": str(b)}
            for a, b in found.edges
            if a in shown_refs and b in shown_refs
        ],
    }


def _visible(who: Caller, node: use.Node) -> bool:
    if node.app is None:
        return True  # a name from a visible app's spec; nothing more is told of it
    return who.may(Resource.APPLICATIONS, Action.GET, app_object(node.app)[1])


def _node(node: use.Node) -> dict[str, Any]:
    status = node.app.status if node.app is not None else {}
    return {
        "name": node.ref.name,
        "namespace": node.ref.namespace,
        "sync": (status.get("sync") or {}).get("status", ""),
        "health": (status.get("health") or {}).get("status", ""),
        "ready": node.ready,
        "message": node.message,
    }


@router.get("/applications/{namespace}/{name}/resource", response_model=LiveResource)
async def application_resource(
    namespace: Namespace,
    name: Name,
    who: Reader,
    kind: Annotated[str, Query(min_length=1)],
    resource_name: Annotated[str, Query(alias="name", min_length=1)],
    group: str = "",
    version: str = "",
    resource_namespace: Annotated[str, Query(alias="namespace")] = "",
) -> dict[str, Any]:
    """One object of the app's tree: its live manifest (masked) and, for an object the app
    deploys, its diff."""
    app = await app_for(who, namespace, name, Action.GET)
    key = ResourceKey(group, kind, resource_namespace, resource_name)
    tree = await _tree(who, app)
    managed = {_key(r) for r in app.status.get("resources") or []}
    if key not in managed and key not in tree.live:
        raise not_found(f"resource {key} of application {namespace}/{name}")
    live = tree.live.get(key)
    answer: dict[str, Any] = {"manifest": shown(masking.mask(live)) if live else None, "diff": None}
    if key in managed:
        state = (await _compare(who, app)).state(key)
        answer["diff"] = _diff(state) if state is not None else None
    return answer


def _key(resource: Mapping[str, Any]) -> ResourceKey:
    return ResourceKey(
        str(resource.get("group", "")),
        str(resource.get("kind", "")),
        str(resource.get("namespace", "")),
        str(resource.get("name", "")),
    )
