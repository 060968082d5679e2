"""Applications from parameter sets: the template filled in, the templatePatch merged, checked.

The template a generator's sets use is the spec's `template` under the generator's own
(`fill`: the generator's fields win, empty ones are taken from the spec's). Each string of it is
a template (`templating`). `templatePatch`, a string, is one template per set whose output is
YAML or JSON merged into the Application as Kubernetes merges a strategic merge patch into a
type without merge keys, which Argo CD's Application is: maps merge, lists and scalars replace,
null deletes; `metadata.finalizers` is the one list that merges (by value). It may not set
`spec.project` (Argo CD does not support that either: the project is what admission checks).

An Application needs a name that is a DNS subdomain, string labels and annotations, and a
spec; anything else is an error naming the set it came from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tether.generators import documents, templating
from tether.generators.elements import Context, Element
from tether.generators.errors import InvalidSpec
from tether.generators.params import clone
from tether.generators.templating import Compiled

API_VERSION = "tether.dev/v1alpha1"
KIND = "Application"
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_METADATA = frozenset({"name", "namespace", "labels", "annotations", "finalizers"})


@dataclass(frozen=True, kw_only=True)
class GeneratedApplication:
    """One Application a set makes, and the element that made it."""

    name: str
    namespace: str = ""  # "" unless the template sets one
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    finalizers: tuple[str, ...] = ()
    spec: Mapping[str, Any] = field(default_factory=dict)
    origin: str = ""  # "spec.generators[0].list element 2"

    def manifest(self) -> dict[str, Any]:
        """The Application object (without the owner reference and set label a controller adds)."""
        metadata: dict[str, Any] = {"name": self.name}
        if self.namespace:
            metadata["namespace"] = self.namespace
        for key, value in (("labels", self.labels), ("annotations", self.annotations)):
            if value:
                metadata[key] = dict(value)
        if self.finalizers:
            metadata["finalizers"] = list(self.finalizers)
        return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": self.spec}


def render(
    found: Sequence[Element],
    template: Mapping[str, Any],
    patch: str | None,
    ctx: Context,
) -> list[GeneratedApplication]:
    """The Applications of one generator's sets, in order."""
    compiled = [Compiled.of(dict(template), "")]
    if patch is not None:
        compiled.append(Compiled.of(patch, "templatePatch"))
    pairs = [(e.params, e.where) for e in found]
    filled = templating.render_trees(compiled, pairs, ctx.options, ctx.templater)
    patches: dict[str, Any] = {}  # rendered patch text -> parsed; sets often render the same
    apps = []
    for element, trees in zip(found, filled, strict=True):
        body = trees[0]
        if patch is not None:
            body = _patched(body, trees[1], element.where, ctx, patches)
        apps.append(_application(body, element.where))
    return apps


def _patched(
    body: dict[str, Any], text: str, where: str, ctx: Context, parsed: dict[str, Any]
) -> dict[str, Any]:
    origin = f"{where}: templatePatch"
    if text not in parsed:
        parsed[text] = documents.load(text, origin, ctx.limits.documents) if text.strip() else None
    loaded = clone(parsed[text])
    if loaded is None:
        return body
    if not isinstance(loaded, dict):
        raise InvalidSpec(f"{origin}: must evaluate to a YAML or JSON object")
    spec = loaded.get("spec")
    if isinstance(spec, Mapping) and "project" in spec:
        raise InvalidSpec(f"{origin}: may not set spec.project; set it in the template")
    merged: dict[str, Any] = merge_patch(body, loaded)
    _merge_finalizers(merged, body, loaded)
    return merged


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: maps merge, null deletes, everything else replaces."""
    if not isinstance(patch, Mapping):
        return patch
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _merge_finalizers(merged: dict[str, Any], body: Mapping[str, Any], patch: Any) -> None:
    before = (body.get("metadata") or {}).get("finalizers")
    added = (patch.get("metadata") or {}).get("finalizers") if isinstance(patch, Mapping) else None
    if isinstance(before, list) and isinstance(added, list):
        merged.setdefault("metadata", {})["finalizers"] = before + [
            f for f in added if f not in before
        ]


def _application(body: Any, where: str) -> GeneratedApplication:
    if not isinstance(body, Mapping):
        raise InvalidSpec(f"{where}: the template must be a mapping")
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise InvalidSpec(f"{where}: metadata must be a mapping")
    if unknown := sorted(set(metadata) - _METADATA):
        raise InvalidSpec(f"{where}: metadata.{unknown[0]} cannot be templated")
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidSpec(f"{where}: metadata.name is empty")
    if len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        raise InvalidSpec(f"{where}: metadata.name {name!r} is not a valid Application name")
    spec = body.get("spec")
    if not isinstance(spec, Mapping) or not spec:
        raise InvalidSpec(f"{where}: spec is empty")
    return GeneratedApplication(
        name=name,
        namespace=_string(metadata.get("namespace") or "", f"{where}: metadata.namespace"),
        labels=_strings(metadata.get("labels"), f"{where}: metadata.labels"),
        annotations=_strings(metadata.get("annotations"), f"{where}: metadata.annotations"),
        finalizers=tuple(_list_of_strings(metadata.get("finalizers"), f"{where}: finalizers")),
        spec=dict(spec),
        origin=where,
    )


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidSpec(f"{where} must be a string")
    return value


def _strings(value: Any, where: str) -> dict[str, str]:
    if not value:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidSpec(f"{where} must map strings to strings")
    return dict(value)


def _list_of_strings(value: Any, where: str) -> list[str]:
    if not value:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidSpec(f"{where} must be a list of strings")
    return list(value)
