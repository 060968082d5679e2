"""Reading server-side apply's managedFields (fieldsV1) as concrete paths into an object.

`managedFieldsManagers` in ignoreDifferences means "whatever these managers own is theirs": we
resolve each manager's field set against the object and ignore exactly those paths.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from tether.engine.paths import Path


def owned_paths(obj: Mapping[str, Any], managers: Iterable[str]) -> list[Path]:
    wanted = set(managers)
    paths: list[Path] = []
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") in wanted and entry.get("fieldsType", "FieldsV1") == "FieldsV1":
            paths.extend(_walk(entry.get("fieldsV1") or {}, obj, ()))
    return paths


def _walk(fields: Mapping[str, Any], node: Any, prefix: Path) -> list[Path]:
    found: list[Path] = []
    for token, children in fields.items():
        if token == ".":
            found.append(prefix)  # the node itself is owned
            continue
        for step, child in _resolve(token, node):
            path = (*prefix, step)
            if children:
                found.extend(_walk(children, child, path))
            else:
                found.append(path)
    return found


def _resolve(token: str, node: Any) -> list[tuple[str | int, Any]]:
    kind, _, rest = token.partition(":")
    if kind == "f" and isinstance(node, dict) and rest in node:
        return [(rest, node[rest])]
    if kind in ("k", "v") and isinstance(node, list):
        wanted = json.loads(rest)
        return [(i, item) for i, item in enumerate(node) if _matches(item, wanted, kind)]
    if kind == "i" and isinstance(node, list) and rest.isdigit() and int(rest) < len(node):
        return [(int(rest), node[int(rest)])]
    return []


def _matches(item: Any, wanted: Any, kind: str) -> bool:
    if kind == "v":
        return bool(item == wanted)
    return isinstance(item, dict) and all(item.get(k) == v for k, v in wanted.items())
