"""Per-object sync options: the `tether.dev/sync-options` annotation, a comma-separated list of
`Name=value` pairs, as Argo CD's `argocd.argoproj.io/sync-options`.

Every option named here changes what a sync does with that one object; the app-level options
(`spec.syncPolicy.syncOptions`, `model.app.SyncOptions`) apply to all of them. An unknown name or
value is an error at render time, not a silently ignored line: a typo in `Prune=flase` must not
prune what its author meant to protect.

| option                              | effect on this object                                     |
|-------------------------------------|-----------------------------------------------------------|
| `Prune=false`                       | never pruned; released from the inventory instead          |
| `Delete=false`                      | left in place when the Application is deleted (cascade)    |
| `PruneLast=true`                    | pruned after the PostSync hooks, with the PruneLast stage  |
| `Replace=true`                      | written whole (create / replace) instead of applied        |
| `Validate=false`                    | written whole with unknown fields dropped, not refused     |
| `SkipDryRunOnMissingResource=true`  | no dry run while its kind is not served yet (a CRD that    |
|                                     | another app or an operator installs)                       |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from tether.model import flags
from tether.model.resources import ResourceKey, annotations_of

ANNOTATION = "tether.dev/sync-options"


class OptionError(ValueError):
    """An annotation tether cannot read; the message names the object and the option."""


@dataclass(frozen=True)
class ResourceOptions:
    prune: bool = True
    delete: bool = True
    prune_last: bool = False
    replace: bool = False
    validate: bool = True
    skip_dry_run_on_missing_resource: bool = False


_NAMES = {
    "Prune": "prune",
    "Delete": "delete",
    "PruneLast": "prune_last",
    "Replace": "replace",
    "Validate": "validate",
    "SkipDryRunOnMissingResource": "skip_dry_run_on_missing_resource",
}
assert set(_NAMES.values()) == {f.name for f in fields(ResourceOptions)}


def parse(obj: Mapping[str, Any]) -> ResourceOptions:
    """The object's options; OptionError for an unknown option or a value that is not a bool."""
    entries = annotations_of(obj).get(ANNOTATION, "").split(",")
    try:
        return ResourceOptions(**flags.parse(entries, _NAMES, f"{ANNOTATION} entry"))
    except ValueError as exc:
        raise OptionError(f"{ResourceKey.of(obj)}: {exc}") from None


def prune_allowed(obj: Mapping[str, Any]) -> bool:
    """Whether pruning may delete the object (an unreadable annotation protects it)."""
    try:
        return parse(obj).prune
    except OptionError:
        return False


def delete_allowed(obj: Mapping[str, Any]) -> bool:
    """Whether deleting the app may delete the object (an unreadable annotation protects it)."""
    try:
        return parse(obj).delete
    except OptionError:
        return False
