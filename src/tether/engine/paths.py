"""Concrete paths into a JSON document (lists of keys and indices) and the edits diff needs.

Every ignore rule (JSON pointer, jq expression, managed-fields manager) is first resolved against
a concrete object into such paths; then one set of small functions reads, copies or removes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Path = tuple[str | int, ...]
_MISSING = object()


def from_pointer(pointer: str) -> Path:
    """RFC 6901: '/spec/template/metadata/labels/app.kubernetes.io~1name' -> ('spec', ...)."""
    if pointer in ("", "/"):
        return ()
    if not pointer.startswith("/"):
        raise ValueError(f"JSON pointer must start with '/': {pointer!r}")
    parts = pointer[1:].split("/")
    return tuple(p.replace("~1", "/").replace("~0", "~") for p in parts)


def _step(node: Any, part: str | int) -> Any:
    if isinstance(node, dict):
        return (
            node.get(str(part), _MISSING) if not isinstance(part, int) else node.get(part, _MISSING)
        )
    if isinstance(node, list):
        index = part if isinstance(part, int) else (int(part) if str(part).isdigit() else -1)
        return node[index] if 0 <= index < len(node) else _MISSING
    return _MISSING


def get(doc: Any, path: Path) -> Any:
    """The value at `path`, or the module's _MISSING sentinel (test with `exists`)."""
    node = doc
    for part in path:
        node = _step(node, part)
        if node is _MISSING:
            return _MISSING
    return node


def exists(doc: Any, path: Path) -> bool:
    return get(doc, path) is not _MISSING


def remove(doc: Any, path: Path) -> None:
    if not path:
        return
    parent = get(doc, path[:-1])
    last = path[-1]
    if isinstance(parent, dict):
        parent.pop(last, None)
    elif isinstance(parent, list):
        index = last if isinstance(last, int) else int(last) if str(last).isdigit() else -1
        if 0 <= index < len(parent):
            del parent[index]


def remove_all(doc: Any, paths: Iterable[Path]) -> None:
    """Remove several paths; list indices are removed from the highest down so none shifts."""
    for path in sorted(set(paths), key=_removal_order, reverse=True):
        remove(doc, path)


def _removal_order(path: Path) -> tuple[tuple[int, str], ...]:
    return tuple((p, "") if isinstance(p, int) else (-1, str(p)) for p in path)


def put(doc: Any, path: Path, value: Any) -> None:
    """Set `value` at `path`, creating intermediate maps (lists must already exist)."""
    node = doc
    for part in path[:-1]:
        nxt = _step(node, part)
        if nxt is _MISSING:
            if not isinstance(node, dict):
                return
            nxt = node[part] = {}
        node = nxt
    last = path[-1]
    settable_index = isinstance(node, list) and isinstance(last, int) and 0 <= last < len(node)
    if isinstance(node, dict) or settable_index:
        node[last] = value
