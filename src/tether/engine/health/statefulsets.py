"""StatefulSet health: the rollout as `kubectl rollout status` sees it.

A StatefulSet is never Degraded here, on purpose: the StatefulSet controller sets no conditions
and records no failure in status (pod creation errors are only events), so there is no signal to
read. Its failures show on its Pods (CrashLoopBackOff, ImagePullBackOff), which are assessed on
their own. OnDelete StatefulSets are Healthy once their pods are ready, since the controller
never replaces pods by itself; a partitioned rolling update is done when the pods at or above the
partition are updated.

The StatefulSet controller writes `status.observedGeneration` on every sync (TRACKING), so a
missing one, like a lower one, is Progressing: the controller has not taken in the latest spec.
"""

from __future__ import annotations

from tether.engine.health import fields, generations, results
from tether.engine.health.generations import Tracking
from tether.model.health import HealthResult
from tether.model.resources import Body

TRACKING = Tracking.ALWAYS  # the StatefulSet controller writes observedGeneration on every sync


def assess(stateful_set: Body) -> HealthResult:
    return (
        generations.lagging(stateful_set, TRACKING)
        or _replicas(stateful_set)
        or _update(stateful_set)
    )


def _replicas(stateful_set: Body) -> HealthResult | None:
    wanted = fields.integer(stateful_set, "spec", "replicas", default=1)
    total = fields.integer(stateful_set, "status", "replicas")
    ready = fields.integer(stateful_set, "status", "readyReplicas")
    # availableReplicas honours minReadySeconds; older API servers do not report it.
    available = fields.integer(stateful_set, "status", "availableReplicas", default=ready)
    if available < wanted:
        return results.progressing(f"Waiting for pods: {available} of {wanted} are ready")
    if total > wanted:
        return results.progressing(f"Waiting for {total - wanted} extra pods to terminate")
    return None


def _update(stateful_set: Body) -> HealthResult:
    strategy = fields.text(stateful_set, "spec", "updateStrategy", "type") or "RollingUpdate"
    if strategy == "OnDelete":
        return results.healthy("OnDelete: pods are updated only when they are deleted")
    partition = fields.integer(stateful_set, "spec", "updateStrategy", "rollingUpdate", "partition")
    if partition > 0:
        return _partitioned(stateful_set, partition)
    return _rolling(stateful_set)


def _partitioned(stateful_set: Body, partition: int) -> HealthResult:
    wanted = fields.integer(stateful_set, "spec", "replicas", default=1)
    updated = fields.integer(stateful_set, "status", "updatedReplicas")
    expected = max(wanted - partition, 0)
    if updated < expected:
        return results.progressing(
            f"Waiting for partitioned rollout: {updated} of {expected} pods have been updated"
        )
    return results.healthy(f"Partitioned rollout complete: {updated} pods updated")


def _rolling(stateful_set: Body) -> HealthResult:
    current = fields.text(stateful_set, "status", "currentRevision")
    target = fields.text(stateful_set, "status", "updateRevision")
    if current != target:
        updated = fields.integer(stateful_set, "status", "updatedReplicas")
        wanted = fields.integer(stateful_set, "spec", "replicas", default=1)
        return results.progressing(
            f"Waiting for rollout: {updated} of {wanted} pods are at revision {target}"
        )
    return results.healthy()
