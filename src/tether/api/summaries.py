"""Application summaries (what lists and the stream show) and server-side list filters.

A summary is the handful of fields a list needs, taken from the Application as stored: no
comparison, no Git. Filters and paging work on summaries, so one list of a thousand apps is one
pass over the watch cache. Paging is by name (keyset): `continue` is an opaque token holding the
last name returned, so a page never repeats or skips an app while others are added.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tether.api.problems import Problem

Summary = dict[str, Any]


def _source(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    sources = spec.get("sources") or []
    source = spec.get("source") or (sources[0] if sources and isinstance(sources, list) else {})
    return source if isinstance(source, Mapping) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def summary(body: Mapping[str, Any]) -> Summary:
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    source = _source(spec)
    destination = spec.get("destination") or {}
    sync, health = status.get("sync") or {}, status.get("health") or {}
    operation = status.get("operationState") or {}
    return {
        "name": _str(meta.get("name")),
        "namespace": _str(meta.get("namespace")),
        "project": _str(spec.get("project")) or "default",
        "repoURL": _str(source.get("repoURL")),
        "path": _str(source.get("path")),
        "targetRevision": _str(source.get("targetRevision")),
        "destination": {
            "cluster": _str(destination.get("cluster")),
            "namespace": _str(destination.get("namespace")),
        },
        "sync": _str(sync.get("status")) or "Unknown",
        "health": _str(health.get("status")) or "Unknown",
        "healthMessage": _str(health.get("message")),
        "revision": _str(sync.get("revision")),
        "operation": "Requested" if body.get("operation") else _str(operation.get("phase")),
        "operationMessage": _str(operation.get("message")),
        "labels": {str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
        "resourceVersion": _str(meta.get("resourceVersion")),
    }


def app_object(s: Summary) -> str:
    """How RBAC names an application: `<project>/<name>`."""
    return f"{s['project']}/{s['name']}"


# ---- label selectors ---------------------------------------------------------------------

_REQUIREMENT = re.compile(
    r"^\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9][-A-Za-z0-9_./]*)\s*"
    r"(?:(?P<op>==|!=|=|\s+notin\s+|\s+in\s+)\s*(?P<value>\([^)]*\)|[-A-Za-z0-9_.]*))?\s*$"
)


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "exists", "!exists", "=", "!=", "in", "notin"
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        return {
            "exists": value is not None,
            "!exists": value is None,
            "=": value in self.values,
            "in": value in self.values,
            "!=": value not in self.values,
            "notin": value not in self.values,
        }[self.op]


def _split(selector: str) -> list[str]:
    """Split on commas outside parentheses (`env in (a,b),tier=web`)."""
    parts, depth, current = [], 0, ""
    for char in selector:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def parse_selector(selector: str) -> tuple[Requirement, ...]:
    """Kubernetes label selector syntax: `a=b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`."""
    found = []
    for part in _split(selector):
        if not part.strip():
            continue
        match = _REQUIREMENT.match(part)
        if match is None or (match["neg"] and match["op"]):
            raise Problem(400, f"invalid label selector {selector!r}", "bad-request")
        found.append(_requirement(match))
    return tuple(found)


def _requirement(match: re.Match[str]) -> Requirement:
    op = (match["op"] or "").strip()
    if not op:
        return Requirement(match["key"], "!exists" if match["neg"] else "exists")
    raw = match["value"] or ""
    is_set = raw.startswith("(")
    if is_set != (op in ("in", "notin")):
        raise Problem(400, f"invalid label selector requirement {match.group(0)!r}", "bad-request")
    values = frozenset(v.strip() for v in raw.strip("()").split(",")) if is_set else {raw}
    return Requirement(match["key"], {"==": "="}.get(op, op), frozenset(values))


# ---- filters and pages -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Filters:
    project: tuple[str, ...] = ()
    cluster: str = ""
    namespace: str = ""  # the destination namespace
    health: tuple[str, ...] = ()
    sync: tuple[str, ...] = ()
    selector: tuple[Requirement, ...] = ()
    search: str = ""

    def matches(self, s: Summary) -> bool:
        return (
            (not self.project or s["project"] in self.project)
            and (not self.cluster or s["destination"]["cluster"] == self.cluster)
            and (not self.namespace or s["destination"]["namespace"] == self.namespace)
            and (not self.health or s["health"] in self.health)
            and (not self.sync or s["sync"] in self.sync)
            and all(r.matches(s["labels"]) for r in self.selector)
            and self._searched(s)
        )

    def _searched(self, s: Summary) -> bool:
        needle = self.search.lower()
        return not needle or any(needle in s[f].lower() for f in ("name", "repoURL", "path"))


def encode_continue(last_name: str) -> str:
    raw = json.dumps({"after": last_name}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str) -> str:
    try:
        padded = token + "=" * (-len(token) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise Problem(
            400, "invalid `continue` token; start the list again", "bad-request"
        ) from None
    if not isinstance(value, str):
        raise Problem(400, "invalid `continue` token; start the list again", "bad-request")
    return value


def page(
    items: Iterable[Summary],
    limit: int,
    after: str,
    visible: Callable[[list[Summary]], list[Summary]] = list,
) -> tuple[list[Summary], str]:
    """Up to `limit` summaries (sorted by name) after `after` that `visible` keeps, and the
    token for the rest. `visible` (RBAC, the costly part) sees only as many as the page needs,
    a chunk at a time, so a page of 500 asks about ~500 apps, not about all of them."""
    ordered = iter(sorted((s for s in items if s["name"] > after), key=lambda s: str(s["name"])))
    chosen: list[Summary] = []
    while len(chosen) <= limit:
        chunk = list(itertools.islice(ordered, limit + 1 - len(chosen)))
        if not chunk:
            break
        chosen.extend(visible(chunk))
    more = len(chosen) > limit
    chosen = chosen[:limit]
    return chosen, encode_continue(chosen[-1]["name"]) if more and chosen else ""
