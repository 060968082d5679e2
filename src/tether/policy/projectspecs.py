"""A Project's spec as typed, immutable values, parsed from the CRD's `spec` dict.

Field names follow Argo CD's AppProject where the concept is the same; destinations name
clusters by their registered name (`cluster`), as tether's Applications do. Parsing validates
what the CRD schema cannot (cron schedules, durations, time zones, service account names), so a
broken Project is reported once, clearly, instead of failing some later sync in a surprising way.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import cronsim

from tether.model.app import DEFAULT_PROJECT, parse_duration
from tether.policy import globs

_SERVICE_ACCOUNT = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?:)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")

# What the `default` project is when tether creates it: everything allowed, as before Projects.
PERMISSIVE_SPEC: Mapping[str, Any] = {
    "description": "Created by tether on first use: permits everything.",
    "sourceRepos": ["*"],
    "destinations": [{"cluster": "*", "namespace": "*"}],
    "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
}


@dataclass(frozen=True)
class GroupKind:
    """A `{group, kind}` entry of a resource white- or blacklist; both are globs."""

    group: str
    kind: str

    def matches(self, group: str, kind: str) -> bool:
        return globs.matches(self.group, group) and globs.matches(self.kind, kind)

    def __str__(self) -> str:
        return f"{self.group or '(core)'}/{self.kind}"


@dataclass(frozen=True)
class Destination:
    """A `{cluster, namespace}` entry; a `!` on either field makes the entry a denial."""

    cluster: str
    namespace: str

    @property
    def deny(self) -> bool:
        return globs.is_deny(self.cluster) or globs.is_deny(self.namespace)

    def matches(self, cluster: str, namespace: str) -> bool:
        """Whether the entry covers this destination (a deny entry: what it denies)."""
        return globs.matches(globs.positive(self.cluster), cluster) and globs.matches(
            globs.positive(self.namespace), namespace
        )

    def __str__(self) -> str:
        return f"{self.cluster}/{self.namespace}"


@dataclass(frozen=True)
class JwtToken:
    id: str = ""
    iat: int = 0  # issued at, seconds since the epoch
    exp: int = 0  # expires at; 0 = never


@dataclass(frozen=True)
class Role:
    """Stored for RBAC and tokens (built elsewhere); the policy here does not read roles."""

    name: str
    description: str = ""
    policies: tuple[str, ...] = ()  # casbin lines
    groups: tuple[str, ...] = ()
    jwt_tokens: tuple[JwtToken, ...] = ()


class WindowKind(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


@dataclass(frozen=True)
class SyncWindow:
    kind: WindowKind
    schedule: str  # five-field cron, in `time_zone`
    duration_seconds: float
    duration: str = ""  # as written, for messages
    applications: tuple[str, ...] = ()  # globs; a window with no selector applies to no app
    namespaces: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()
    manual_sync: bool = False
    time_zone: str = "UTC"

    def __str__(self) -> str:
        zone = "" if self.time_zone == "UTC" else f" {self.time_zone}"
        return f'{self.kind} window "{self.schedule}"{zone} for {self.duration}'


@dataclass(frozen=True)
class DestinationServiceAccount:
    cluster: str  # glob over the destination's cluster name
    namespace: str  # glob over the destination namespace
    default_service_account: str  # "namespace:name", or "name" in the destination namespace


@dataclass(frozen=True)
class OrphanIgnore:
    """An `orphanedResources.ignore` entry: globs; an empty kind or name matches any."""

    group: str = ""
    kind: str = ""
    name: str = ""

    def matches(self, group: str, kind: str, name: str) -> bool:
        return (
            globs.matches(self.group, group)
            and (not self.kind or globs.matches(self.kind, kind))
            and (not self.name or globs.matches(self.name, name))
        )


@dataclass(frozen=True)
class OrphanedResources:
    warn: bool = False
    ignore: tuple[OrphanIgnore, ...] = ()


@dataclass(frozen=True)
class ProjectSpec:
    name: str
    description: str = ""
    source_repos: tuple[str, ...] = ()
    destinations: tuple[Destination, ...] = ()
    cluster_resource_whitelist: tuple[GroupKind, ...] = ()
    cluster_resource_blacklist: tuple[GroupKind, ...] = ()
    namespace_resource_whitelist: tuple[GroupKind, ...] = ()
    namespace_resource_blacklist: tuple[GroupKind, ...] = ()
    roles: tuple[Role, ...] = ()
    sync_windows: tuple[SyncWindow, ...] = ()
    destination_service_accounts: tuple[DestinationServiceAccount, ...] = ()
    orphaned_resources: OrphanedResources | None = None

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_PROJECT


def _strings(raw: Any) -> tuple[str, ...]:
    return tuple(str(s) for s in raw or ())


def _group_kinds(raw: Sequence[Mapping[str, Any]] | None) -> tuple[GroupKind, ...]:
    return tuple(GroupKind(str(e.get("group", "")), str(e["kind"])) for e in raw or ())


def _role(raw: Mapping[str, Any]) -> Role:
    tokens = tuple(
        JwtToken(str(t.get("id", "")), int(t.get("iat", 0)), int(t.get("exp", 0) or 0))
        for t in raw.get("jwtTokens") or ()
    )
    return Role(
        name=str(raw["name"]),
        description=str(raw.get("description", "")),
        policies=_strings(raw.get("policies")),
        groups=_strings(raw.get("groups")),
        jwt_tokens=tokens,
    )


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def validate_schedule(schedule: str) -> None:
    """Five cron fields (minute hour day-of-month month day-of-week), as Argo CD accepts."""
    if len(schedule.split()) != 5:
        raise ValueError(f"schedule {schedule!r} must have five fields (m h dom mon dow)")
    try:
        cronsim.CronSim(schedule, dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    except cronsim.CronSimError as exc:
        raise ValueError(f"schedule {schedule!r}: {exc}") from None


def _window(index: int, raw: Mapping[str, Any]) -> SyncWindow:
    try:
        kind = WindowKind(str(raw.get("kind", "")))
        schedule = str(raw["schedule"])
        validate_schedule(schedule)
        duration = str(raw["duration"])
        seconds = parse_duration(duration)
        if seconds <= 0:
            raise ValueError(f"duration {duration!r} must be positive")
        zone = str(raw.get("timeZone") or "UTC")
        _zone(zone)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"syncWindows[{index}]: {exc}") from None
    return SyncWindow(
        kind=kind,
        schedule=schedule,
        duration_seconds=seconds,
        duration=duration,
        applications=_strings(raw.get("applications")),
        namespaces=_strings(raw.get("namespaces")),
        clusters=_strings(raw.get("clusters")),
        manual_sync=bool(raw.get("manualSync", False)),
        time_zone=zone,
    )


def _service_account(index: int, raw: Mapping[str, Any]) -> DestinationServiceAccount:
    account = str(raw.get("defaultServiceAccount", ""))
    if not _SERVICE_ACCOUNT.match(account):
        raise ValueError(
            f"destinationServiceAccounts[{index}]: defaultServiceAccount {account!r} must be "
            "'namespace:name' or 'name'"
        )
    return DestinationServiceAccount(
        str(raw.get("cluster", "*")), str(raw.get("namespace", "*")), account
    )


def _orphaned(raw: Mapping[str, Any]) -> OrphanedResources:
    ignore = tuple(
        OrphanIgnore(str(e.get("group", "")), str(e.get("kind", "")), str(e.get("name", "")))
        for e in raw.get("ignore") or ()
    )
    return OrphanedResources(bool(raw.get("warn", False)), ignore)


def parse(name: str, spec: Mapping[str, Any]) -> ProjectSpec:
    """The Project `name` from its spec; ValueError names the first invalid field."""
    orphaned = spec.get("orphanedResources")
    return ProjectSpec(
        name=name,
        description=str(spec.get("description", "")),
        source_repos=_strings(spec.get("sourceRepos")),
        destinations=tuple(
            Destination(str(d.get("cluster", "")), str(d.get("namespace", "")))
            for d in spec.get("destinations") or ()
        ),
        cluster_resource_whitelist=_group_kinds(spec.get("clusterResourceWhitelist")),
        cluster_resource_blacklist=_group_kinds(spec.get("clusterResourceBlacklist")),
        namespace_resource_whitelist=_group_kinds(spec.get("namespaceResourceWhitelist")),
        namespace_resource_blacklist=_group_kinds(spec.get("namespaceResourceBlacklist")),
        roles=tuple(_role(r) for r in spec.get("roles") or ()),
        sync_windows=tuple(_window(i, w) for i, w in enumerate(spec.get("syncWindows") or ())),
        destination_service_accounts=tuple(
            _service_account(i, a)
            for i, a in enumerate(spec.get("destinationServiceAccounts") or ())
        ),
        orphaned_resources=_orphaned(orphaned) if orphaned is not None else None,
    )


def zone_of(window: SyncWindow) -> ZoneInfo:
    return _zone(window.time_zone)
