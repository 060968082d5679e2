"""Destination clusters: list, get, register from a kubeconfig-like body, remove.

A cluster is a labelled Secret in tether's namespace (tether.cluster.registry). Credentials are
write-only: answers say which ones are set, never what they are.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from tether.api import audits, credentials
from tether.api.access import Caller, caller, changing_caller
from tether.api.models import ClusterCreate, ClusterInfo, Clusters
from tether.api.problems import Problem, not_found
from tether.api.routes.common import PREFIX, PROBLEMS, Name
from tether.authz.policies import Action, Resource
from tether.cluster.registry import IN_CLUSTER

router = APIRouter(prefix=PREFIX, tags=["clusters"], responses=PROBLEMS)
C = Resource.CLUSTERS


async def _all(who: Caller) -> dict[str, dict[str, Any]]:
    kube = who.services.runtime.kube
    found = await credentials.cluster_secrets(kube, who.services.namespace)
    shown = {name: credentials.cluster_info(s) for name, s in found.items()}
    return {IN_CLUSTER: credentials.in_cluster(kube), **shown}


@router.get("/clusters", response_model=Clusters)
async def list_clusters(who: Annotated[Caller, Depends(caller)]) -> dict[str, Any]:
    """The clusters the caller may see (`in-cluster` first), without credentials."""
    return {"items": who.visible(C, (await _all(who)).values(), lambda c: str(c["name"]))}


@router.get("/clusters/{name}", response_model=ClusterInfo)
async def get_cluster(name: Name, who: Annotated[Caller, Depends(caller)]) -> dict[str, Any]:
    found = (await _all(who)).get(name)
    if found is None:
        raise not_found(f"cluster {name}")
    who.require(C, Action.GET, name, f"cluster {name}")
    return found


@router.post("/clusters", status_code=201, response_model=ClusterInfo)
async def create_cluster(
    body: ClusterCreate, who: Annotated[Caller, Depends(changing_caller)]
) -> dict[str, Any]:
    """Register a cluster (`upsert` replaces an existing registration's server and
    credentials)."""
    name, services = body.name, who.services
    action = audits.Action(audits.CLUSTER_CREATE, C, name)
    params = {"server": body.kubeconfig.clusters[0].cluster.server, "upsert": body.upsert}
    async with audits.audited(who, action, params):
        who.require_new(C, Action.CREATE, name, f"cluster {name}")
        if name == IN_CLUSTER:
            raise Problem(409, f"{IN_CLUSTER} is tether's own cluster; it cannot be replaced")
        kube = services.runtime.kube
        existing = (await credentials.cluster_secrets(kube, services.namespace)).get(name)
        if existing is not None and not body.upsert:
            raise Problem(409, f"cluster {name} exists; send upsert to replace it", "conflict")
        if existing is not None:
            who.require(C, Action.UPDATE, name, f"cluster {name}")
        config = body.kubeconfig.model_dump(by_alias=True)
        await credentials.write_cluster(kube, services.namespace, name, config, existing)
        await services.runtime.clusters.forget(name)  # the next use reads the new credentials
    return (await _all(who))[name]


@router.delete("/clusters/{name}", status_code=204)
async def delete_cluster(name: Name, who: Annotated[Caller, Depends(changing_caller)]) -> Response:
    """Remove a cluster's registration (its Secret)."""
    services = who.services
    action = audits.Action(audits.CLUSTER_DELETE, C, name)
    async with audits.audited(who, action):
        kube = services.runtime.kube
        found = (await credentials.cluster_secrets(kube, services.namespace)).get(name)
        if found is None:
            raise not_found(f"cluster {name}")
        who.require(C, Action.DELETE, name, f"cluster {name}")
        await credentials.delete(kube, found)
        await services.runtime.clusters.forget(name)
    return Response(status_code=204)
