"""Timestamps as Kubernetes writes them in status fields: RFC 3339, UTC, whole seconds."""

from __future__ import annotations

import datetime as dt

FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime(FORMAT)


def parse(text: str) -> dt.datetime | None:
    """The moment `text` names, or None if it is empty or not a timestamp."""
    if not text:
        return None
    try:
        return dt.datetime.strptime(text, FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        return None
