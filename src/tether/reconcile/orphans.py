"""Orphaned resources at run time: listing an app's destination namespace, and the status field
and warning condition that come of it.

Only an app whose Project sets `orphanedResources.warn` pays for this. Its destination namespace
is listed kind by kind (each namespaced kind discovery serves with `list`, in its preferred
version, but for the kinds never worth it: policy.orphans.UNLISTED), as tether itself, like
every other read; the pure core (policy.orphans) decides what is orphaned. The result goes in
`status.orphanedResources` and, while there are any, an `OrphanedResourceWarning` condition. It
never touches Ready, Reconciling, Stalled, sync or health: an orphan is news, not a failure.

A listing is dozens of requests. The CLI and the API server pay it once per comparison, which
reads every target from the API anyway. The controller compares far more often (on every event
of a tracked object, from its watch caches), so there a listing is reused for `RESCAN_SECONDS`
(the default resync) until the app is forgotten (a hard refresh, a deletion): `Orphans(reuse=
True)`, one per orchestrator.

When the comparison failed, or the namespace could not be listed, the status keeps what it said.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from tether.cluster import errors as api_errors
from tether.cluster.api import KubeAPI
from tether.cluster.discovery import ApiResource
from tether.engine import conditions
from tether.engine.comparisons import Comparison
from tether.engine.conditions import Condition, ConditionType, Reason
from tether.engine.tracking import AppRef
from tether.model.app import AppSpec
from tether.policy import orphans as rules
from tether.policy.orphans import Listed
from tether.reconcile.admission import ProjectStore
from tether.reconcile.apps import Application
from tether.reconcile.targets import TargetError

RESCAN_SECONDS = 180.0
FIELD = "orphanedResources"
WARNING = ConditionType.ORPHANED_RESOURCE_WARNING
_NOT_LISTABLE = (403, 404, 405)  # not allowed, or not served after all: no orphans of that kind


# ---- listing -------------------------------------------------------------------------------


def kinds_to_list(resources: Collection[ApiResource]) -> list[ApiResource]:
    """One resource per namespaced (group, kind) that can be listed: its preferred version."""
    chosen: dict[tuple[str, str], ApiResource] = {}
    for res in resources:
        if res.namespaced and "list" in res.verbs and not rules.unlisted(res.group, res.kind):
            known = chosen.get((res.group, res.kind))
            if known is None or (res.preferred and not known.preferred):
                chosen[(res.group, res.kind)] = res
    return sorted(chosen.values(), key=lambda r: (r.group, r.kind))


async def _list_kind(dest: KubeAPI, res: ApiResource, namespace: str) -> list[Listed] | None:
    try:
        found = await dest.list(res.api_version, res.kind, namespace)
    except api_errors.UnknownResource:
        return []
    except api_errors.ApiError as exc:
        return [] if exc.status in _NOT_LISTABLE else None
    return [rules.listed(obj) for obj in found.items]


async def listing(dest: KubeAPI, namespace: str) -> tuple[Listed, ...] | None:
    """What lives in `namespace`, as the orphan rules need it; None when a list (or discovery)
    failed for another reason than the kind being forbidden or gone."""
    try:
        kinds = kinds_to_list((await dest.resources()).resources)
    except api_errors.ApiError:
        return None
    lists = await asyncio.gather(*(_list_kind(dest, r, namespace) for r in kinds))
    if any(found is None for found in lists):
        return None
    return tuple(obj for found in lists for obj in found or ())


# ---- reusing a listing in the controller --------------------------------------------------


@dataclass(frozen=True)
class _Kept:
    where: tuple[str, str]  # destination cluster and namespace listed
    at: float  # time.monotonic() of the listing
    objects: tuple[Listed, ...]


Destination = Callable[[AppSpec], Awaitable[KubeAPI]]


class Orphans:
    """Finds an app's orphaned resources; with `reuse`, a listing serves for RESCAN_SECONDS."""

    def __init__(self, projects: ProjectStore, destination: Destination, reuse: bool) -> None:
        self.projects = projects
        self.destination = destination
        self.reuse = reuse
        self._kept: dict[AppRef, _Kept] = {}

    def forget(self, ref: AppRef) -> None:
        self._kept.pop(ref, None)

    async def _live(self, ref: AppRef, spec: AppSpec) -> tuple[Listed, ...] | None:
        where = (spec.destination.cluster, spec.destination.namespace)
        kept = self._kept.get(ref) if self.reuse else None
        if kept is not None and kept.where == where and time.monotonic() - kept.at < RESCAN_SECONDS:
            return kept.objects
        objects = await listing(await self.destination(spec), spec.destination.namespace)
        if objects is not None and self.reuse:
            self._kept[ref] = _Kept(where, time.monotonic(), objects)
        return objects

    async def noted(
        self, app: Application, comparison: Comparison | None, status: dict[str, Any], now: str
    ) -> dict[str, Any]:
        """The status a comparison gives (conditions merged), with the app's orphans noted in
        it when its project warns of them, and cleared of them when it does not (any more)."""
        if comparison is None:
            return status
        spec = app.spec
        try:
            project = await self.projects.spec(spec.project)
            if not rules.warns(project) or not spec.destination.namespace:
                return cleared(app, status)
            live = await self._live(app.ref, spec)
        except TargetError:
            return status
        if live is None:
            return status
        managed = {r.key for r in comparison.resources}
        found = rules.orphaned(spec.destination.namespace, project, live, managed)
        return reported(app, status, found, spec.destination.namespace, now)


# ---- the status ----------------------------------------------------------------------------


def cleared(app: Application, status: dict[str, Any]) -> dict[str, Any]:
    """`status` without the warning, and without the list if the app's status has one."""
    cleaned = {**status, "conditions": conditions.without(status.get("conditions") or [], WARNING)}
    if FIELD in app.status:
        cleaned[FIELD] = None  # a merge patch removes the field
    return cleaned


def reported(
    app: Application, status: dict[str, Any], found: list[Listed], namespace: str, now: str
) -> dict[str, Any]:
    """`status` with the orphans listed and warned of (cleared when there are none)."""
    if not found:
        return cleared(app, status)
    warning = Condition(WARNING, True, Reason.ORPHANED_RESOURCES, rules.message(found, namespace))
    merged = conditions.merge(status.get("conditions") or [], [warning], now, app.generation)
    return {**status, FIELD: [rules.entry(o) for o in found], "conditions": merged}
