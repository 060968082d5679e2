"""The generic fallback for kinds without a built-in check: kstatus conditions.

Most modern controllers (Flux, cert-manager, Crossplane, Cluster API, operators built with
controller-runtime) follow the kstatus conventions: `Ready` says whether the object is what its
spec asks for, `Reconciling=True` that work is under way, `Stalled=True` that no progress is
possible without a change. Precedence: an unobserved generation is Progressing; Stalled=True is
Degraded; Reconciling=True is Progressing; Ready=True is Healthy unless it was computed for an
older generation; Ready=False or Unknown is Progressing with the condition's message.

The generation rule is kstatus's: a `status.observedGeneration` that is present and differs from
`metadata.generation` means the status describes another spec. A missing one proves nothing here,
because many controllers never write it (cert-manager records it per condition instead, which the
Ready check reads), so the conditions are judged as they are.

An object without status, or whose status uses none of these conventions, has no health this
module can judge: None, which callers treat as healthy by absence (as Argo CD does for unknown
kinds).
"""

from __future__ import annotations

from tether.engine.health import conditions, fields, generations, results
from tether.engine.health.conditions import Condition
from tether.engine.health.generations import Tracking
from tether.model.health import HealthResult
from tether.model.resources import Body


def assess(obj: Body) -> HealthResult | None:
    if not fields.mapping(obj, "status"):
        return None
    return generations.lagging(obj, Tracking.WHEN_PRESENT) or _abnormal(obj) or _ready(obj)


def _abnormal(obj: Body) -> HealthResult | None:
    stalled = conditions.true(obj, "Stalled")
    if stalled is not None:
        return results.degraded(stalled.explanation or "Stalled")
    reconciling = conditions.true(obj, "Reconciling")
    if reconciling is not None:
        return results.progressing(reconciling.explanation or "Reconciling")
    return None


def _ready(obj: Body) -> HealthResult | None:
    ready = conditions.find(obj, "Ready")
    if ready is None:
        return None
    if not ready.is_true:
        return results.progressing(ready.explanation or "Not ready")
    if _stale(ready, fields.optional_int(obj, "metadata", "generation")):
        return results.progressing("Waiting for Ready to reflect the latest generation")
    return results.healthy(ready.message)


def _stale(condition: Condition, generation: int | None) -> bool:
    observed = condition.observed_generation
    return generation is not None and observed is not None and observed < generation
