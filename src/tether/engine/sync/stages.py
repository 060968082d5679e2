"""The stages of a sync, in the order they run.

Namespaces and CRDs go first (everything else may need them), then PreSync hooks, the Sync phase
(ordinary objects and Sync hooks), pruning, PostSync hooks, and pruning marked PruneLast. SyncFail
hooks run only after a failure, outside this order.
"""

from __future__ import annotations

from enum import StrEnum

from tether.engine.hooks import HookType


class Stage(StrEnum):
    PREREQUISITES = "Prerequisites"
    PRE_SYNC = "PreSync"
    SYNC = "Sync"
    PRUNE = "Prune"
    POST_SYNC = "PostSync"
    PRUNE_LAST = "PruneLast"
    SYNC_FAIL = "SyncFail"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    @property
    def prunes(self) -> bool:
        return self in (Stage.PRUNE, Stage.PRUNE_LAST)


_ORDER = list(Stage)

HOOK_STAGE = {
    HookType.PRE_SYNC: Stage.PRE_SYNC,
    HookType.SYNC: Stage.SYNC,
    HookType.POST_SYNC: Stage.POST_SYNC,
    HookType.SYNC_FAIL: Stage.SYNC_FAIL,
}
