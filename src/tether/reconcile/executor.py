"""Carrying out the sync step machine's decisions against a cluster.

The machine (`tether.engine.sync.machine`) decides; this module does: it observes the live
objects the machine names, calls `advance`, carries out the actions in order — consecutive
cluster writes together, each `Persist` a barrier — and feeds the outcomes back, until a decision
waits or finishes. That is one *step*; the caller comes back after the wait.

What it adds to the machine is only what needs the world:
- writes go through `writer` (the project's service account), reads through `dest` (tether);
- a written object is at once the live object (the watch cache and the diff memo take it);
- a `Persist` identical to the last one written is skipped, and a run of them is one write;
- persisting is conditional on the Application's resourceVersion (`persist` reports back), so a
  person's terminate request is seen at the next step boundary instead of being overwritten.

Every step returns a `ChangeSet` of what it wrote, partial when it stopped half-way.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from tether.cluster import errors as api_errors
from tether.cluster.api import KubeAPI
from tether.engine.comparisons import Comparison
from tether.engine.operation import OperationPhase, OperationState
from tether.engine.sync import actions, machine
from tether.engine.sync.plans import Plan, Unplanned
from tether.model.changes import Action as ChangeAction
from tether.model.changes import Change, ChangeSet
from tether.model.resources import Body, ResourceKey
from tether.reconcile import compare as comparing
from tether.reconcile.events import EventKind, StepEvent

MAX_DECISIONS = 500  # a machine that neither waits nor finishes this often has a bug
HOOK_GONE_SECONDS = 30.0


class Persisted(StrEnum):
    """What became of a state the executor asked to persist."""

    WRITTEN = "written"
    TERMINATING = "terminating"  # a person asked to terminate: the machine must hear it
    SUPERSEDED = "superseded"  # the operation is no longer this executor's (another finished it)


@dataclass(frozen=True)
class PersistAnswer:
    verdict: Persisted
    state: OperationState | None = None  # the operation as persisted, when not WRITTEN


Persist = Callable[[OperationState], Awaitable[PersistAnswer]]


@dataclass(frozen=True)
class StepOutcome:
    state: OperationState | None  # None: there is no operation at all
    comparison: Comparison | None
    requeue_after: float | None  # None: the operation is complete (or no longer ours)
    changes: ChangeSet = field(default_factory=ChangeSet)


@dataclass
class Executor:
    """One operation's hands: where to read, where to write, how to persist, whom to tell."""

    dest: KubeAPI
    writer: KubeAPI
    live: comparing.LiveState
    persist: Persist
    memo: comparing.DiffMemo | None = None
    report: Callable[[StepEvent], None] = lambda _e: None
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    _written: OperationState | None = field(default=None, init=False)

    # ---- the step ----------------------------------------------------------------------------

    async def step(
        self,
        state: OperationState,
        plan: Plan | Unplanned,
        comparison: Comparison | None,
        written: OperationState | None,
    ) -> StepOutcome:
        """Advance the operation as far as it goes without waiting; `written` is the state as
        status holds it (None: not persisted yet)."""
        self._written = written
        changes: list[Change] = []
        seen = actions.Observations(self.clock(), await self._observe(state, plan, ()))
        for _ in range(MAX_DECISIONS):
            decision = machine.advance(state, plan, seen)
            self._tell(state, decision, plan)
            state = decision.state
            done = await self._carry_out(decision.actions, changes)
            if done.verdict is Persisted.TERMINATING and done.state is not None:
                state = replace(state, phase=OperationPhase.TERMINATING, message=done.state.message)
            elif done.verdict is Persisted.SUPERSEDED:
                return StepOutcome(done.state, comparison, None, ChangeSet(tuple(changes)))
            elif decision.settled:
                return StepOutcome(
                    state, comparison, _requeue(decision, self.clock()), ChangeSet(tuple(changes))
                )
            seen = actions.Observations(
                self.clock(), await self._observe(state, plan, done.outcomes), done.outcomes
            )
        message = f"the sync made {MAX_DECISIONS} decisions without waiting or finishing"
        raise RuntimeError(message)

    async def _observe(
        self,
        state: OperationState,
        plan: Plan | Unplanned,
        outcomes: Sequence[actions.Outcome],
    ) -> dict[ResourceKey, Body | None]:
        watches = machine.watched(state, plan)
        bodies = await asyncio.gather(*(self._read(w) for w in watches))
        live = {w.key: body for w, body in zip(watches, bodies, strict=True)}
        for outcome in outcomes:  # a write's answer is the live object now
            if outcome.written is not None:
                live[outcome.action.key] = outcome.written
        return live

    async def _read(self, watch: actions.Watch) -> Body | None:
        if watch.fresh:  # hooks: never from a cache that may lag a deletion
            return await comparing.live_object(self.dest, watch.key, watch.api_version)
        return await self.live.get(watch.key, watch.api_version)

    # ---- carrying out ------------------------------------------------------------------------

    async def _carry_out(self, todo: Sequence[actions.Action], changes: list[Change]) -> _Done:
        outcomes: list[actions.Outcome] = []
        batch: list[actions.ClusterAction] = []
        for index, action in enumerate(todo):
            if isinstance(action, actions.ClusterAction):
                batch.append(action)
                continue
            outcomes += await self._run(batch, changes)
            batch = []
            if isinstance(action, actions.Persist) and not _superseded(todo, index):
                answer = await self._persist(action.state)
                if answer.verdict is not Persisted.WRITTEN:
                    return _Done(tuple(outcomes), answer.verdict, answer.state)
        outcomes += await self._run(batch, changes)
        return _Done(tuple(outcomes))

    async def _persist(self, state: OperationState) -> PersistAnswer:
        if state == self._written:
            return PersistAnswer(Persisted.WRITTEN)
        answer = await self.persist(state)
        if answer.verdict is Persisted.WRITTEN:
            self._written = state
        return answer

    async def _run(
        self, batch: Sequence[actions.ClusterAction], changes: list[Change]
    ) -> list[actions.Outcome]:
        outcomes = list(await asyncio.gather(*(self._one(a) for a in batch)))
        for outcome in outcomes:
            changes.append(outcome.change)
            self.report(_written_event(outcome))
        return outcomes

    async def _one(self, action: actions.ClusterAction) -> actions.Outcome:
        try:
            if isinstance(action, actions.Apply):
                return await self._apply(action)
            if isinstance(action, actions.Prune):
                return await self._prune(action)
            if isinstance(action, actions.CreateHook):
                return await self._create_hook(action)
            if isinstance(action, actions.DeleteHook):
                return await self._delete_hook(action)
            return await self._create_namespace(action)
        except (api_errors.ApiError, api_errors.UnknownResource, TimeoutError) as exc:
            message = exc.message if isinstance(exc, api_errors.ApiError) else str(exc)
            return actions.Outcome(action, Change(action.key, ChangeAction.FAILED, message))

    async def _apply(self, action: actions.Apply) -> actions.Outcome:
        if action.replace or not action.validate:
            written = await comparing.write_whole(
                self.writer, action.target, action.live_version, action.validate
            )
        else:
            written = await self.writer.apply(
                action.target,
                field_manager=comparing.FIELD_MANAGER,
                force=True,
                field_validation="Strict",
            )
        self.live.observe(written)
        if self.memo is not None:
            self.memo.remember(action.key, action.target, written, written)
        created = ChangeAction.CONFIGURED if action.live_version else ChangeAction.CREATED
        return actions.Outcome(action, Change(action.key, created, str(created)), written)

    async def _prune(self, action: actions.Prune) -> actions.Outcome:
        key = action.key
        preconditions = {"uid": action.uid} if action.uid else None
        gone = await self.writer.delete(
            action.version, key.kind, key.name, key.namespace or None, preconditions=preconditions
        )
        message = "deleted" if gone is not None else "already gone"
        return actions.Outcome(action, Change(key, ChangeAction.DELETED, message))

    async def _create_hook(self, action: actions.CreateHook) -> actions.Outcome:
        written = await self.writer.apply(
            action.manifest, field_manager=comparing.FIELD_MANAGER, force=True
        )
        return actions.Outcome(action, Change(action.key, ChangeAction.CREATED, "created"), written)

    async def _delete_hook(self, action: actions.DeleteHook) -> actions.Outcome:
        key = action.key
        await self.writer.delete(action.version, key.kind, key.name, key.namespace or None)
        if action.waits_until_gone:
            await self._wait_gone(action)
        return actions.Outcome(action, Change(key, ChangeAction.DELETED, f"deleted ({action.why})"))

    async def _wait_gone(self, action: actions.DeleteHook) -> None:
        key, loop = action.key, asyncio.get_running_loop()
        deadline = loop.time() + HOOK_GONE_SECONDS
        while await comparing.live_object(self.dest, key, action.version) is not None:
            if loop.time() > deadline:
                raise TimeoutError(f"{key} is still being deleted after {HOOK_GONE_SECONDS:.0f}s")
            await asyncio.sleep(0.2)

    async def _create_namespace(self, action: actions.CreateNamespace) -> actions.Outcome:
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": action.name}}
        if await self.dest.get_or_none("v1", "Namespace", action.name) is not None:
            return actions.Outcome(action, Change(action.key, ChangeAction.UNCHANGED, "exists"))
        await self.writer.apply(namespace, field_manager=comparing.FIELD_MANAGER)
        return actions.Outcome(action, Change(action.key, ChangeAction.CREATED, "created"))

    # ---- telling people ----------------------------------------------------------------------

    def _tell(
        self, before: OperationState, decision: actions.Decision, plan: Plan | Unplanned
    ) -> None:
        after = decision.state
        if after.group and after.group != before.group and isinstance(plan, Plan):
            group = plan.failure if after.failing else plan.group(after.group)
            if group is not None:
                what = f"{group.stage} wave {group.wave}: {len(group.tasks)} object(s)"
                self.report(StepEvent(EventKind.STAGE, what))
        for action in decision.actions:
            if isinstance(action, actions.Wait) and after.message != before.message:
                self.report(StepEvent(EventKind.WAITING, action.reason or after.message))
            elif isinstance(action, actions.Finish):
                succeeded = action.phase is OperationPhase.SUCCEEDED
                kind = EventKind.FINISHED if succeeded else EventKind.FAILED
                self.report(StepEvent(kind, action.message))


@dataclass(frozen=True)
class _Done:
    outcomes: tuple[actions.Outcome, ...]
    verdict: Persisted = Persisted.WRITTEN
    state: OperationState | None = None


def _superseded(todo: Sequence[actions.Action], index: int) -> bool:
    """A Persist followed directly by another Persist or by Finish is written by that one."""
    following = todo[index + 1] if index + 1 < len(todo) else None
    return isinstance(following, actions.Persist | actions.Finish)


def _requeue(decision: actions.Decision, now: dt.datetime) -> float | None:
    last = decision.actions[-1]
    if isinstance(last, actions.Wait):
        return max((last.until - now).total_seconds(), 0.05)
    return None


def _written_event(outcome: actions.Outcome) -> StepEvent:
    action, change = outcome.action, outcome.change
    if isinstance(action, actions.CreateHook | actions.DeleteHook):
        kind = EventKind.HOOK
    elif isinstance(action, actions.Prune):
        kind = EventKind.PRUNED
    else:
        kind = EventKind.APPLIED
    if not outcome.ok:
        kind = EventKind.FAILED
    return StepEvent(kind, f"{action.key}: {change.message or change.action}", action.key)
