"""Tracking ids: the annotation that ties a live object to the Application that applied it.

An object is owned by an app only when its annotation names that app *and* the object's own
group/kind/namespace/name. A copy of a tracked object (same annotation, other name) is therefore
never adopted or pruned by mistake.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tether.model.resources import Body, ResourceKey, annotations_of

ANNOTATION = "tether.dev/tracking-id"


@dataclass(frozen=True, order=True)
class AppRef:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


def tracking_id(app: AppRef, key: ResourceKey) -> str:
    return f"{app.namespace}_{app.name}:{key.group}/{key.kind}:{key.namespace}/{key.name}"


def parse(value: str) -> tuple[AppRef, ResourceKey] | None:
    try:
        app_part, gk, nn = value.split(":", 2)
        app_ns, app_name = app_part.split("_", 1)
        group, kind = gk.split("/", 1)
        namespace, name = nn.split("/", 1)
    except ValueError:
        return None
    return AppRef(app_ns, app_name), ResourceKey(group, kind, namespace, name)


def owner(obj: Mapping[str, Any]) -> AppRef | None:
    """The app an object claims to belong to, if its annotation is well-formed and about itself."""
    value = annotations_of(obj).get(ANNOTATION)
    parsed = parse(value) if value else None
    if parsed is None or parsed[1] != ResourceKey.of(obj):
        return None
    return parsed[0]


def is_owned_by(obj: Mapping[str, Any], app: AppRef) -> bool:
    return owner(obj) == app


def with_tracking(manifest: Body, app: AppRef) -> Body:
    """A copy of `manifest` carrying the tracking annotation for `app`."""
    tracked = copy.deepcopy(manifest)
    meta = tracked.setdefault("metadata", {})
    annotations = meta.get("annotations") or {}
    annotations[ANNOTATION] = tracking_id(app, ResourceKey.of(tracked))
    meta["annotations"] = annotations
    return tracked
