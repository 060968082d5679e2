"""DaemonSet health: the rollout as `kubectl rollout status` sees it.

Like StatefulSets, DaemonSets are never Degraded here: the controller records no failure in
status (pods that cannot be created or scheduled only produce events), and the failing Pods are
assessed on their own. An OnDelete DaemonSet is Healthy once observed, since the controller never
replaces its pods by itself.

The DaemonSet controller writes `status.observedGeneration` on every sync (TRACKING), so a missing
one, like a lower one, is Progressing: the controller has not taken in the latest spec.
"""

from __future__ import annotations

from tether.engine.health import fields, generations, results
from tether.engine.health.generations import Tracking
from tether.model.health import HealthResult
from tether.model.resources import Body

TRACKING = Tracking.ALWAYS  # the DaemonSet controller writes observedGeneration on every sync


def assess(daemon_set: Body) -> HealthResult:
    return generations.lagging(daemon_set, TRACKING) or _rollout(daemon_set)


def _rollout(daemon_set: Body) -> HealthResult:
    desired = fields.integer(daemon_set, "status", "desiredNumberScheduled")
    updated = fields.integer(daemon_set, "status", "updatedNumberScheduled")
    available = fields.integer(daemon_set, "status", "numberAvailable")
    if fields.text(daemon_set, "spec", "updateStrategy", "type") == "OnDelete":
        return results.healthy(
            f"OnDelete: {updated} of {desired} pods updated; the rest update when deleted"
        )
    if updated < desired:
        return results.progressing(
            f"Waiting for rollout: {updated} of {desired} nodes run the updated pod"
        )
    if available < desired:
        return results.progressing(
            f"Waiting for rollout: {available} of {desired} updated pods are available"
        )
    return results.healthy()
