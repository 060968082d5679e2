"""ReplicaSet health: all wanted replicas available, or Degraded when pods cannot be created.

Usually a ReplicaSet is seen through its Deployment, but standalone ones exist and Deployments'
old ReplicaSets show up in resource trees. ReplicaFailure=True is set by the controller when pod
creation fails (quota, admission), which no amount of waiting fixes by itself.

The ReplicaSet controller writes `status.observedGeneration` on every sync, so a missing one
means it has not processed the ReplicaSet yet: Progressing, like a lower one. The API server's
own status for a new ReplicaSet is `replicas: 0`, which would otherwise pass for a ReplicaSet
scaled to zero.
"""

from __future__ import annotations

from tether.engine.health import conditions, fields, generations, results
from tether.engine.health.generations import Tracking
from tether.model.health import HealthResult
from tether.model.resources import Body

TRACKING = Tracking.ALWAYS  # the ReplicaSet controller writes observedGeneration on every sync


def assess(replica_set: Body) -> HealthResult:
    return (
        generations.lagging(replica_set, TRACKING)
        or _failure(replica_set)
        or _replicas(replica_set)
    )


def _failure(replica_set: Body) -> HealthResult | None:
    failure = conditions.true(replica_set, "ReplicaFailure")
    if failure is None:
        return None
    return results.degraded(results.joined("Cannot create pods", failure.explanation))


def _replicas(replica_set: Body) -> HealthResult:
    wanted = fields.integer(replica_set, "spec", "replicas", default=1)
    available = fields.integer(replica_set, "status", "availableReplicas")
    if available < wanted:
        return results.progressing(f"Waiting for replicas: {available} of {wanted} are available")
    return results.healthy()
