"""Deployment health: the rollout as `kubectl rollout status` sees it.

Paused is Suspended (a person chose to stop the rollout). Otherwise the deployment controller
must have observed the latest spec: it writes `status.observedGeneration` on every sync, so one
that is missing or lower than `metadata.generation` is Progressing whatever the replica counts
say. They describe an older spec, or nothing at all: a new Deployment with `replicas: 0` has an
empty status, which agrees with zero everywhere. Argo CD and kstatus judge it the same way.

Once observed, a Progressing condition with reason ProgressDeadlineExceeded is Degraded (the
controller itself has given up waiting), and so is ReplicaFailure=True (it cannot create pods:
quota, admission, a missing service account), which is reported at once rather than after the
progress deadline. Everything else is a rollout in progress until every replica is updated and
available and no old replica is left.
"""

from __future__ import annotations

from tether.engine.health import conditions, fields, generations, results
from tether.engine.health.generations import Tracking
from tether.model.health import HealthResult
from tether.model.resources import Body

TRACKING = Tracking.ALWAYS  # the deployment controller writes observedGeneration on every sync

PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"


def assess(deployment: Body) -> HealthResult:
    if fields.flag(deployment, "spec", "paused"):
        return results.suspended("Deployment is paused")
    return generations.lagging(deployment, TRACKING) or _failure(deployment) or _rollout(deployment)


def _failure(deployment: Body) -> HealthResult | None:
    progress = conditions.find(deployment, "Progressing")
    if progress is not None and progress.reason == PROGRESS_DEADLINE_EXCEEDED:
        return results.degraded(
            results.joined("Rollout exceeded its progress deadline", progress.explanation)
        )
    failure = conditions.true(deployment, "ReplicaFailure")
    if failure is not None:
        return results.degraded(results.joined("Cannot create pods", failure.explanation))
    return None


def _rollout(deployment: Body) -> HealthResult:
    wanted = fields.integer(deployment, "spec", "replicas", default=1)
    total = fields.integer(deployment, "status", "replicas")
    updated = fields.integer(deployment, "status", "updatedReplicas")
    available = fields.integer(deployment, "status", "availableReplicas")
    if updated < wanted:
        return results.progressing(
            f"Waiting for rollout: {updated} of {wanted} new replicas have been updated"
        )
    if total > updated:
        return results.progressing(
            f"Waiting for rollout: {total - updated} old replicas are pending termination"
        )
    if available < updated:
        return results.progressing(
            f"Waiting for rollout: {available} of {updated} updated replicas are available"
        )
    return results.healthy()
