"""The step machine: `advance(state, plan, observations) -> Decision(state, actions)`.

One call decides as far as it can without an effect; the executor carries out the actions, observes
what `watched` names, and calls again, until a decision ends in `Wait` or `Finish`. Everything that
makes a sync resumable is decided here, with state only in `OperationState`:

- **Groups in order.** A group is entered (`applying`), every task gets an action or a result
  that needs none, and once all have results it is `applied`; then it is judged (`completion`):
  hooks finished, nothing failed, objects healthy when another group follows. Then the next.
- **Step boundaries.** The state is persisted before a group with hooks creates anything and
  once its results are in, so a hook is never created twice: a resumed operation re-applies the
  group it was in (applies are idempotent) and recognises its own hook objects by their run. It
  is also persisted whenever the operation waits, so status says what it waits for.
- **Failure** runs the SyncFail hooks, then retries with backoff (`retries`) or fails.
- **Terminate** (phase `Terminating`, written by a person) deletes running hooks and fails the
  operation at the next decision.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from tether.engine import hooks
from tether.engine.operation import (
    GroupStatus,
    OperationPhase,
    OperationState,
    ResourceResult,
    ResultStatus,
)
from tether.engine.sync import completion, records, retries
from tether.engine.sync.actions import (
    Action,
    ClusterAction,
    CreateHook,
    CreateNamespace,
    Decision,
    DeleteHook,
    HookDeletion,
    Observations,
    Prune,
    Wait,
    Watch,
)
from tether.engine.sync.actions import (
    Apply as ApplyAction,
)
from tether.engine.sync.plans import (
    ApplyTask,
    Group,
    HookTask,
    Plan,
    PruneTask,
    Task,
    Unplanned,
    sort_key,
)
from tether.engine.sync.stages import Stage
from tether.model.resources import ResourceKey

POLL = dt.timedelta(seconds=1)
SUCCEEDED = "successfully synced (all tasks run)"
DRY_RUN = "dry run: nothing was changed"
TERMINATED = "the operation was terminated"

Prefix = tuple[Action, ...]


def advance(state: OperationState, plan: Plan | Unplanned, seen: Observations) -> Decision:
    """The next decision for the operation `state` (see the module docstring)."""
    if state.phase.completed:
        return Decision(state)
    if state.phase is OperationPhase.TERMINATING:
        return _terminate(state, seen.now)
    backoff = retries.due(state, seen.now)
    if backoff is not None:
        return backoff
    if state.next_attempt_at:
        state = replace(state, next_attempt_at="")
    if isinstance(plan, Unplanned):
        return retries.fail_or_retry(state, plan.retry, plan.message, seen.now)
    if plan.refusal:
        return retries.finish(state, OperationPhase.FAILED, plan.refusal, seen.now)
    if state.request.sync.dry_run:
        return _dry_run(state, plan, seen.now)
    state, blocker = records.record(state, plan, seen.outcomes)
    if blocker:
        return retries.fail_or_retry(state, plan.retry, blocker, seen.now)
    return _progress(state, plan, seen, ())


def watched(state: OperationState, plan: Plan | Unplanned) -> tuple[Watch, ...]:
    """The live objects the next `advance` needs to see."""
    if isinstance(plan, Unplanned) or plan.refusal or not _working(state):
        return ()
    if not state.group and not state.failing:
        # Read directly: one GET, rather than a cluster-wide watch of Namespaces for it.
        return (Watch(_namespace_key(plan.namespace), "v1", fresh=True),) if plan.namespace else ()
    placed = _current(state, plan)
    if placed is None:
        return ()
    group, must_be_healthy = placed
    if state.group_status is GroupStatus.APPLYING:
        return tuple(
            Watch(t.key, t.version, fresh=True)
            for t in group.tasks
            if isinstance(t, HookTask) and state.result_for(t.key, t.stage) is None
        )
    return completion.needed(state, group, must_be_healthy)


def _working(state: OperationState) -> bool:
    return state.phase is OperationPhase.RUNNING and not state.request.sync.dry_run


def _namespace_key(name: str) -> ResourceKey:
    return ResourceKey("", "Namespace", "", name)


def _current(state: OperationState, plan: Plan) -> tuple[Group, bool] | None:
    """The group the state works on, and whether it must end healthy (another group follows)."""
    if state.failing:
        return (plan.failure, False) if plan.failure is not None else None
    index = plan.index_of(state.group)
    if index is None:
        return None
    return plan.groups[index], index + 1 < len(plan.groups)


# ---- moving through the groups ---------------------------------------------------------------


def _progress(state: OperationState, plan: Plan, seen: Observations, prefix: Prefix) -> Decision:
    if state.failing:
        return _failing(state, plan, seen, prefix)
    if not state.group:
        return _begin(state, plan, seen, prefix)
    index = plan.index_of(state.group)
    if index is None:  # its last task went (a stale object deleted meanwhile): go on after it
        return _after_vanished(state, plan, seen, prefix)
    group = plan.groups[index]
    if state.group_status is GroupStatus.APPLYING:
        return _apply(state, plan, group, seen, prefix)
    return _check(state, plan, index, seen, prefix)


def _begin(state: OperationState, plan: Plan, seen: Observations, prefix: Prefix) -> Decision:
    """Before the first group: the destination namespace, if the app creates it."""
    if plan.namespace:
        key = _namespace_key(plan.namespace)
        created = seen.outcome(CreateNamespace, key) is not None  # a failure ended it already
        if not created and not seen.knows(key):
            return Decision(state, prefix)
        if not created and seen.live[key] is None:
            return Decision(state, (*prefix, CreateNamespace(plan.namespace)))
    return _enter(state, plan, 0, seen, prefix)


def _after_vanished(
    state: OperationState, plan: Plan, seen: Observations, prefix: Prefix
) -> Decision:
    stage_name, _, wave = state.group.partition("/")
    try:
        position = (Stage(stage_name).rank, int(wave))
    except ValueError:
        message = f"the operation's state names an unknown group {state.group!r}"
        return retries.finish(state, OperationPhase.ERROR, message, seen.now, prefix)
    later = [i for i, g in enumerate(plan.groups) if (g.stage.rank, g.wave) > position]
    return _enter(state, plan, later[0] if later else len(plan.groups), seen, prefix)


def _enter(
    state: OperationState, plan: Plan, index: int, seen: Observations, prefix: Prefix
) -> Decision:
    if index >= len(plan.groups):
        return retries.finish(state, OperationPhase.SUCCEEDED, SUCCEEDED, seen.now, prefix)
    group = plan.groups[index]
    state = replace(
        state,
        group=group.id,
        group_status=GroupStatus.APPLYING,
        message=f"applying {group.id}",
        resources=records.without(state.resources, group),
    )
    if group.has_hooks:  # persisted before any hook exists; its objects are observed next
        return Decision(state, retries.persisting(prefix, state))
    return _apply(state, plan, group, seen, prefix)


def _apply(
    state: OperationState, plan: Plan, group: Group, seen: Observations, prefix: Prefix
) -> Decision:
    """Actions for every task of the group still without a result; `applied` once all have one."""
    actions: list[ClusterAction] = []
    unobserved = False
    for task in group.tasks:
        if state.result_for(task.key, task.stage) is not None:
            continue
        step = _task_step(task, state, plan, seen)
        if step is None:
            unobserved = True
        elif isinstance(step, ResourceResult):
            state = state.with_result(step)
        else:
            actions.append(step)
    if actions or unobserved:
        return Decision(state, (*prefix, *actions))
    state = replace(state, group_status=GroupStatus.APPLIED)
    if group.has_hooks:  # the hooks exist now: their results are final, never re-created
        return Decision(state, retries.persisting(prefix, state))
    return _progress(state, plan, seen, prefix)


def _task_step(
    task: Task, state: OperationState, plan: Plan, seen: Observations
) -> ResourceResult | ClusterAction | None:
    """What one task needs: an action, a result without one, or None (observe it first)."""
    if isinstance(task, ApplyTask):
        if task.shared_with and plan.fail_on_shared:
            return records.shared(task)
        if task.in_sync and plan.out_of_sync_only:
            return records.unchanged(task)
        return ApplyAction(
            task.stage, task.key, task.target, task.replace, task.validate, task.live_version
        )
    if isinstance(task, PruneTask):
        if task.protected:
            return records.prune_skipped(task)
        return Prune(task.stage, task.key, task.version, task.uid)
    return _hook_step(task, state, seen)


def _hook_step(
    task: HookTask, state: OperationState, seen: Observations
) -> ResourceResult | ClusterAction | None:
    if not seen.knows(task.key):
        return None
    live = seen.live[task.key]
    if live is None:
        return CreateHook(task.stage, task.key, task.manifest)
    if hooks.created_by(live, state.id, task.run):
        return records.hook_found(task)
    if hooks.DeletePolicy.BEFORE_HOOK_CREATION in task.delete_policies:
        return DeleteHook(task.stage, task.key, task.version, HookDeletion.BEFORE_CREATION)
    return records.hook_blocked(task)


def _check(
    state: OperationState, plan: Plan, index: int, seen: Observations, prefix: Prefix
) -> Decision:
    group = plan.groups[index]
    verdict = completion.judge(state, group, seen, plan.rules, index + 1 < len(plan.groups))
    state = verdict.state
    if verdict.unobserved:
        return Decision(state, prefix)
    if verdict.deletions:  # hooks finished: their results are written before they are deleted
        return Decision(state, (*retries.persisting(prefix, state), *verdict.deletions))
    if verdict.failed:
        return _start_failure(state, plan, "; ".join(verdict.failed), seen.now, prefix)
    if verdict.waiting:
        message = f"waiting for {group.stage} wave {group.wave}: " + "; ".join(verdict.waiting[:3])
        state = replace(state, message=message)
        return Decision(state, (*retries.persisting(prefix, state), Wait(seen.now + POLL, message)))
    if group.has_hooks:
        prefix = retries.persisting(prefix, state)
    return _enter(state, plan, index + 1, seen, prefix)


# ---- failure, termination, dry run -----------------------------------------------------------


def _start_failure(
    state: OperationState, plan: Plan, message: str, now: dt.datetime, prefix: Prefix
) -> Decision:
    failure = plan.failure
    if failure is None:
        return retries.fail_or_retry(state, plan.retry, message, now, prefix)
    state = replace(
        state,
        failing=True,
        group=failure.id,
        group_status=GroupStatus.APPLYING,
        message=message,
        resources=records.without(state.resources, failure),
    )
    return Decision(state, retries.persisting(prefix, state))


def _failing(state: OperationState, plan: Plan, seen: Observations, prefix: Prefix) -> Decision:
    """The SyncFail hooks run to their end; the failure's message stays the operation's."""
    failure = plan.failure
    if failure is None:
        return retries.fail_or_retry(
            replace(state, failing=False), plan.retry, state.message, seen.now, prefix
        )
    if state.group_status is GroupStatus.APPLYING:
        return _apply(state, plan, failure, seen, prefix)
    verdict = completion.judge(state, failure, seen, plan.rules, must_be_healthy=False)
    state = verdict.state
    if verdict.unobserved:
        return Decision(state, prefix)
    if verdict.deletions:
        return Decision(state, (*retries.persisting(prefix, state), *verdict.deletions))
    if verdict.waiting:
        return Decision(
            state, (*retries.persisting(prefix, state), Wait(seen.now + POLL, state.message))
        )
    return retries.fail_or_retry(
        replace(state, failing=False), plan.retry, state.message, seen.now, prefix
    )


def _terminate(state: OperationState, now: dt.datetime) -> Decision:
    """Stop here: running hooks are deleted, the operation fails saying it was terminated."""
    running = [r for r in state.resources if r.hook_type and r.status is ResultStatus.RUNNING]
    deletions = tuple(
        DeleteHook(r.stage, r.key, r.version, HookDeletion.TERMINATED) for r in running
    )
    for result in running:
        state = state.with_result(
            records.hook_finished(result, False, "the operation was terminated")
        )
    why = f" ({state.message})" if state.message else ""
    return retries.finish(
        state, OperationPhase.FAILED, f"operation terminated{why}", now, deletions
    )


def _dry_run(state: OperationState, plan: Plan, now: dt.datetime) -> Decision:
    for task in sorted(plan.tasks(), key=sort_key):
        state = state.with_result(records.preview(task))
    return retries.finish(state, OperationPhase.SUCCEEDED, DRY_RUN, now)
