"""ignoreDifferences: fields left out of the comparison, and kept as live has them on sync.

Rules select objects by group/kind (and optionally name/namespace) and fields by JSON pointer,
jq path expression or owning field manager. Each rule is resolved against one concrete object
into paths (see `paths`), because jq expressions and list keys depend on the object's content.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import jq

from tether.engine import fieldsets, paths
from tether.model.app import IgnoreDifference
from tether.model.resources import Body, ResourceKey


class IgnoreRuleError(ValueError):
    pass


@lru_cache(maxsize=512)
def _jq_paths_program(expression: str) -> Any:
    try:
        # `?` keeps a missing branch (e.g. iterating a null list) from failing the whole rule.
        return jq.compile(f"[path(({expression})?)]")
    except ValueError as exc:
        raise IgnoreRuleError(f"invalid jqPathExpression {expression!r}: {exc}") from None


def _jq_paths(obj: Body, expression: str) -> list[paths.Path]:
    try:
        found = _jq_paths_program(expression).input_value(obj).first()
    except ValueError:
        return []
    return [tuple(p) for p in found or [] if p]


def rules_for(rules: Iterable[IgnoreDifference], key: ResourceKey) -> list[IgnoreDifference]:
    return [r for r in rules if r.matches(key.group, key.kind, key.namespace, key.name)]


def ignored_paths(
    obj: Body, rules: Iterable[IgnoreDifference], owner_source: Body | None = None
) -> list[paths.Path]:
    """Concrete paths of `obj` the rules ignore. Manager ownership is read from `owner_source`
    (the live object: only it has the managedFields that say who owns what)."""
    found: list[paths.Path] = []
    for rule in rules:
        found.extend(paths.from_pointer(p) for p in rule.json_pointers)
        for expression in rule.jq_path_expressions:
            found.extend(_jq_paths(obj, expression))
        if rule.managed_fields_managers and owner_source is not None:
            owned = fieldsets.owned_paths(owner_source, rule.managed_fields_managers)
            found.extend(p for p in owned if paths.exists(obj, p))
    return [p for p in found if p]


def strip(obj: Body, rules: Iterable[IgnoreDifference], owner_source: Body | None = None) -> Body:
    """A copy of `obj` without the ignored fields."""
    rules = list(rules)
    result = copy.deepcopy(obj)
    paths.remove_all(result, ignored_paths(result, rules, owner_source))
    return result


def respect(target: Body, live: Body, rules: Iterable[IgnoreDifference]) -> Body:
    """RespectIgnoreDifferences: the target with every ignored field set as live has it, so a
    sync never overwrites a field the user asked tether to leave alone."""
    rules = list(rules)
    result = copy.deepcopy(target)
    live_paths = ignored_paths(live, rules, live)
    paths.remove_all(result, ignored_paths(result, rules, live))
    for path in live_paths:
        if paths.exists(live, path):
            paths.put(result, path, copy.deepcopy(paths.get(live, path)))
    return result
