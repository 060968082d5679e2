"""Pod health, with Argo CD's semantics.

- A container stuck waiting for a reason that will not fix itself (CrashLoopBackOff,
  ImagePullBackOff, ErrImagePull, CreateContainerConfigError, InvalidImageName, ...) makes the pod
  Degraded, but only under restartPolicy Always. Pods with Never/OnFailure are usually sync hooks
  or one-off tasks; calling them Degraded while an image is still being pulled would fail a hook
  early, and the hook would then run anyway once the image arrived.
- Pending is Progressing, with the scheduler's or kubelet's reason when there is one.
- Succeeded is Healthy; Failed is Degraded with the best failure message available.
- Running and Ready is Healthy. Running but not Ready is Degraded when a container has already
  terminated once (it is restarting), otherwise Progressing. A running Never/OnFailure pod is
  Progressing: such pods are healthy only once they have finished.
- Pods being deleted are Progressing (see deletions).

No observedGeneration check. Pods have a `metadata.generation` since Kubernetes 1.33, and
kubelets with PodObservedGenerationTracking write `status.observedGeneration`, but not every
node agent does (older kubelets; kwok, which the test control plane runs, leaves it unset even
after a spec change), so its absence says nothing; and a Pod's spec barely changes in place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

from tether.engine.health import conditions, fields, results
from tether.model.health import HealthResult
from tether.model.resources import Body

Container = Mapping[str, Any]

# Waiting reasons outside the Err*/…Error/…BackOff families that still never clear by themselves.
STUCK_REASONS = frozenset({"InvalidImageName"})


class RestartPolicy(StrEnum):
    ALWAYS = "Always"
    ON_FAILURE = "OnFailure"
    NEVER = "Never"


def assess(pod: Body) -> HealthResult:
    policy = fields.text(pod, "spec", "restartPolicy") or RestartPolicy.ALWAYS
    if policy == RestartPolicy.ALWAYS:
        stuck = [_stuck_message(c) for c in _containers(pod) if _is_stuck(c)]
        if stuck:
            return results.degraded("; ".join(stuck))
    handler = _BY_PHASE.get(fields.text(pod, "status", "phase"), _unknown)
    return handler(pod, policy)


def _containers(pod: Body) -> list[Container]:
    return fields.items(pod, "status", "initContainerStatuses") + fields.items(
        pod, "status", "containerStatuses"
    )


def _is_stuck(container: Container) -> bool:
    reason = fields.text(container, "state", "waiting", "reason")
    return (
        reason.startswith("Err") or reason.endswith(("Error", "BackOff")) or reason in STUCK_REASONS
    )


def _stuck_message(container: Container) -> str:
    name = fields.text(container, "name")
    reason = fields.text(container, "state", "waiting", "reason")
    if reason == "CrashLoopBackOff":
        last_exit = _exit_summary(fields.mapping(container, "lastState", "terminated"))
        return f"container {name} is crash-looping" + (f" ({last_exit})" if last_exit else "")
    detail = fields.one_line(fields.text(container, "state", "waiting", "message"))
    return f"container {name}: {reason}" + (f": {detail}" if detail else "")


def _exit_summary(terminated: Mapping[str, Any]) -> str:
    """'last exit code 137: OOMKilled' from a container's terminated state, or ''."""
    if not terminated:
        return ""
    code = fields.integer(terminated, "exitCode")
    reason = fields.text(terminated, "reason")
    return f"last exit code {code}" + (f": {reason}" if reason else "")


def _pending(pod: Body, _policy: str) -> HealthResult:
    unscheduled = conditions.find(pod, "PodScheduled")
    if unscheduled is not None and unscheduled.is_false:
        return results.progressing(results.joined(unscheduled.reason, unscheduled.message))
    waiting = [
        f"{fields.text(c, 'name')} ({fields.text(c, 'state', 'waiting', 'reason')})"
        for c in _containers(pod)
        if fields.text(c, "state", "waiting", "reason")
    ]
    if waiting:
        return results.progressing(f"Waiting for containers: {', '.join(waiting)}")
    return results.progressing(fields.text(pod, "status", "message") or "Pod is pending")


def _succeeded(pod: Body, _policy: str) -> HealthResult:
    return results.healthy(fields.text(pod, "status", "message"))


def _failed(pod: Body, _policy: str) -> HealthResult:
    message = fields.text(pod, "status", "message")
    if message:  # the kubelet's own explanation (eviction, deadline) beats anything derived
        return results.degraded(results.joined(fields.text(pod, "status", "reason"), message))
    for container in _containers(pod):
        failure = _container_failure(container)
        if failure:
            return results.degraded(failure)
    return results.degraded("Pod failed")


def _container_failure(container: Container) -> str:
    terminated = fields.mapping(container, "state", "terminated")
    name = fields.text(container, "name")
    if fields.text(terminated, "message"):
        return f"container {name}: {fields.text(terminated, 'message')}"
    if fields.text(terminated, "reason") == "OOMKilled" or fields.integer(terminated, "exitCode"):
        return f"container {name} failed ({_exit_summary(terminated)})"
    return ""


def _running(pod: Body, policy: str) -> HealthResult:
    if policy != RestartPolicy.ALWAYS:
        return results.progressing("Pod is running and has not finished yet")
    if conditions.true(pod, "Ready") is not None:
        return results.healthy(fields.text(pod, "status", "message"))
    restarted = [c for c in _containers(pod) if fields.mapping(c, "lastState", "terminated")]
    if restarted:
        return results.degraded("; ".join(_restart_message(c) for c in restarted))
    return results.progressing(f"Waiting for containers to be ready: {_not_ready(pod)}")


def _restart_message(container: Container) -> str:
    summary = _exit_summary(fields.mapping(container, "lastState", "terminated"))
    return f"container {fields.text(container, 'name')} restarted and is not ready ({summary})"


def _not_ready(pod: Body) -> str:
    names = [
        fields.text(c, "name")
        for c in fields.items(pod, "status", "containerStatuses")
        if not fields.flag(c, "ready")
    ]
    return ", ".join(names) or "readiness gates"


def _unknown(pod: Body, _policy: str) -> HealthResult:
    phase = fields.text(pod, "status", "phase") or "not reported"
    return results.unknown(
        fields.text(pod, "status", "message")
        or f"Pod phase is {phase}; its node may be unreachable"
    )


_BY_PHASE: Mapping[str, Callable[[Body, str], HealthResult]] = {
    "": _pending,  # the API server sets Pending on create; no phase means not processed yet
    "Pending": _pending,
    "Running": _running,
    "Succeeded": _succeeded,
    "Failed": _failed,
}
