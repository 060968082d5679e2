"""Policy lines: parsing and checking `p` (rule) and `g` (role binding) lines.

Every line is checked before anything is enforced, because a line that is silently skipped can
grant access: a mistyped `deny` that never matches lets through what it was meant to stop. So an
unknown resource or action, a missing effect, an application object without its project, or a
subject pattern (subjects are matched literally) is an error naming the line, never a no-op.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

ANY = "*"


class Resource(StrEnum):
    APPLICATIONS = "applications"
    PROJECTS = "projects"
    CLUSTERS = "clusters"
    REPOSITORIES = "repositories"
    AUDIT = "audit"
    PROMOTIONS = "promotions"


class Action(StrEnum):
    GET = "get"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    SYNC = "sync"
    OVERRIDE = "override"  # sync with local manifests or parameter overrides
    APPROVE = "approve"  # a promotion gate


class Effect(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


# Objects of these resources are "<project>/<name>": they belong to a project, and project roles
# may grant on them. (An audit entry's object is the application it is about.)
PROJECT_SCOPED = frozenset({Resource.APPLICATIONS, Resource.PROMOTIONS, Resource.AUDIT})

# tether's built-in roles, in the same language as the user's policy (Argo CD's two roles).
BUILTIN = "\n".join(
    [
        *(f"p, role:readonly, {r}, get, *, allow" for r in Resource),
        "p, role:admin, *, *, *, allow",
        "g, role:admin, role:readonly",
        # The bootstrapped local account (tether-initial-admin), as in Argo CD's built-in
        # policy: without it the first login could do nothing, not even grant itself rights.
        "g, admin, role:admin",
    ]
)


@dataclass(frozen=True)
class Rule:
    """A `p` line: subject may (allow) or may not (deny) do action to objects matching object."""

    subject: str
    resource: str  # a Resource or "*"
    action: str  # an Action or "*"
    object: str  # a glob: "team-a/*", "*", a cluster name, a repository URL
    effect: Effect

    def fields(self) -> list[str]:
        return [self.subject, self.resource, self.action, self.object, str(self.effect)]


@dataclass(frozen=True)
class Binding:
    """A `g` line: member (a user, group, token role or role) holds role."""

    member: str
    role: str


Line = Rule | Binding


class InvalidLine(ValueError):
    """One line that cannot be used; the message says why."""


@dataclass(frozen=True)
class Problem:
    source: str
    number: int  # 1-based line number in source
    text: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source} line {self.number}: {self.reason}: {self.text.strip()!r}"


class PolicyError(ValueError):
    """A policy with unusable lines; every problem is listed, with its line number."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...] = ()
    bindings: tuple[Binding, ...] = ()


def _fields(text: str) -> list[str]:
    # CSV, so a group name with a comma (an LDAP DN) can be quoted.
    row = next(csv.reader([text], skipinitialspace=True), [])
    return [f.strip() for f in row]


def _check_subject(subject: str) -> None:
    if not subject:
        raise InvalidLine("empty subject")
    if any(c in subject for c in "*?["):
        raise InvalidLine(
            "subjects are names, matched literally (for everyone, use policy.default)"
        )


def _check_choice(value: str, choices: type[StrEnum], what: str) -> None:
    if value != ANY and value not in {str(c) for c in choices}:
        known = ", ".join(str(c) for c in choices)
        raise InvalidLine(f"unknown {what} {value!r} (one of {known} or *)")


def _check_object(resource: str, obj: str) -> None:
    if not obj:
        raise InvalidLine("empty object")
    if resource in PROJECT_SCOPED and obj != ANY and "/" not in obj:
        raise InvalidLine(f"{resource} objects are <project>/<name>, e.g. {obj}/* or */{obj}")


def _rule(fields: list[str]) -> Rule:
    if len(fields) != 6:
        raise InvalidLine("a p line has 6 fields: p, subject, resource, action, object, allow|deny")
    _, subject, resource, action, obj, effect = fields
    _check_subject(subject)
    _check_choice(resource, Resource, "resource")
    _check_choice(action, Action, "action")
    _check_object(resource, obj)
    if effect not in ("allow", "deny"):
        raise InvalidLine(f"effect must be allow or deny, not {effect!r}")
    return Rule(subject, resource, action, obj, Effect(effect))


def _binding(fields: list[str]) -> Binding:
    if len(fields) != 3:
        raise InvalidLine("a g line has 3 fields: g, user-or-group, role")
    _, member, role = fields
    _check_subject(member)
    _check_subject(role)
    return Binding(member, role)


def parse_line(text: str) -> Line:
    """One non-blank, non-comment line; InvalidLine says what is wrong with it."""
    if any(ord(c) < 32 and c != "\t" for c in text):
        raise InvalidLine("control characters (a line break?) inside a line")
    fields = _fields(text)
    kind = fields[0] if fields else ""
    if kind == "p":
        return _rule(fields)
    if kind == "g":
        return _binding(fields)
    raise InvalidLine("a line starts with p (a rule) or g (a role binding)")


def meaningful(text: str) -> bool:
    """Not blank, not a # comment."""
    stripped = text.strip()
    return bool(stripped) and not stripped.startswith("#")


def parse(text: str, source: str = "policy.csv") -> Policy:
    """Every line of a policy; PolicyError lists all unusable lines, so none is skipped."""
    return parse_lines(text.splitlines(), source)


def parse_lines(lines: Iterable[str], source: str) -> Policy:
    """Like parse, for lines given one by one (numbered from 1)."""
    rules: list[Rule] = []
    bindings: list[Binding] = []
    problems: list[Problem] = []
    for number, line in enumerate(lines, start=1):
        if not meaningful(line):
            continue
        try:
            parsed = parse_line(line)
        except InvalidLine as exc:
            problems.append(Problem(source, number, line, str(exc)))
            continue
        if isinstance(parsed, Rule):
            rules.append(parsed)
        else:
            bindings.append(parsed)
    if problems:
        raise PolicyError(problems)
    return Policy(tuple(rules), tuple(bindings))


def format_line(line: Line) -> str:
    """The CSV text of a line (quoted where a field needs it), as parse_line reads it back."""
    fields = ["p", *line.fields()] if isinstance(line, Rule) else ["g", line.member, line.role]
    if not any(c in f for f in fields for c in ',"'):
        return ", ".join(fields)
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()
