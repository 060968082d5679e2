"""Per-object results of a sync: what each task came to, as `status.operationState.resources`.

Results are written here only: from the outcome of an action the executor carried out, or from a
decision that needed no write at all (unchanged, Prune=false, a shared object refused). They are
keyed by (object, stage), so a hook that runs in two phases has two.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from tether.engine.operation import OperationState, ResourceResult, ResultAction, ResultStatus
from tether.engine.sync.actions import (
    Apply,
    CreateHook,
    CreateNamespace,
    DeleteHook,
    HookDeletion,
    Outcome,
    Prune,
)
from tether.engine.sync.plans import ApplyTask, Group, HookTask, Plan, PruneTask, Task
from tether.model.changes import Action as ChangeAction


def _result(task: Task, status: ResultStatus, message: str, action: ResultAction) -> ResourceResult:
    hook_type = str(task.hook) if isinstance(task, HookTask) else ""
    return ResourceResult(
        task.key, task.version, status, message, task.stage, task.wave, action, hook_type
    )


def unchanged(task: ApplyTask) -> ResourceResult:
    return _result(task, ResultStatus.SYNCED, "unchanged", ResultAction.UNCHANGED)


def shared(task: ApplyTask) -> ResourceResult:
    message = f"shared with application {task.shared_with}"
    return _result(task, ResultStatus.SYNC_FAILED, message, ResultAction.FAILED)


def prune_skipped(task: PruneTask) -> ResourceResult:
    return _result(task, ResultStatus.PRUNE_SKIPPED, "Prune=false", ResultAction.SKIPPED)


def hook_found(task: HookTask) -> ResourceResult:
    """The hook object of this very run exists already (created before a crash)."""
    message = "already created by this operation"
    return _result(task, ResultStatus.RUNNING, message, ResultAction.CREATED)


def hook_blocked(task: HookTask) -> ResourceResult:
    message = (
        "an object of that name from an earlier run exists and the hook's delete policy "
        "does not include BeforeHookCreation"
    )
    return _result(task, ResultStatus.FAILED, message, ResultAction.FAILED)


def hook_finished(result: ResourceResult, succeeded: bool, why: str = "") -> ResourceResult:
    status = ResultStatus.SUCCEEDED if succeeded else ResultStatus.FAILED
    message = "succeeded" if succeeded else "failed" + (f": {why}" if why else "")
    return replace(result, status=status, message=message)


def preview(task: Task) -> ResourceResult:
    """What a dry run reports for a task."""
    if isinstance(task, PruneTask):
        action = ResultAction.SKIPPED if task.protected else ResultAction.WOULD_PRUNE
    elif isinstance(task, ApplyTask):
        action = task.preview
    else:
        action = ResultAction.WOULD_CREATE
    return _result(task, ResultStatus.SYNCED, str(action), action)


def _written(task: Task, outcome: Outcome) -> ResourceResult:
    change = outcome.change
    if not outcome.ok:
        failed = ResultStatus.FAILED if isinstance(task, HookTask) else ResultStatus.SYNC_FAILED
        return _result(task, failed, change.message, ResultAction.FAILED)
    if isinstance(task, PruneTask):
        return _result(task, ResultStatus.PRUNED, "pruned", ResultAction.DELETED)
    if isinstance(task, HookTask):
        return _result(task, ResultStatus.RUNNING, "created", ResultAction.CREATED)
    action = (
        ResultAction.CREATED if change.action is ChangeAction.CREATED else ResultAction.CONFIGURED
    )
    return _result(task, ResultStatus.SYNCED, str(action), action)


def _hook_deleted(result: ResourceResult, outcome: Outcome) -> ResourceResult:
    if outcome.ok:
        return replace(result, message=f"{result.message} and deleted", action=ResultAction.DELETED)
    # Done trying: the hook's own result stands, and the group must not wait on the deletion.
    message = f"{result.message}; deleting it failed: {outcome.change.message}"
    return replace(result, message=message, action=ResultAction.SKIPPED)


def record(
    state: OperationState, plan: Plan, outcomes: Iterable[Outcome]
) -> tuple[OperationState, str]:
    """`state` with the outcomes folded into its results, and why the operation cannot go on
    ("" if it can): the destination namespace could not be created."""
    blocker = ""
    for outcome in outcomes:
        action = outcome.action
        if isinstance(action, CreateNamespace):
            if not outcome.ok:
                blocker = f"cannot create namespace {action.name}: {outcome.change.message}"
            continue
        task = plan.find(action.stage, action.key)
        if task is None:
            continue  # not part of this plan (cannot happen within one step)
        if isinstance(action, Apply | Prune | CreateHook):
            state = state.with_result(_written(task, outcome))
        elif isinstance(action, DeleteHook):
            state = _deleted(state, task, action, outcome)
    return state, blocker


def _deleted(
    state: OperationState, task: Task, action: DeleteHook, outcome: Outcome
) -> OperationState:
    if action.why is HookDeletion.BEFORE_CREATION:
        if outcome.ok:
            return state  # the next observation shows the name free, and the hook is created
        message = f"cannot delete the object of an earlier run: {outcome.change.message}"
        return state.with_result(_result(task, ResultStatus.FAILED, message, ResultAction.FAILED))
    current = state.result_for(task.key, task.stage)
    if current is None or action.why is HookDeletion.TERMINATED:
        return state
    return state.with_result(_hook_deleted(current, outcome))


def without(results: Iterable[ResourceResult], group: Group) -> tuple[ResourceResult, ...]:
    """Results minus those of `group`'s tasks: a group entered again (a retry) starts afresh."""
    ids = {(t.key, t.stage) for t in group.tasks}
    return tuple(r for r in results if (r.key, r.stage) not in ids)
