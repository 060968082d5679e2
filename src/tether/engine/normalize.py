"""Normalization before comparison: drop what the server owns and what changes on every write.

Both sides of a diff go through here: the live object and the result of a server-side dry-run
apply of the target. The dry run already contains the server's defaults, so what remains after
normalization differs only where applying the target would really change something.
"""

from __future__ import annotations

from typing import Any

from tether.model.resources import Body

_SERVER_METADATA = frozenset(
    (
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
)
_SERVER_ANNOTATIONS = frozenset(
    (
        "kubectl.kubernetes.io/last-applied-configuration",
        "deployment.kubernetes.io/revision",
    )
)


def normalize(obj: Body) -> Body:
    """A normalized view of `obj`. Only the top level, metadata and annotations are copied (the
    only levels changed here); deeper values are shared with `obj`, so treat it as read-only.
    Deep-copying every object on every comparison was the controller's biggest CPU cost."""
    result = {k: v for k, v in obj.items() if k != "status"}
    meta: dict[str, Any] = {
        k: v for k, v in (result.get("metadata") or {}).items() if k not in _SERVER_METADATA
    }
    annotations = {
        k: v for k, v in (meta.get("annotations") or {}).items() if k not in _SERVER_ANNOTATIONS
    }
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    if meta.get("labels") == {}:
        meta.pop("labels")
    result["metadata"] = meta
    return result
