"""When is an applied group done? Its hooks have finished (and been deleted if their policy says
so), nothing in it failed, and — when another group follows — its objects are healthy.

Waves are only useful if a wave waits for the one before it: a Deployment of wave 1 that needs
the database of wave 0 must not start before that database is up. The last group is not awaited
(the app's health reports on it), as in Argo CD.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tether.engine import health, hooks
from tether.engine.operation import OperationState, ResourceResult, ResultAction, ResultStatus
from tether.engine.sync import records
from tether.engine.sync.actions import DeleteHook, HookDeletion, Observations, Watch
from tether.engine.sync.plans import ApplyTask, Group, HookTask, Task
from tether.model.health import HealthStatus
from tether.model.resources import Body

_SETTLED = (HealthStatus.HEALTHY, HealthStatus.SUSPENDED)


@dataclass(frozen=True)
class Verdict:
    state: OperationState  # with the results of hooks that finished
    failed: tuple[str, ...] = ()
    waiting: tuple[str, ...] = ()
    deletions: tuple[DeleteHook, ...] = ()  # finished hooks their delete policy removes
    unobserved: bool = False  # something needed was not observed yet: observe, then judge


@dataclass
class _Tally:
    state: OperationState
    failed: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    deletions: list[DeleteHook] = field(default_factory=list)
    unobserved: bool = False

    def verdict(self) -> Verdict:
        return Verdict(
            self.state,
            tuple(self.failed),
            tuple(self.waiting),
            tuple(self.deletions),
            self.unobserved,
        )


def needed(state: OperationState, group: Group, must_be_healthy: bool) -> tuple[Watch, ...]:
    """The live objects `judge` reads for this group."""
    wanted = []
    for task in group.tasks:
        result = state.result_for(task.key, task.stage)
        if result is None:
            continue
        if isinstance(task, HookTask) and result.status is ResultStatus.RUNNING:
            wanted.append(Watch(task.key, task.version, fresh=True))
        elif isinstance(task, ApplyTask) and must_be_healthy and not result.failed:
            wanted.append(Watch(task.key, task.version))
    return tuple(wanted)


def judge(
    state: OperationState,
    group: Group,
    seen: Observations,
    rules: health.HealthRules | None,
    must_be_healthy: bool,
) -> Verdict:
    tally = _Tally(state)
    for task in group.tasks:
        result = tally.state.result_for(task.key, task.stage)
        if result is None:
            continue
        if isinstance(task, HookTask):
            _hook(tally, task, result, seen, rules)
        elif result.failed:
            tally.failed.append(f"{task.key}: {result.message}")
        elif isinstance(task, ApplyTask) and must_be_healthy:
            _healthy(tally, task, seen, rules)
    return tally.verdict()


def _hook(
    tally: _Tally,
    task: HookTask,
    result: ResourceResult,
    seen: Observations,
    rules: health.HealthRules | None,
) -> None:
    if result.status is ResultStatus.RUNNING:
        if not seen.knows(task.key):
            tally.unobserved = True
            return
        finished = _hook_finished(task, result, seen.live[task.key], rules)
        if finished is None:
            tally.waiting.append(f"hook {task.key} running")
            return
        result = finished
        tally.state = tally.state.with_result(result)
    deletion = _deletion(task, result)
    if deletion is not None:
        tally.deletions.append(deletion)
    elif result.failed:
        tally.failed.append(f"hook {task.key} {result.message}")


def _hook_finished(
    task: HookTask, result: ResourceResult, live: Body | None, rules: health.HealthRules | None
) -> ResourceResult | None:
    """The hook's result once it has finished; None while it runs."""
    if live is None:
        return records.hook_finished(result, False, "its object was deleted before it finished")
    if not task.awaited:
        return records.hook_finished(result, True)
    assessed = health.assess(live, rules)
    if assessed is None or assessed.status is HealthStatus.HEALTHY:
        return records.hook_finished(result, True)
    if assessed.status is HealthStatus.DEGRADED:
        return records.hook_finished(result, False, assessed.message)
    return None


def _deletion(task: HookTask, result: ResourceResult) -> DeleteHook | None:
    """The deletion a finished hook's policy asks for and that has not been done yet."""
    if result.action is not ResultAction.CREATED:
        return None  # deleted already, deletion tried, or the hook was never created
    if result.status is ResultStatus.SUCCEEDED:
        policy, why = hooks.DeletePolicy.HOOK_SUCCEEDED, HookDeletion.SUCCEEDED
    elif result.status is ResultStatus.FAILED:
        policy, why = hooks.DeletePolicy.HOOK_FAILED, HookDeletion.FAILED
    else:
        return None
    if policy not in task.delete_policies:
        return None
    return DeleteHook(task.stage, task.key, task.version, why)


def _healthy(
    tally: _Tally, task: Task, seen: Observations, rules: health.HealthRules | None
) -> None:
    if not seen.knows(task.key):
        tally.unobserved = True
        return
    live = seen.live[task.key]
    if live is None:
        tally.waiting.append(f"{task.key} is Missing")
        return
    assessed = health.assess(live, rules)
    if assessed is None or assessed.status in _SETTLED:
        return
    detail = f": {assessed.message}" if assessed.message else ""
    if assessed.status is HealthStatus.DEGRADED:
        tally.failed.append(f"{task.key} is Degraded{detail}")
    else:
        tally.waiting.append(f"{task.key} is {assessed.status}{detail}")
