"""Retrying a failed sync: `spec.syncPolicy.retry` as Argo CD defines it.

`limit` attempts after the first (negative: without end), the n-th after
`duration * factor ** n`, never more than `maxDuration`. A retry starts the operation over at the
same pinned revisions, hooks included (a new attempt is a new run of each hook); until it is due,
the operation waits with its next attempt's time in status.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from tether.engine.operation import GroupStatus, OperationPhase, OperationState
from tether.engine.sync.actions import Action, Decision, Finish, Persist, Wait
from tether.model import times
from tether.model.app import Retry


def delay(retry: Retry, retries_so_far: int) -> float:
    backoff = retry.backoff
    seconds = backoff.duration_seconds * backoff.factor**retries_so_far
    return float(min(seconds, backoff.max_duration_seconds))


def allowed(retry: Retry, retries_so_far: int) -> bool:
    return retry.limit < 0 or retries_so_far < retry.limit


def finish(
    state: OperationState,
    phase: OperationPhase,
    message: str,
    now: dt.datetime,
    before: tuple[Action, ...] = (),
) -> Decision:
    """The operation is over: `state` completed, and the executor records it (one write, so a
    state persisted just before would be written for nothing)."""
    done = replace(
        state, phase=phase, message=message, finished_at=times.stamp(now), next_attempt_at=""
    )
    return Decision(done, (*settled(before), Finish(phase, message)))


def settled(before: tuple[Action, ...]) -> tuple[Action, ...]:
    """`before` without a trailing Persist: a later write of a newer state makes it moot."""
    while before and isinstance(before[-1], Persist):
        before = before[:-1]
    return before


def persisting(before: tuple[Action, ...], state: OperationState) -> tuple[Action, ...]:
    return (*settled(before), Persist(state))


def fail_or_retry(
    state: OperationState,
    retry: Retry,
    message: str,
    now: dt.datetime,
    before: tuple[Action, ...] = (),
) -> Decision:
    if not allowed(retry, state.retry_count):
        return finish(state, OperationPhase.FAILED, message, now, before)
    seconds = delay(retry, state.retry_count)
    at = now + dt.timedelta(seconds=seconds)
    retrying = replace(
        state,
        retry_count=state.retry_count + 1,
        group="",
        group_status=GroupStatus.NONE,
        failing=False,
        message=f"retrying in {seconds:.0f}s (attempt {state.retry_count + 2}): {message}",
        next_attempt_at=times.stamp(at),
    )
    return Decision(retrying, (*persisting(before, retrying), Wait(at, retrying.message)))


def due(state: OperationState, now: dt.datetime) -> Decision | None:
    """A Wait while the next attempt is not due yet; None once it is (or there is none)."""
    at = times.parse(state.next_attempt_at)
    if at is None or at <= now:
        return None
    return Decision(state, (Wait(at, "retry backoff"),))
