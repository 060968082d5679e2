"""Comparison: each target and owned object with its live state, server-side diff and health.

The diff is a server-side dry-run apply of the target (as tether's field manager, forcing, like
the real sync) compared with the live object. Objects that cannot be dry-run yet because their
namespace or CRD is created by this very sync are compared against the target as written.

Live objects come from a `LiveState`: the API itself (CLI) or the controller's watch cache. A
`DiffMemo` remembers each object's last diff keyed by hashes of its target and of its normalized
live body, so an unchanged object (status updates included) costs no dry run the next time.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from tether.cluster import errors as api_errors
from tether.cluster.api import KubeAPI
from tether.engine import diff, health, ignore, inventory, tracking
from tether.engine.comparisons import Comparison, ResourceState
from tether.engine.conditions import Reason
from tether.engine.normalize import normalize
from tether.engine.sync import options as resource_options
from tether.engine.tracking import AppRef
from tether.model.app import AppSpec
from tether.model.health import HealthResult, HealthStatus
from tether.model.resources import Body, ResourceKey
from tether.model.targets import Targets
from tether.reconcile.targets import TargetError, TargetsMemo

FIELD_MANAGER = "tether"


def _created_by_this_sync(
    targets: Targets, create_namespace: str
) -> tuple[set[str], set[tuple[str, str]]]:
    namespaces = {o["metadata"]["name"] for o in targets.objects if o.get("kind") == "Namespace"}
    if create_namespace:
        namespaces.add(create_namespace)
    crd_kinds = {
        (o["spec"]["group"], o["spec"]["names"]["kind"])
        for o in targets.objects
        if o.get("kind") == "CustomResourceDefinition"
    }
    return namespaces, crd_kinds


def api_version_of(group: str, version: str) -> str:
    """'apps' + 'v1' -> 'apps/v1'; a full apiVersion is returned unchanged."""
    if "/" in version or not group:
        return version
    return f"{group}/{version}"


async def live_object(dest: KubeAPI, key: ResourceKey, version: str) -> Body | None:
    """The live object, or None; `version` may be a bare version or a full apiVersion."""
    try:
        return await dest.get_or_none(
            api_version_of(key.group, version), key.kind, key.name, key.namespace or None
        )
    except api_errors.UnknownResource:
        return None


class LiveState(Protocol):
    """Where live objects are read from (the API server, or a watch cache)."""

    async def get(self, key: ResourceKey, api_version: str) -> Body | None: ...

    def observe(self, obj: Body) -> None:
        """A fresh object the caller just received from a write (a cache may take it early)."""


@dataclass(frozen=True)
class ApiLiveState:
    dest: KubeAPI

    async def get(self, key: ResourceKey, api_version: str) -> Body | None:
        return await live_object(self.dest, key, api_version)

    def observe(self, obj: Body) -> None:
        pass


def fingerprint(obj: Body | None) -> str:
    """A hash of what matters for diffs (status, managedFields and versions left out)."""
    if obj is None:
        return ""
    text = json.dumps(normalize(obj), sort_keys=True, separators=(",", ":"), check_circular=False)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class _Remembered:
    target: str
    live: str
    predicted: Body


@dataclass
class DiffMemo:
    """Last dry-run result per object, valid while target and normalized live are unchanged.

    Fingerprints are themselves remembered: a target by identity (the targets memo hands back the
    very same objects while the commit is unchanged), a live object by resourceVersion."""

    entries: dict[ResourceKey, _Remembered] = field(default_factory=dict)
    dry_runs: int = 0
    targets: TargetsMemo = field(default_factory=TargetsMemo)
    _target_prints: dict[ResourceKey, tuple[Body, str]] = field(default_factory=dict)
    _live_prints: dict[ResourceKey, tuple[str, str]] = field(default_factory=dict)

    def _target_print(self, key: ResourceKey, target: Body) -> str:
        known = self._target_prints.get(key)
        if known is not None and known[0] is target:  # the same object, kept alive here
            return known[1]
        printed = fingerprint(target)
        self._target_prints[key] = (target, printed)
        return printed

    def _live_print(self, key: ResourceKey, live: Body | None) -> str:
        version = str(((live or {}).get("metadata") or {}).get("resourceVersion", ""))
        known = self._live_prints.get(key)
        if version and known is not None and known[0] == version:
            return known[1]
        printed = fingerprint(live)
        if version:
            self._live_prints[key] = (version, printed)
        return printed

    def lookup(self, key: ResourceKey, target: Body, live: Body | None) -> Body | None:
        found = self.entries.get(key)
        if found is None or found.target != self._target_print(key, target):
            return None
        return found.predicted if found.live == self._live_print(key, live) else None

    def remember(self, key: ResourceKey, target: Body, live: Body | None, predicted: Body) -> None:
        self.entries[key] = _Remembered(
            self._target_print(key, target), self._live_print(key, live), predicted
        )

    def forget(self, keep: Iterable[ResourceKey]) -> None:
        wanted = set(keep)
        for table in (self.entries, self._target_prints, self._live_prints):
            for key in [k for k in table if k not in wanted]:
                del table[key]


async def dry_run(
    dest: KubeAPI, target: Body, validate: bool, live: Body | None = None, replace: bool = False
) -> Body:
    """What a write of `target` would leave, as the sync will write it: server-side apply, or
    create/replace when the app asks for Replace=true or Validate=false (server-side apply has
    no way to drop unknown fields; a replace with fieldValidation=Ignore does)."""
    if replace or not validate:
        version = str(((live or {}).get("metadata") or {}).get("resourceVersion", ""))
        return await write_whole(dest, target, version, validate, dry_run=True)
    return await dest.apply(
        target, field_manager=FIELD_MANAGER, force=True, dry_run=True, field_validation="Strict"
    )


async def write_whole(
    dest: KubeAPI, target: Body, resource_version: str, validate: bool, dry_run: bool = False
) -> Body:
    """Create (no `resource_version`: nothing is live), or replace the live object at that
    version (the Replace=true / Validate=false write)."""
    validation = "Strict" if validate else "Ignore"
    if not resource_version:
        return await dest.create(
            target, dry_run=dry_run, field_manager=FIELD_MANAGER, field_validation=validation
        )
    whole = {**target, "metadata": {**target["metadata"], "resourceVersion": resource_version}}
    return await dest.replace(
        whole, dry_run=dry_run, field_manager=FIELD_MANAGER, field_validation=validation
    )


def _health(live: Body | None, rules: health.HealthRules | None) -> HealthResult | None:
    if live is None:
        return HealthResult(HealthStatus.MISSING, "not created yet")
    return health.assess(live, rules)


@dataclass(frozen=True)
class _Inputs:
    dest: KubeAPI
    writer: KubeAPI  # dry runs are writes: they run as the project's service account
    live: LiveState
    spec: AppSpec
    app: AppRef
    pending: tuple[set[str], set[tuple[str, str]]]
    rules: health.HealthRules | None
    memo: DiffMemo | None


async def _predict(inputs: _Inputs, key: ResourceKey, target: Body, live: Body | None) -> Body:
    namespaces, crd_kinds = inputs.pending
    if live is None and (key.namespace in namespaces or (key.group, key.kind) in crd_kinds):
        return target  # cannot be dry-run before its namespace/CRD exists
    if live is None and (key.group, key.kind) == ("", "Namespace"):
        return target  # a new Namespace has nothing a dry run could find wrong but its name
    remembered = inputs.memo.lookup(key, target, live) if inputs.memo is not None else None
    if remembered is not None:
        return remembered
    options, own = inputs.spec.sync_policy.options, resource_options.parse(target)
    try:
        predicted = await dry_run(
            inputs.writer,
            target,
            options.validate and own.validate,
            live,
            options.replace or own.replace,
        )
    except api_errors.UnknownResource as exc:
        if own.skip_dry_run_on_missing_resource:
            return target  # its CRD comes from elsewhere (another app, an operator)
        raise TargetError(Reason.DRY_RUN_FAILED, f"{key}: {exc}", stalled=True) from exc
    except api_errors.ApiError as exc:
        raise TargetError(
            Reason.DRY_RUN_FAILED, f"{key}: {exc.message}", stalled=exc.status < 500
        ) from exc
    if inputs.memo is not None:
        inputs.memo.dry_runs += 1
        inputs.memo.remember(key, target, live, predicted)
    return predicted


async def _compare_target(inputs: _Inputs, target: Body) -> ResourceState:
    spec, app, rules = inputs.spec, inputs.app, inputs.rules
    key = ResourceKey.of(target)
    version = str(target["apiVersion"]).rpartition("/")[2]
    live = await inputs.live.get(key, str(target["apiVersion"]))
    applicable = ignore.rules_for(spec.ignore_differences, key)
    if live is not None and spec.sync_policy.options.respect_ignore_differences and applicable:
        target = ignore.respect(target, live, applicable)
    owner = tracking.owner(live) if live is not None else None
    predicted = await _predict(inputs, key, target, live)
    return ResourceState(
        key,
        version,
        target,
        live,
        diff.compare(key, live, predicted, spec.ignore_differences),
        _health(live, rules),
        shared_with=owner if owner is not None and owner != app else None,
    )


async def _compare_stale(
    live_state: LiveState, entry: inventory.Entry, app: AppRef
) -> ResourceState | None:
    live = await live_state.get(entry.key, api_version_of(entry.key.group, entry.version))
    if live is None or not tracking.is_owned_by(live, app):
        return None  # gone already, or no longer ours: never pruned
    return ResourceState(
        entry.key,
        entry.version,
        None,
        live,
        diff.compare(entry.key, live, None),
        None,
        requires_pruning=True,
        prune_protected=not resource_options.prune_allowed(live),
    )


async def compare(
    dest: KubeAPI,
    app: AppRef,
    spec: AppSpec,
    targets: Targets,
    owned: Iterable[inventory.Entry],
    rules: health.HealthRules | None = None,
    *,
    live: LiveState | None = None,
    memo: DiffMemo | None = None,
    writer: KubeAPI | None = None,
) -> Comparison:
    """`writer` is whom dry runs go as (the project's service account; default `dest`); live
    objects are read as tether itself."""
    create_ns = spec.destination.namespace if spec.sync_policy.options.create_namespace else ""
    live = live or ApiLiveState(dest)
    pending = _created_by_this_sync(targets, create_ns)
    inputs = _Inputs(dest, writer or dest, live, spec, app, pending, rules, memo)
    stale = inventory.stale(owned, targets.keys())
    current: Sequence[ResourceState] = await asyncio.gather(
        *(_compare_target(inputs, t) for t in targets.objects)
    )
    gone: Sequence[ResourceState | None] = await asyncio.gather(
        *(_compare_stale(live, e, app) for e in stale)
    )
    if memo is not None:
        memo.forget(targets.keys())
    return Comparison(targets, (*current, *(g for g in gone if g is not None)))
