"""Asking the audit trail: filters, pages and relative times ("the last hour").

Filters are values so the CLI, the API and tests say the same thing the same way. Paging is by
keyset (entries older than the last id seen), so a page never shifts while entries are added.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from tether.audit.entries import Entry, Result

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_RELATIVE = re.compile(r"^(\d+)([smhdw])$")


@dataclass(frozen=True, kw_only=True)
class Filter:
    """Entries matching all of these; empty fields match everything."""

    actor: str = ""  # exact actor name
    action: str = ""  # a glob: "app.*", "login*"
    object: str = ""  # a glob: "team-a/*"
    project: str = ""
    result: Result | None = None
    since: dt.datetime | None = None  # inclusive
    until: dt.datetime | None = None  # exclusive


def filter_of(
    *,
    actor: str = "",
    action: str = "",
    obj: str = "",
    project: str = "",
    result: Result | str | None = None,
    since: str = "",
    until: str = "",
) -> Filter:
    """A Filter from what a person types (`since`/`until` as in `parse_when`); ValueError or
    OverflowError for text that is not a time or a result."""
    now = dt.datetime.now(dt.UTC)
    return Filter(
        actor=actor,
        action=action,
        object=obj,
        project=project,
        result=Result(result) if result else None,
        since=parse_when(since, now) if since else None,
        until=parse_when(until, now) if until else None,
    )


@dataclass(frozen=True)
class Page:
    entries: tuple[Entry, ...]  # newest first
    next_before: int | None  # pass as `before` for the next (older) page; None: no more


def parse_when(text: str, now: dt.datetime) -> dt.datetime:
    """'90s', '30m', '1h', '2d', '1w' ago, or an ISO 8601 time (UTC unless it says otherwise)."""
    relative = _RELATIVE.match(text.strip())
    if relative:
        return now - dt.timedelta(seconds=int(relative.group(1)) * _UNITS[relative.group(2)])
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a time: {text!r} (use 30m, 1h, 2d or 2026-01-31T12:00)") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
