"""Hooks: objects that run at a point of a sync (before, during, after, on failure).

A manifest annotated `tether.dev/hook` is not part of the app's steady state: it is created when
its phase comes, awaited (Jobs and Pods must finish), and deleted according to its delete policy.

Each creation is one *run*: this operation, this attempt (a retry runs its hooks again), this
phase (a hook may be listed for several). The run is written on the object, so a resumed operation
recognises the hook it already created and never creates it twice, while a hook left by an
earlier run counts as a previous object (replaced under `BeforeHookCreation`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from tether.model.resources import Body, annotations_of

HOOK_ANNOTATION = "tether.dev/hook"
DELETE_POLICY_ANNOTATION = "tether.dev/hook-delete-policy"
OPERATION_ANNOTATION = "tether.dev/operation-id"
RUN_ANNOTATION = "tether.dev/hook-run"  # "<phase>/<attempt>" within the operation


class HookType(StrEnum):
    PRE_SYNC = "PreSync"
    SYNC = "Sync"
    POST_SYNC = "PostSync"
    SYNC_FAIL = "SyncFail"


class DeletePolicy(StrEnum):
    BEFORE_HOOK_CREATION = "BeforeHookCreation"
    HOOK_SUCCEEDED = "HookSucceeded"
    HOOK_FAILED = "HookFailed"


class HookError(ValueError):
    pass


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def hook_types(obj: Mapping[str, Any]) -> tuple[HookType, ...]:
    """The hook phases an object runs in; empty for ordinary objects."""
    value = annotations_of(obj).get(HOOK_ANNOTATION, "")
    try:
        return tuple(HookType(v) for v in _csv(value))
    except ValueError:
        raise HookError(
            f"invalid {HOOK_ANNOTATION} {value!r}: use PreSync, Sync, PostSync or SyncFail"
        ) from None


def is_hook(obj: Mapping[str, Any]) -> bool:
    return bool(annotations_of(obj).get(HOOK_ANNOTATION))


def delete_policies(obj: Mapping[str, Any]) -> frozenset[DeletePolicy]:
    value = annotations_of(obj).get(DELETE_POLICY_ANNOTATION, "")
    try:
        policies = frozenset(DeletePolicy(v) for v in _csv(value))
    except ValueError:
        raise HookError(
            f"invalid {DELETE_POLICY_ANNOTATION} {value!r}: "
            "use BeforeHookCreation, HookSucceeded or HookFailed"
        ) from None
    return policies or frozenset({DeletePolicy.BEFORE_HOOK_CREATION})


def run_id(phase: HookType, attempt: int) -> str:
    return f"{phase}/{attempt}"


def concrete_name(obj: Mapping[str, Any], operation_id: str, run: str) -> str:
    """A hook's name; `generateName` hooks get a suffix fixed by the operation and the run, so a
    resumed operation finds the hook it already created instead of creating a second one."""
    meta = obj.get("metadata") or {}
    if meta.get("name"):
        return str(meta["name"])
    digest = hashlib.sha256(f"{operation_id}/{run}".encode()).hexdigest()[:5]
    return f"{meta.get('generateName', 'hook-')}{digest}"


def manifest(obj: Mapping[str, Any], operation_id: str, run: str) -> Body:
    """The object to create for one run of the hook: concretely named, marked with the run."""
    meta = dict(obj.get("metadata") or {})
    meta.pop("generateName", None)
    meta["name"] = concrete_name(obj, operation_id, run)
    meta["annotations"] = {
        **(meta.get("annotations") or {}),
        OPERATION_ANNOTATION: operation_id,
        RUN_ANNOTATION: run,
    }
    return {**obj, "metadata": meta}


def created_by(live: Mapping[str, Any], operation_id: str, run: str) -> bool:
    """Whether a live hook object is the one this very run created."""
    annotations = annotations_of(live)
    return annotations.get(OPERATION_ANNOTATION) == operation_id and (
        annotations.get(RUN_ANNOTATION, run) == run  # objects from before runs were recorded
    )
