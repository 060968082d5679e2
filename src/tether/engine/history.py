"""Sync history: one entry per successful sync, newest last, trimmed to revisionHistoryLimit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def append(
    history: Sequence[Mapping[str, Any]], entry: Mapping[str, Any], limit: int
) -> list[dict[str, Any]]:
    next_id = max((int(h.get("id", 0)) for h in history), default=-1) + 1
    entries = [dict(h) for h in history] + [{"id": next_id, **entry}]
    return entries[-limit:] if limit > 0 else []


def find(history: Sequence[Mapping[str, Any]], entry_id: int) -> Mapping[str, Any] | None:
    return next((h for h in history if int(h.get("id", -1)) == entry_id), None)
