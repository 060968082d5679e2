"""What counts as a Kubernetes object in rendered output, and how `List` wrappers unfold.

Every document a render returns must be something the API server could accept: a mapping with
`apiVersion`, `kind` and `metadata.name` (or `metadata.generateName`, which hooks use). Anything
else is a mistake in the repository, and failing loudly beats syncing a partial app and pruning
what went missing. `kind: List` (and `ConfigMapList`-style typed lists) are unwrapped into their
items, as kubectl and Argo CD do.
"""

from __future__ import annotations

from typing import Any

from tether.model.resources import Body
from tether.render.errors import InvalidManifest


def expand(document: Any, origin: str, index: int) -> list[Body]:
    """The objects one parsed document stands for: itself, or the items of a List."""
    where = f"document {index}"
    if not isinstance(document, dict):
        raise InvalidManifest(f"{origin}: {where} is a {_shape(document)}, not a Kubernetes object")
    if not _is_list(document):
        return [check(document, origin, where)]
    items = document.get("items") or []  # `items: null` is an empty list, not an error
    return [check(item, origin, f"{where}, item {n}") for n, item in enumerate(items, 1)]


def check(obj: Any, origin: str, where: str) -> Body:
    """`obj` itself if it is a Kubernetes object, else InvalidManifest saying what is missing."""
    if not isinstance(obj, dict):
        raise InvalidManifest(f"{origin}: {where} is a {_shape(obj)}, not a Kubernetes object")
    missing = _missing_fields(obj)
    if missing:
        kind = obj.get("kind")
        what = f" (kind {kind})" if isinstance(kind, str) and kind else ""
        raise InvalidManifest(
            f"{origin}: {where}{what} is not a Kubernetes object: missing {', '.join(missing)}"
        )
    return obj


def _missing_fields(obj: Body) -> list[str]:
    missing = [f for f in ("apiVersion", "kind") if not _text(obj.get(f))]
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        missing.append("metadata")
    elif not (_text(meta.get("name")) or _text(meta.get("generateName"))):
        missing.append("metadata.name")
    return missing


def _is_list(obj: Body) -> bool:
    kind = obj.get("kind")
    items = obj.get("items")
    return (
        isinstance(kind, str)
        and kind.endswith("List")
        and (items is None or isinstance(items, list))
    )


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _shape(value: Any) -> str:
    if isinstance(value, list):
        return "sequence"
    if isinstance(value, str):
        return "string"
    return "scalar" if value is not None else "null"
