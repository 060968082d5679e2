"""Has the controller seen the latest spec? (`metadata.generation` vs `status.observedGeneration`)

Until it has, everything else in `status` describes an older spec (or, for a new object, nothing
at all), so a rollout that looks complete may not have started: a Deployment scaled to zero that
the controller-manager has not yet seen has an empty status, and empty counts all agree with zero.
Checks that rely on status counts or conditions call this first.

How much an absent observedGeneration says depends on the controller, so every caller states which
kind of controller it is judging (Tracking):
- ALWAYS: the controller writes observedGeneration on its first sync and every sync after
  (Deployment, ReplicaSet, StatefulSet, DaemonSet, tether's Application). Absent means the
  controller has not processed the object at all; lower means not the latest spec.
- WHEN_PRESENT: kstatus's generic rule, for controllers that may or may not write it. Absent says
  nothing; present and different from `metadata.generation` means the status is not about the
  latest spec.
In both cases an observedGeneration that differs from the generation, higher included (a status
restored from a backup onto a recreated object), is not trusted: that is kstatus's comparison.
"""

from __future__ import annotations

from enum import StrEnum

from tether.engine.health import fields, results
from tether.model.health import HealthResult
from tether.model.resources import Body


class Tracking(StrEnum):
    """How a kind's controller records the generation its status was computed for."""

    ALWAYS = "always"
    WHEN_PRESENT = "when-present"


def lagging(obj: Body, tracking: Tracking) -> HealthResult | None:
    """Progressing while the latest generation is unobserved; None once it has been observed."""
    generation = fields.optional_int(obj, "metadata", "generation")
    observed = fields.optional_int(obj, "status", "observedGeneration")
    if generation is None:  # the API server did not set one: nothing to compare
        return None
    if observed is None:
        return _waiting(generation, None) if tracking is Tracking.ALWAYS else None
    return _waiting(generation, observed) if observed != generation else None


def _waiting(generation: int, observed: int | None) -> HealthResult:
    seen = f" (last observed {observed})" if observed is not None else ""
    return results.progressing(
        f"Waiting for the controller to observe generation {generation}{seen}"
    )
