"""Comparing what applying the target would produce with what is live, object by object.

Input per object: the live object (or None) and the server-side dry-run result of applying the
target (or None when the object left the render). Output: an action and a unified YAML diff of
normalized, ignore-filtered, secret-masked bodies. Nothing unmasked ever leaves this module.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

import yaml

from tether.engine import ignore, masking
from tether.engine.normalize import normalize
from tether.model.app import IgnoreDifference
from tether.model.resources import Body, ResourceKey


class DiffAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    PRUNE = "prune"
    NONE = "none"


@dataclass(frozen=True)
class ObjectDiff:
    key: ResourceKey
    version: str
    action: DiffAction
    live: Body | None  # normalized and masked (read-only: shares values with the inputs)
    target: Body | None  # normalized and masked

    @property
    def changed(self) -> bool:
        return self.action is not DiffAction.NONE

    @cached_property
    def text(self) -> str:
        """The unified YAML diff, made on first use: the controller rarely needs it, and
        dumping every created object as YAML cost more than the comparison itself."""
        return unified(self.key, self.live, self.target) if self.changed else ""


def _dump(obj: Body | None) -> list[str]:
    if obj is None:
        return []
    text = yaml.dump(obj, Dumper=yaml.CSafeDumper, sort_keys=True, default_flow_style=False)
    return text.splitlines(keepends=True)


def unified(key: ResourceKey, live: Body | None, target: Body | None) -> str:
    lines = difflib.unified_diff(_dump(live), _dump(target), f"live/{key}", f"target/{key}", n=3)
    return "".join(lines)


def compare(
    key: ResourceKey,
    live: Body | None,
    predicted: Body | None,
    rules: Iterable[IgnoreDifference] = (),
) -> ObjectDiff:
    """Diff one object. `predicted` is the dry-run result (None: the object is to be pruned)."""
    applicable = ignore.rules_for(rules, key)
    norm_live = _prepared(live, applicable, live)
    norm_target = _prepared(predicted, applicable, live)
    if norm_target is None:
        action = DiffAction.PRUNE
    elif norm_live is None:
        action = DiffAction.CREATE
    else:
        action = DiffAction.NONE if norm_live == norm_target else DiffAction.UPDATE
    masked_live, masked_target = masking.mask_pair(norm_live, norm_target)
    version = str((predicted or live or {}).get("apiVersion", ""))
    return ObjectDiff(key, version, action, masked_live, masked_target)


def _prepared(obj: Body | None, rules: list[IgnoreDifference], live: Body | None) -> Body | None:
    if obj is None:
        return None
    normalized = normalize(obj)
    return ignore.strip(normalized, rules, live) if rules else normalized
