"""Kubernetes label selectors (`matchLabels`, `matchExpressions`), matched against string maps.

Two generator features select with them: the clusters generator (against a cluster Secret's
labels) and the post-selector every generator takes (`selector`, against the flattened
parameters). Both follow `metav1.LabelSelector`: the requirements are ANDed, an empty selector
matches everything, `In`/`NotIn` need values and `Exists`/`DoesNotExist` take none; `NotIn`
and `DoesNotExist` match a map without the key. Values are compared as strings, without the
syntax rules label values have: Argo CD's post-selector matches cluster URLs too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tether.generators.errors import InvalidSpec


class Operator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: Operator
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator is Operator.IN:
            return present and labels[self.key] in self.values
        if self.operator is Operator.NOT_IN:
            return not present or labels[self.key] not in self.values
        if self.operator is Operator.EXISTS:
            return present
        return not present


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)


def parse(raw: Any, where: str) -> Selector:
    """A selector from its spec; InvalidSpec naming `where` if it is malformed."""
    if raw is None:
        return Selector()
    if not isinstance(raw, Mapping):
        raise InvalidSpec(f"{where}: a selector must be a mapping")
    unknown = set(raw) - {"matchLabels", "matchExpressions"}
    if unknown:
        raise InvalidSpec(f"{where}: unknown selector field {sorted(unknown)[0]!r}")
    labels = raw.get("matchLabels") or {}
    if not isinstance(labels, Mapping):
        raise InvalidSpec(f"{where}.matchLabels: must be a mapping of strings")
    requirements = [
        Requirement(str(k), Operator.IN, frozenset({_string(v, f"{where}.matchLabels")}))
        for k, v in labels.items()
    ]
    expressions = raw.get("matchExpressions") or []
    if not isinstance(expressions, list):
        raise InvalidSpec(f"{where}.matchExpressions: must be a list")
    for i, expression in enumerate(expressions):
        requirements.append(_expression(expression, f"{where}.matchExpressions[{i}]"))
    return Selector(tuple(requirements))


def _expression(raw: Any, where: str) -> Requirement:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("key"), str) or not raw["key"]:
        raise InvalidSpec(f"{where}: needs a key")
    try:
        operator = Operator(str(raw.get("operator")))
    except ValueError:
        raise InvalidSpec(
            f"{where}: operator must be one of {', '.join(o.value for o in Operator)}"
        ) from None
    values = raw.get("values") or []
    if not isinstance(values, list):
        raise InvalidSpec(f"{where}.values: must be a list of strings")
    wants_values = operator in (Operator.IN, Operator.NOT_IN)
    if wants_values != bool(values):
        need = "needs values" if wants_values else "takes no values"
        raise InvalidSpec(f"{where}: {operator.value} {need}")
    return Requirement(
        raw["key"], operator, frozenset(_string(v, f"{where}.values") for v in values)
    )


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidSpec(f"{where}: values must be strings")
    return value
