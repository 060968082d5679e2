"""Custom health rules: CEL expressions that say when a kind is healthy, for kinds tether does not
know, or to replace a built-in check.

A rule names a group and kind and up to four boolean expressions over the live object, bound as
`object`. They are tried in the order degraded, suspended, progressing, healthy (worst first, so a
rule never reports Healthy while its degraded expression holds); the first that is true decides.
If none is, the object is Progressing: it has not yet shown that it is healthy. An optional
`message` expression produces the result's message.

Before any expression runs, the object must have been observed by its controller: a
`status.observedGeneration` that differs from `metadata.generation` is Progressing, since the
status the expressions read describes another spec (kstatus's rule). For kinds whose controllers
always write it (Deployment, ReplicaSet, StatefulSet, DaemonSet, Application), a missing one is
Progressing too, as in their built-in checks; the caller says which (generations.Tracking).

Rules compile when they are created. A rule that does not compile, or whose evaluation fails
(a missing field: guard with `has(object.status)` or `object.?status.?phase.orValue('')`),
reports Unknown with an error naming the rule and the expression; it never raises.

Configuration (YAML) is a list of rules:

    - group: example.com
      kind: Widget
      healthy: "object.status.phase == 'Ready'"
      degraded: "object.status.phase == 'Failed'"
      message: "object.status.?message.orValue('')"
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from tether.engine.health import expressions, generations
from tether.engine.health.expressions import Expression, ExpressionError, Returns
from tether.engine.health.generations import Tracking
from tether.model.health import HealthResult, HealthStatus
from tether.model.resources import Body

OUTCOMES = (
    ("degraded", HealthStatus.DEGRADED),
    ("suspended", HealthStatus.SUSPENDED),
    ("progressing", HealthStatus.PROGRESSING),
    ("healthy", HealthStatus.HEALTHY),
)
CONFIG_KEYS = frozenset({"group", "kind", "message", *(name for name, _ in OUTCOMES)})


@dataclass(frozen=True)
class _Program:
    """A rule's compiled expressions, or the compile error that replaces them."""

    outcomes: tuple[tuple[str, HealthStatus, Expression], ...] = ()
    message: Expression | None = None
    error: str | None = None


@dataclass(frozen=True)
class CustomHealthRule:
    """One kind's health as CEL expressions over `object`; compiled once, at creation."""

    group: str
    kind: str
    healthy: str = ""
    progressing: str = ""
    degraded: str = ""
    suspended: str = ""
    message: str = ""
    _program: _Program = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_program", self._compile())

    def __deepcopy__(self, _memo: dict[int, Any]) -> CustomHealthRule:
        return self  # immutable; and compiled CEL programs cannot be copied

    @property
    def name(self) -> str:
        """'Widget.example.com', or 'Pod' for the core group, as kubectl spells kinds."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def error(self) -> str | None:
        """The compile error, if any: lets configuration be validated before it is used."""
        return self._program.error

    def assess(self, obj: Body, tracking: Tracking = Tracking.WHEN_PRESENT) -> HealthResult:
        program = self._program
        if program.error is not None:  # a broken rule says so even while the object lags
            return HealthResult(HealthStatus.UNKNOWN, program.error)
        lagging = generations.lagging(obj, tracking)
        if lagging is not None:
            return lagging
        try:
            return self._evaluate(program, self._bind(obj))
        except _RuleError as err:
            return HealthResult(HealthStatus.UNKNOWN, str(err))

    def _compile(self) -> _Program:
        try:
            outcomes = tuple(
                (name, status, self._compiled(name, Returns.BOOL))
                for name, status in OUTCOMES
                if getattr(self, name)
            )
            message = self._compiled("message", Returns.STRING) if self.message else None
        except _RuleError as err:
            return _Program(error=str(err))
        return _Program(outcomes, message)

    def _compiled(self, name: str, returns: Returns) -> Expression:
        try:
            return expressions.compile_expression(getattr(self, name), returns)
        except ExpressionError as err:
            raise self._failure(name, err) from None

    def _evaluate(self, program: _Program, bindings: expressions.Bindings) -> HealthResult:
        status = next(
            (s for name, s, expr in program.outcomes if self._run(name, expr, bindings) is True),
            HealthStatus.PROGRESSING,
        )
        message = self._run("message", program.message, bindings) if program.message else ""
        return HealthResult(status, str(message))

    def _bind(self, obj: Body) -> expressions.Bindings:
        try:
            return expressions.bind(obj)
        except ExpressionError as err:
            raise _RuleError(f"health rule for {self.name}: {err}") from None

    def _run(self, name: str, expr: Expression, bindings: expressions.Bindings) -> bool | str:
        try:
            return expressions.evaluate(expr, bindings)
        except ExpressionError as err:
            raise self._failure(name, err) from None

    def _failure(self, name: str, err: ExpressionError) -> _RuleError:
        return _RuleError(f"health rule for {self.name}: `{name}` expression {err}")


class _RuleError(Exception):
    """A rule's compile or evaluation failure, already worded for the user."""


@dataclass(frozen=True)
class HealthRules:
    """Custom rules, at most one per (group, kind); a rule replaces the built-in check."""

    rules: tuple[CustomHealthRule, ...] = ()
    _by_kind: Mapping[tuple[str, str], CustomHealthRule] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        by_kind: dict[tuple[str, str], CustomHealthRule] = {}
        for rule in self.rules:
            if (rule.group, rule.kind) in by_kind:
                raise ValueError(f"two health rules for {rule.name}; keep one")
            by_kind[(rule.group, rule.kind)] = rule
        object.__setattr__(self, "_by_kind", MappingProxyType(by_kind))

    def __deepcopy__(self, _memo: dict[int, Any]) -> HealthRules:
        return self  # immutable, like the rules it holds

    @classmethod
    def from_config(cls, data: list[dict[str, Any]]) -> HealthRules:
        """Rules from configuration; raises ValueError naming the entry that is malformed."""
        return cls(tuple(_rule_from_config(index, entry) for index, entry in enumerate(data)))

    def get(self, group: str, kind: str) -> CustomHealthRule | None:
        return self._by_kind.get((group, kind))

    @property
    def errors(self) -> tuple[str, ...]:
        return tuple(rule.error for rule in self.rules if rule.error is not None)

    def __iter__(self) -> Iterator[CustomHealthRule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)


def _rule_from_config(index: int, entry: Any) -> CustomHealthRule:
    where = f"health rule #{index + 1}"
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: expected a mapping with group, kind and expressions")
    unknown = sorted(set(entry) - CONFIG_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown keys {', '.join(map(str, unknown))}")
    if not all(isinstance(value, str) for value in entry.values()):
        raise ValueError(f"{where}: every value must be a string")
    if not entry.get("kind"):
        raise ValueError(f"{where}: `kind` is required")
    if not any(entry.get(name) for name, _ in OUTCOMES):
        raise ValueError(
            f"{where}: needs at least one of healthy, progressing, degraded, suspended"
        )
    return CustomHealthRule(**{"group": "", **entry})  # no group: the core API group
