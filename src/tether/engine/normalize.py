"""Normalization before comparison: drop what the server owns and what changes on every write.

Both sides of a diff go through here: the live object and the result of a server-side dry-run
apply of the target. The dry run already contains the server's defaults, so what remains after
normalization differs only where applying the target would really change something.
"""

from __future__ import annotations

import copy
from typing import Any

from tether.model.resources import Body

_SERVER_METADATA = (
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",  # set by controllers, never by Git; ours would be visible in the target
)
_SERVER_ANNOTATIONS = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
)


def normalize(obj: Body) -> Body:
    result = copy.deepcopy(obj)
    result.pop("status", None)
    meta: dict[str, Any] = result.get("metadata") or {}
    for field in _SERVER_METADATA:
        meta.pop(field, None)
    annotations = meta.get("annotations")
    if annotations:
        for name in _SERVER_ANNOTATIONS:
            annotations.pop(name, None)
        if not annotations:
            meta.pop("annotations")
    if meta.get("labels") == {}:
        meta.pop("labels")
    return result
