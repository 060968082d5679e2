"""PersistentVolumeClaim health: Bound is Healthy, Pending is Progressing, Lost is Degraded.

A Bound claim whose expansion the storage driver has declared infeasible (Kubernetes 1.31+ records
this per resource in `status.allocatedResourceStatuses`) is Degraded too: the volume still works,
but the size Git asks for will never arrive without a change. A claim Pending on a
WaitForFirstConsumer storage class stays Progressing until a pod uses it; the message says so.

No observedGeneration check: claims have no `metadata.generation` and their status none; the binder
and the resizer report progress in the phase and `allocatedResourceStatuses` themselves.
"""

from __future__ import annotations

from tether.engine.health import fields, results
from tether.model.health import HealthResult
from tether.model.resources import Body

INFEASIBLE = ("ControllerResizeInfeasible", "NodeResizeInfeasible")


def assess(claim: Body) -> HealthResult:
    phase = fields.text(claim, "status", "phase")
    if phase == "Bound":
        return _bound(claim)
    if phase in ("Pending", ""):
        return results.progressing(_pending_message(claim))
    volume = fields.text(claim, "spec", "volumeName") or "its volume"
    if phase == "Lost":
        return results.degraded(f"Claim lost {volume}: the volume no longer exists")
    return results.unknown(f"Unrecognized claim phase {phase!r}")


def _bound(claim: Body) -> HealthResult:
    statuses = fields.mapping(claim, "status", "allocatedResourceStatuses")
    infeasible = [f"{name}: {state}" for name, state in statuses.items() if state in INFEASIBLE]
    if infeasible:
        return results.degraded(f"Volume expansion is infeasible ({', '.join(infeasible)})")
    volume = fields.text(claim, "spec", "volumeName")
    bound = f"Bound to {volume}" if volume else "Bound"
    resizing = [f"{name}: {state}" for name, state in statuses.items() if state]
    return results.healthy(f"{bound}; resizing ({', '.join(resizing)})" if resizing else bound)


def _pending_message(claim: Body) -> str:
    if fields.text(claim, "metadata", "annotations", "volume.kubernetes.io/selected-node"):
        return "Waiting for the volume to be provisioned on the selected node"
    return "Waiting for a volume to be bound (a WaitForFirstConsumer class binds on first use)"
