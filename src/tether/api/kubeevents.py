"""Kubernetes Events about an Application and the objects of its resource tree.

Two kinds of list, both bounded: the Events regarding the Application itself (the controller's
SyncStarted, DriftDetected, ... in the app's namespace, by field selector), and one list per
namespace of the tree's objects, kept when the Event is about one of them (by uid, or by kind
and name for Events written before the object had a uid in them). Read through the core v1 API,
which also shows Events written through events.k8s.io/v1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from tether.cluster import errors as api_errors
from tether.cluster.api import KubeAPI
from tether.model.resources import Body


async def _list(
    client: KubeAPI, namespace: str, limit: int, field_selector: str = ""
) -> list[Body]:
    params = {"limit": str(limit)}
    if field_selector:
        params["fieldSelector"] = field_selector
    path = f"/api/v1/namespaces/{namespace}/events"
    try:
        return list((await client.request("GET", path, params=params)).get("items") or [])
    except api_errors.ApiError:
        return []  # Events are a convenience: an unreadable namespace shows none


def _when(event: Mapping[str, Any]) -> str:
    series = event.get("series") or {}
    return str(
        event.get("lastTimestamp")
        or series.get("lastObservedTime")
        or event.get("eventTime")
        or event.get("firstTimestamp")
        or ""
    )


def shown(event: Mapping[str, Any]) -> dict[str, Any]:
    involved = event.get("involvedObject") or {}
    source = event.get("source") or {}
    group = str(involved.get("apiVersion", "")).rpartition("/")[0]
    return {
        "type": str(event.get("type") or ""),
        "reason": str(event.get("reason") or ""),
        "message": str(event.get("message") or ""),
        "count": int(event.get("count") or 1),
        "firstTimestamp": str(event.get("firstTimestamp") or event.get("eventTime") or ""),
        "lastTimestamp": _when(event),
        "source": str(event.get("reportingComponent") or source.get("component") or ""),
        "involvedObject": {
            "group": group,
            "kind": str(involved.get("kind", "")),
            "namespace": str(involved.get("namespace", "")),
            "name": str(involved.get("name", "")),
            "uid": str(involved.get("uid", "")),
        },
    }


def _about(event: Mapping[str, Any], uids: set[str], names: set[tuple[str, str, str]]) -> bool:
    involved = event.get("involvedObject") or {}
    if involved.get("uid") and involved["uid"] in uids:
        return True
    key = (str(involved.get("kind")), str(involved.get("namespace")), str(involved.get("name")))
    return key in names


async def for_app(
    home: KubeAPI,
    dest: KubeAPI,
    app: Body,
    nodes: Iterable[Mapping[str, Any]],
    limit: int,
) -> list[dict[str, Any]]:
    """Events about the app and its tree's objects, oldest first, the newest `limit`."""
    meta = app.get("metadata") or {}
    selector = f"involvedObject.kind=Application,involvedObject.name={meta.get('name')}"
    nodes = list(nodes)
    uids = {str(n["uid"]) for n in nodes if n.get("uid")}
    names = {(str(n["kind"]), str(n["namespace"]), str(n["name"])) for n in nodes}
    namespaces = sorted({str(n["namespace"]) for n in nodes if n.get("namespace")})
    own, *others = await asyncio.gather(
        _list(home, str(meta.get("namespace")), limit, selector),
        *(_list(dest, ns, limit) for ns in namespaces),
    )
    about = [e for listed in others for e in listed if _about(e, uids, names)]
    events = sorted((shown(e) for e in [*own, *about]), key=lambda e: e["lastTimestamp"])
    return events[-limit:]
