"""Semantic versions and range constraints, for `targetRevision: ">=1.2.0 <2.0.0"` over Git tags.

Argo CD and Flux both pick tags with the Masterminds/semver rules, so tether follows them and a
constraint keeps its meaning when an Application moves over:

- comparators are ANDed by commas or spaces and ORed by `||`; `A - B` is an inclusive range;
- `1.2.x`, `1.2.*` and `1.2` mean `>=1.2.0 <1.3.0`; `*` means any release;
- `~1.2.3` allows patch updates (`<1.3.0`), `^1.2.3` minor ones (`<2.0.0`), and below 1.0.0 the
  caret narrows to the first non-zero part (`^0.2.3` is `<0.3.0`, `^0.0.3` is `<0.0.4`);
- a pre-release version (`1.3.0-rc.1`) is only admitted by an AND-group in which some comparator
  names a pre-release itself, so `>=1.0.0` never jumps to a release candidate.

Tags may carry a `v` prefix and must be full `MAJOR.MINOR.PATCH` versions to be considered.
Pure: no I/O, so it is tested exhaustively with hypothesis.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

_IDENT = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_VERSION_RE = re.compile(
    rf"^[vV]?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-({_IDENT}))?(?:\+({_IDENT}))?$"
)
_PART = r"\d+|[xX*]"
_PARTIAL_RE = re.compile(
    rf"^[vV]?(?P<x>{_PART})(?:\.(?P<y>{_PART})(?:\.(?P<z>{_PART}))?)?"
    rf"(?:-(?P<pre>{_IDENT}))?(?:\+{_IDENT})?$"
)
_COMPARATOR_RE = re.compile(r"\s*(?P<op>!=|>=|<=|=>|=<|~>|>|<|=|~|\^)?\s*(?P<ver>[^\s,|]+)\s*,?")
_HYPHEN_RE = re.compile(r"(?P<lo>[^\s,|]+)\s+-\s+(?P<hi>[^\s,|]+)")
_WILDCARDS = frozenset("xX*")


# (major, minor, patch, 1 for a release / 0 for a pre-release, pre-release identifiers); numeric
# identifiers sort before alphanumeric ones, so an int is never compared with a str.
Key = tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: str = ""  # ignored when comparing, as the semver spec says

    def __str__(self) -> str:
        pre = f"-{'.'.join(self.prerelease)}" if self.prerelease else ""
        build = f"+{self.build}" if self.build else ""
        return f"{self.major}.{self.minor}.{self.patch}{pre}{build}"

    def key(self) -> Key:
        """Sort key with semver precedence: a release sorts after its own pre-releases."""
        pre = tuple((0, int(p)) if p.isdigit() else (1, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, pre)


def parse_version(text: str) -> Version | None:
    """A full version, optionally `v`-prefixed; None for anything else (branches, `v1.2`)."""
    match = _VERSION_RE.match(text)
    if match is None:
        return None
    major, minor, patch, pre, build = match.groups()
    return Version(
        int(major), int(minor), int(patch), tuple(pre.split(".")) if pre else (), build or ""
    )


class Op(StrEnum):
    EQ = "=="
    NE = "!="
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="


_COMPARE: dict[Op, Callable[[Key, Key], bool]] = {
    Op.EQ: lambda a, b: a == b,
    Op.NE: lambda a, b: a != b,
    Op.GT: lambda a, b: a > b,
    Op.GE: lambda a, b: a >= b,
    Op.LT: lambda a, b: a < b,
    Op.LE: lambda a, b: a <= b,
}


@dataclass(frozen=True)
class Bound:
    op: Op
    version: Version

    def admits(self, version: Version) -> bool:
        return _COMPARE[self.op](version.key(), self.version.key())


@dataclass(frozen=True)
class Group:
    """Comparators that must all hold; `prerelease` says whether one of them named a pre-release."""

    bounds: tuple[Bound, ...]
    prerelease: bool

    def admits(self, version: Version) -> bool:
        if version.prerelease and not self.prerelease:
            return False
        return all(b.admits(version) for b in self.bounds)


@dataclass(frozen=True)
class Constraint:
    text: str
    groups: tuple[Group, ...]

    def admits(self, version: Version) -> bool:
        return any(g.admits(version) for g in self.groups)


@dataclass(frozen=True)
class _Partial:
    """A version with some trailing parts left open: `1.2.x` has level 2 (major and minor set)."""

    level: int  # how many of major, minor, patch are given: 0 (`*`) .. 3 (full)
    lower: Version  # the smallest version it covers

    def upper(self) -> Version | None:
        """The smallest version above everything it covers; None when nothing is."""
        v = self.lower
        if self.level == 1:
            return Version(v.major + 1, 0, 0)
        if self.level == 2:
            return Version(v.major, v.minor + 1, 0)
        return None


def _parse_partial(text: str) -> _Partial:
    match = _PARTIAL_RE.match(text)
    if match is None:
        raise ValueError(f"not a version: {text!r}")
    parts = [match["x"], match["y"], match["z"]]
    level = next((i for i, p in enumerate(parts) if p is None or p in _WILDCARDS), 3)
    if any(p is not None and p not in _WILDCARDS for p in parts[level:]):
        raise ValueError(f"a wildcard must not be followed by a number: {text!r}")
    if match["pre"] and level < 3:
        raise ValueError(f"a pre-release needs a full version: {text!r}")
    numbers = [int(p) if i < level else 0 for i, p in enumerate(parts)]
    pre = tuple(match["pre"].split(".")) if match["pre"] else ()
    return _Partial(level, Version(numbers[0], numbers[1], numbers[2], pre))


def _range(p: _Partial) -> tuple[Bound, ...]:
    upper = p.upper()
    if p.level == 0:
        return ()
    if upper is None:
        return (Bound(Op.EQ, p.lower),)
    return (Bound(Op.GE, p.lower), Bound(Op.LT, upper))


def _tilde(p: _Partial) -> tuple[Bound, ...]:
    if p.level == 0:
        return ()
    v = p.lower
    upper = Version(v.major + 1, 0, 0) if p.level == 1 else Version(v.major, v.minor + 1, 0)
    return (Bound(Op.GE, v), Bound(Op.LT, upper))


def _caret(p: _Partial) -> tuple[Bound, ...]:
    if p.level == 0:
        return ()
    v = p.lower
    if v.major > 0 or p.level == 1:
        upper = Version(v.major + 1, 0, 0)
    elif v.minor > 0 or p.level == 2:
        upper = Version(0, v.minor + 1, 0)
    else:
        upper = Version(0, 0, v.patch + 1)
    return (Bound(Op.GE, v), Bound(Op.LT, upper))


def _open_ended(op: Op, p: _Partial, text: str) -> tuple[Bound, ...]:
    upper = p.upper()
    if p.level == 0:
        if op in (Op.GE, Op.LE):
            return ()
        raise ValueError(f"{op}{text} can match nothing")
    if upper is None:
        return (Bound(op, p.lower),)
    if op == Op.GT:  # above every 1.2.x
        return (Bound(Op.GE, upper),)
    if op == Op.LE:  # up to and including every 1.2.x
        return (Bound(Op.LT, upper),)
    if op == Op.NE:
        raise ValueError(f"!= needs a full version: {text!r}")
    return (Bound(op, p.lower),)


_ALIASES = {"=>": ">=", "=<": "<=", "~>": "~", "=": ""}


def _comparator(op: str, partial: _Partial, text: str) -> tuple[Bound, ...]:
    op = _ALIASES.get(op, op)
    if op == "":
        return _range(partial)
    if op == "~":
        return _tilde(partial)
    if op == "^":
        return _caret(partial)
    return _open_ended(Op(op), partial, text)


def _group(text: str) -> Group:
    text = _HYPHEN_RE.sub(lambda m: f">={m['lo']} <={m['hi']}", text.strip())
    if not text:
        raise ValueError("empty constraint")
    bounds: list[Bound] = []
    prerelease, pos = False, 0
    while pos < len(text):
        match = _COMPARATOR_RE.match(text, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"cannot parse {text[pos:]!r}")
        partial = _parse_partial(match["ver"])
        bounds.extend(_comparator(match["op"] or "", partial, match["ver"]))
        prerelease = prerelease or bool(partial.lower.prerelease)
        pos = match.end()
    return Group(tuple(bounds), prerelease)


def parse_constraint(text: str) -> Constraint:
    """Parse a constraint; ValueError names what could not be read."""
    return Constraint(text, tuple(_group(part) for part in text.split("||")))


def is_constraint(text: str) -> bool:
    try:
        parse_constraint(text)
    except ValueError:
        return False
    return True


def highest(constraint: Constraint, tags: Iterable[str]) -> str | None:
    """The tag with the highest version the constraint admits; a tie goes to the first name."""
    best: tuple[Key, str] | None = None
    for tag in sorted(tags):
        version = parse_version(tag)
        if version is None or not constraint.admits(version):
            continue
        if best is None or version.key() > best[0]:
            best = (version.key(), tag)
    return None if best is None else best[1]
