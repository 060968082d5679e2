"""Has the controller seen the latest spec? (`metadata.generation` vs `status.observedGeneration`)

Until it has, everything else in `status` describes an older spec, so a rollout that looks complete
may not have started. Checks that rely on status counts call this first.
"""

from __future__ import annotations

from tether.engine.health import fields, results
from tether.model.health import HealthResult
from tether.model.resources import Body


def lagging(obj: Body, *, required: bool = False) -> HealthResult | None:
    """Progressing while the latest generation is unobserved; None once it has been observed.

    `required` is for controllers that always write observedGeneration (StatefulSet, DaemonSet):
    there, its absence means the controller has not processed the object at all.
    """
    generation = fields.optional_int(obj, "metadata", "generation")
    observed = fields.optional_int(obj, "status", "observedGeneration")
    if generation is None:
        return None
    if observed is None:
        return _waiting(generation, None) if required else None
    return _waiting(generation, observed) if observed < generation else None


def _waiting(generation: int, observed: int | None) -> HealthResult:
    seen = f" (last observed {observed})" if observed is not None else ""
    return results.progressing(
        f"Waiting for the controller to observe generation {generation}{seen}"
    )
