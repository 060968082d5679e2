"""What the templates show, computed from API data: pure functions, no I/O.

- `listing`: one page of the applications list (filters, then numbered pages of `PAGE_SIZE`),
  with the choices for the filter menus; a thousand summaries are one pass.
- `nest`: the flat resource tree (nodes naming their parents) as nested branches.
- `explain`: an Application's conditions and last operation in plain words.
- `diff_lines`: a unified diff's lines, classified for colouring.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tether.api import summaries
from tether.api.summaries import Summary

PAGE_SIZE = 50
HEALTH = ("Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown")
SYNC = ("Synced", "OutOfSync", "Unknown")


@dataclass(frozen=True)
class Choices:
    projects: list[str]
    clusters: list[str]
    namespaces: list[str]


@dataclass(frozen=True)
class Listing:
    items: list[Summary]
    total: int  # matching the filters
    page: int  # 1-based
    pages: int
    first: int  # 1-based index of the first item shown (0: none)
    choices: Choices


def choices(apps: Sequence[Summary]) -> Choices:
    return Choices(
        projects=sorted({s["project"] for s in apps}),
        clusters=sorted({s["destination"]["cluster"] for s in apps if s["destination"]["cluster"]}),
        namespaces=sorted(
            {s["destination"]["namespace"] for s in apps if s["destination"]["namespace"]}
        ),
    )


def listing(visible: Sequence[Summary], filters: summaries.Filters, page: int) -> Listing:
    matching = sorted((s for s in visible if filters.matches(s)), key=lambda s: str(s["name"]))
    pages = max(1, -(-len(matching) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    start = (page - 1) * PAGE_SIZE
    items = matching[start : start + PAGE_SIZE]
    return Listing(items, len(matching), page, pages, start + 1 if items else 0, choices(visible))


# ---- resource tree -------------------------------------------------------------------------


@dataclass
class Branch:
    node: dict[str, Any]
    children: list[Branch] = field(default_factory=list)


def nest(nodes: Iterable[Mapping[str, Any]]) -> list[Branch]:
    """Roots (the app's own resources) with their children, by the parents' uids."""
    branches = [Branch(dict(n)) for n in nodes]
    by_uid = {str(b.node.get("uid")): b for b in branches if b.node.get("uid")}
    roots = []
    for branch in branches:
        parents = [by_uid.get(str(p.get("uid"))) for p in branch.node.get("parentRefs") or []]
        found = next((p for p in parents if p is not None), None)
        if found is None:
            roots.append(branch)
        else:
            found.children.append(branch)
    return roots


# ---- conditions in plain words -------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    level: str  # "ok", "info", "warning", "error"
    text: str


_FAILED_PHASES = ("Failed", "Error")


def explain(app: Mapping[str, Any]) -> list[Note]:
    """What a person should know about the app right now, worst first."""
    status = app.get("status") or {}
    notes = [*_operation_notes(app), *_condition_notes(status.get("conditions") or [])]
    order = {"error": 0, "warning": 1, "info": 2, "ok": 3}
    return sorted(notes, key=lambda n: order[n.level])


def _operation_notes(app: Mapping[str, Any]) -> list[Note]:
    state = (app.get("status") or {}).get("operationState") or {}
    phase, message = str(state.get("phase") or ""), str(state.get("message") or "")
    if app.get("operation"):
        return [Note("info", "A sync has been requested; the controller will start it shortly.")]
    if phase in ("Running", "Terminating"):
        return [Note("info", f"A sync is running: {message or 'working'}.")]
    if phase in _FAILED_PHASES:
        return [Note("error", f"The last sync failed: {message or phase}")]
    return []


def _condition_notes(conditions: Iterable[Mapping[str, Any]]) -> list[Note]:
    notes = []
    for c in conditions:
        kind, on = str(c.get("type")), str(c.get("status")) == "True"
        reason, message = str(c.get("reason") or ""), str(c.get("message") or "")
        words = f"{_words(reason)}: {message}" if message else _words(reason)
        if kind == "Ready":
            notes.append(Note("ok", "Ready.") if on else Note("warning", f"Not ready. {words}"))
        elif kind == "Stalled" and on:
            notes.append(
                Note("error", f"Stalled (only a change to the app or its project helps). {words}")
            )
        elif kind == "Reconciling" and on:
            notes.append(Note("info", f"Working on it. {words}"))
        elif on and kind not in ("Stalled", "Reconciling"):
            notes.append(Note("warning", f"{_words(kind)}. {words}"))
    return notes


def _words(camel: str) -> str:
    """`SourceUnavailable` -> `Source unavailable`."""
    out = "".join(f" {ch.lower()}" if ch.isupper() and i else ch for i, ch in enumerate(camel))
    return out[:1].upper() + out[1:]


# ---- diffs ---------------------------------------------------------------------------------


def diff_lines(text: str) -> list[tuple[str, str]]:
    """(css class, line) for each line of a unified diff."""
    out = []
    for line in text.splitlines():
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "ctx"
        out.append((kind, line))
    return out
