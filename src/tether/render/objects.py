"""What counts as a Kubernetes object in rendered output, and how `List` wrappers unfold.

Every document a render returns must be something the API server could accept: a mapping with
`apiVersion`, `kind` and `metadata.name`. Anything else is a mistake in the repository, and
failing loudly beats syncing a partial app and pruning what went missing.

- `metadata.generateName` instead of a name is for hooks only (`engine.hooks` decides what a
  hook is): a hook is created once per sync, but anything else is applied and tracked by name.
- The parts of `metadata` tether itself reads (name, generateName and namespace; annotations and
  labels) must have the shapes the API server would demand (strings; maps of strings), so that
  a mistake is reported here, naming its file and document, and not later as a crash in code
  that trusted them.
- `kind: List` (and `ConfigMapList`-style typed lists) are unwrapped into their items, as kubectl
  and Argo CD do.

Messages name fields and keys, never values: the document may be a Secret.
"""

from __future__ import annotations

import json
from typing import Any

from tether.engine import hooks
from tether.model.resources import Body
from tether.render.errors import InvalidManifest

_STRINGS = ("apiVersion", "kind")
_META_STRINGS = ("name", "generateName", "namespace")
_META_MAPS = ("annotations", "labels")


def expand(document: Any, origin: str, index: int) -> list[Body]:
    """The objects one parsed document stands for: itself, or the items of a List."""
    where = f"document {index}"
    if not isinstance(document, dict):
        raise InvalidManifest(f"{origin}: {where} is a {_shape(document)}, not a Kubernetes object")
    if not _is_list(document):
        return [check(document, origin, where)]
    items = document["items"]
    if items is None:  # `items: null` is an empty list, not an error
        return []
    if not isinstance(items, list):
        raise InvalidManifest(
            f"{origin}: {where}{_kind(document)}: items is a {_shape(items)}, not a sequence"
        )
    return [check(item, origin, f"{where}, item {n}") for n, item in enumerate(items, 1)]


def check(obj: Any, origin: str, where: str) -> Body:
    """`obj` itself if it is a Kubernetes object tether may apply, else InvalidManifest saying
    what is wrong with it."""
    if not isinstance(obj, dict):
        raise InvalidManifest(f"{origin}: {where} is a {_shape(obj)}, not a Kubernetes object")
    problem = _missing(obj) or _misshapen(obj)
    if problem:
        raise InvalidManifest(
            f"{origin}: {where}{_kind(obj)} is not a Kubernetes object: {problem}"
        )
    if not _text(obj["metadata"].get("name")) and not hooks.is_hook(obj):
        raise InvalidManifest(
            f"{origin}: {where}{_kind(obj)} sets generateName but no name; "
            f"only hooks ({hooks.HOOK_ANNOTATION}) may"
        )
    return obj


def _missing(obj: Body) -> str:
    missing = [f for f in _STRINGS if _absent(obj.get(f))]
    meta = obj.get("metadata")
    if _absent(meta):
        missing.append("metadata")
    elif isinstance(meta, dict) and _absent(meta.get("name")) and _absent(meta.get("generateName")):
        missing.append("metadata.name")
    return f"missing {', '.join(missing)}" if missing else ""


def _misshapen(obj: Body) -> str:
    """The first field tether reads that does not have the shape the API server demands."""
    for field in _STRINGS:
        if not isinstance(obj[field], str):
            return f"{field} is a {_shape(obj[field])}, not a string"
    meta = obj["metadata"]
    if not isinstance(meta, dict):
        return f"metadata is a {_shape(meta)}, not a mapping"
    for field in _META_STRINGS:
        if meta.get(field) is not None and not isinstance(meta[field], str):
            return f"metadata.{field} is a {_shape(meta[field])}, not a string"
    for field in _META_MAPS:
        problem = _string_map(meta.get(field), f"metadata.{field}")
        if problem:
            return problem
    return ""


def _string_map(value: Any, name: str) -> str:
    if value is None:  # `annotations:` left empty, as templates often do
        return ""
    if not isinstance(value, dict):
        return f"{name} is a {_shape(value)}, not a mapping of strings"
    key = next((k for k, v in value.items() if not isinstance(v, str)), None)
    return (
        "" if key is None else f"{name}[{json.dumps(key)}] is a {_shape(value[key])}, not a string"
    )


def _is_list(obj: Body) -> bool:
    """Whether `obj` wraps other objects: a kind ending in List, with an `items` field (a kind
    such as Teleport's AccessList without one is an object in its own right)."""
    kind = obj.get("kind")
    return isinstance(kind, str) and kind.endswith("List") and "items" in obj


def _kind(obj: Body) -> str:
    kind = obj.get("kind")
    return f" (kind {kind})" if _text(kind) else ""


def _absent(value: Any) -> bool:
    return value is None or value == ""


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _shape(value: Any) -> str:
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "sequence"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    return "number" if value is not None else "null"
