"""Secret values never leave the engine: every Secret is masked before it is diffed or shown.

Each value becomes a fixed mask. Where live and target differ for a key, the target side gets a
distinct "changed" mask, so a diff still says *that* a value changes without saying *what* it is.
The last-applied annotation (which embeds the data) is dropped from Secrets.
"""

from __future__ import annotations

import copy
from typing import Any

from tether.model.resources import Body

MASK = "++++++++"
CHANGED_MASK = "++++++++ (changed)"
_DATA_FIELDS = ("data", "stringData")
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def is_secret(obj: Body | None) -> bool:
    return bool(obj) and obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"  # type: ignore[union-attr]


def _values(obj: Body | None) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for field in _DATA_FIELDS:
        merged.update((obj or {}).get(field) or {})
    return merged


def _mask_one(obj: Body, other_values: dict[str, Any] | None, is_target: bool) -> Body:
    masked = copy.deepcopy(obj)
    annotations = (masked.get("metadata") or {}).get("annotations") or {}
    annotations.pop(_LAST_APPLIED, None)
    for field in _DATA_FIELDS:
        values = masked.get(field)
        if not values:
            continue
        for key, value in values.items():
            changed = is_target and other_values is not None and other_values.get(key) != value
            values[key] = CHANGED_MASK if changed else MASK
    return masked


def mask_pair(live: Body | None, target: Body | None) -> tuple[Body | None, Body | None]:
    """Masked copies of a live/target pair (non-Secrets are returned unchanged)."""
    if not (is_secret(live) or is_secret(target)):
        return live, target
    live_values = _values(live) if live is not None else None
    masked_live = _mask_one(live, None, False) if live is not None else None
    masked_target = _mask_one(target, live_values, True) if target is not None else None
    return masked_live, masked_target


def mask(obj: Body) -> Body:
    """A masked copy of one object (for showing a single live or target manifest)."""
    return _mask_one(obj, None, False) if is_secret(obj) else obj
