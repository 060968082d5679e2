"""Sync windows: when a Project lets its apps sync, with Argo CD's semantics.

A window opens each time its cron schedule fires (in its time zone) and stays open for its
duration. Only windows whose `applications`, `namespaces` or `clusters` globs match the app apply
to it (a window with no selector applies to no app). Of those:

- an active deny window blocks syncing; a manual sync passes only if every active deny window
  has `manualSync: true`;
- otherwise, if allow windows apply, syncing is allowed only while one is active (a manual sync
  also passes when an inactive allow window has `manualSync: true`);
- otherwise syncing is allowed.

The clock is always an argument (an aware datetime), so every rule is tested with a fake one.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import cronsim

from tether.policy import globs
from tether.policy.projectspecs import ProjectSpec, SyncWindow, WindowKind, zone_of

_JUST_AFTER = dt.timedelta(microseconds=1)


class WindowVerdict(NamedTuple):
    allowed: bool
    reason: str


def applies(window: SyncWindow, app_name: str, namespace: str, cluster: str) -> bool:
    return (
        any(globs.matches(p, app_name) for p in window.applications)
        or any(globs.matches(p, namespace) for p in window.namespaces)
        or any(globs.matches(p, cluster) for p in window.clusters)
    )


def _length(window: SyncWindow) -> dt.timedelta:
    return dt.timedelta(seconds=window.duration_seconds)


def _next_fire(window: SyncWindow, after: dt.datetime) -> dt.datetime:
    """The first time the schedule fires strictly after `after`, in UTC."""
    fired = next(cronsim.CronSim(window.schedule, after.astimezone(zone_of(window))))
    return fired.astimezone(dt.UTC)


def _last_fire(window: SyncWindow, at: dt.datetime) -> dt.datetime:
    """The last time the schedule fired at or before `at`, in UTC."""
    start = (at + _JUST_AFTER).astimezone(zone_of(window))
    return next(cronsim.CronSim(window.schedule, start, reverse=True)).astimezone(dt.UTC)


def is_active(window: SyncWindow, now: dt.datetime) -> bool:
    """Whether an occurrence covers `now`: it fired in (now - duration, now]. Arithmetic is in
    UTC, so a window's length is real time even across a daylight-saving change."""
    return _next_fire(window, now - _length(window)) <= now


def _closes(window: SyncWindow, now: dt.datetime) -> dt.datetime | None:
    """When the occurrence covering `now` ends (unless the schedule fires again before)."""
    end = _last_fire(window, now) + _length(window)
    return end if end > now else None


def _applying(
    project: ProjectSpec, app_name: str, namespace: str, cluster: str
) -> list[SyncWindow]:
    return [w for w in project.sync_windows if applies(w, app_name, namespace, cluster)]


def _deny_verdict(project: ProjectSpec, denies: list[SyncWindow], manual: bool) -> WindowVerdict:
    if manual and all(w.manual_sync for w in denies):
        return WindowVerdict(
            True, f"{denies[0]} of project {project.name} is active but allows manual syncs"
        )
    blocking = next((w for w in denies if not w.manual_sync), denies[0]) if manual else denies[0]
    reason = f"{blocking} of project {project.name} is active"
    if manual:
        reason += " and does not allow manual syncs (manualSync is false)"
    return WindowVerdict(False, reason)


def window_verdict(
    project: ProjectSpec,
    app_name: str,
    namespace: str,
    cluster: str,
    now: dt.datetime,
    manual: bool,
) -> WindowVerdict:
    """Whether the app may sync at `now`, and why (a sentence naming the deciding window)."""
    windows = _applying(project, app_name, namespace, cluster)
    if not windows:
        return WindowVerdict(True, "no sync window applies")
    active = [w for w in windows if is_active(w, now)]
    denies = [w for w in active if w.kind is WindowKind.DENY]
    if denies:
        return _deny_verdict(project, denies, manual)
    allow = next((w for w in active if w.kind is WindowKind.ALLOW), None)
    if allow is not None:
        return WindowVerdict(True, f"{allow} of project {project.name} is active")
    allows = [w for w in windows if w.kind is WindowKind.ALLOW]
    if not allows:
        return WindowVerdict(True, "no sync window is active")
    manual_allow = next((w for w in allows if w.manual_sync), None)
    if manual and manual_allow is not None:
        return WindowVerdict(
            True, f"{manual_allow} of project {project.name} is closed but allows manual syncs"
        )
    names = ", ".join(str(w) for w in allows)
    return WindowVerdict(False, f"no allow window of project {project.name} is active ({names})")


def next_change(
    project: ProjectSpec, app_name: str, namespace: str, cluster: str, now: dt.datetime
) -> dt.datetime | None:
    """The first moment after `now` at which a window that applies opens or closes."""
    moments: list[dt.datetime] = []
    for window in _applying(project, app_name, namespace, cluster):
        moments.append(_next_fire(window, now))
        closes = _closes(window, now)
        if closes is not None:
            moments.append(closes)
    return min(moments, default=None)


def reopens_at(
    project: ProjectSpec,
    app_name: str,
    namespace: str,
    cluster: str,
    now: dt.datetime,
    manual: bool,
    max_steps: int = 500,
) -> dt.datetime | None:
    """The first moment after `now` at which syncing is allowed; None if it is not within
    `max_steps` window changes (e.g. a deny window that fires again before it closes)."""
    at = now
    for _ in range(max_steps):
        found = next_change(project, app_name, namespace, cluster, at)
        if found is None:
            return None
        at = found
        if window_verdict(project, app_name, namespace, cluster, at, manual).allowed:
            return at
    return None
