"""The list generator: each of `elements` (and of the YAML list in `elementsYaml`) is one set.

In goTemplate mode an element is its own parameter set, nested values and all; `elementsYaml`,
a string (usually templated from a matrix sibling, `{{ .components | toJson }}`), adds its
objects after `elements`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tether.generators import documents
from tether.generators.elements import Context, Element, numbered
from tether.generators.errors import InvalidSpec


def generate(body: Mapping[str, Any], where: str, ctx: Context) -> list[Element]:
    raw = body.get("elements") or []
    if not isinstance(raw, list):
        raise InvalidSpec(f"{where}.elements: must be a list of objects")
    sets: list[dict[str, Any]] = []
    for i, element in enumerate(raw):
        if not isinstance(element, Mapping):
            raise InvalidSpec(f"{where}.elements[{i}]: must be an object")
        sets.append(dict(element))
    if text := body.get("elementsYaml"):
        if not isinstance(text, str):
            raise InvalidSpec(f"{where}.elementsYaml: must be a string")
        origin = f"{where}.elementsYaml"
        data = documents.load(text, origin, ctx.limits.documents)
        if not isinstance(data, list):
            raise InvalidSpec(f"{origin}: must be a YAML list of objects")
        sets.extend(documents.objects(data, origin))
    return numbered(where, sets, ctx)
