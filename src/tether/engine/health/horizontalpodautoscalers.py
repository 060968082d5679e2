"""HorizontalPodAutoscaler health, from the autoscaling/v2 conditions.

- AbleToScale=False because the target's scale cannot be read or written (FailedGetScale,
  FailedUpdateScale) is Degraded. AbleToScale=False while backing off after a recent scale is
  normal operation and stays Healthy.
- ScalingActive=False is Degraded when metrics cannot be computed (FailedGet*Metric,
  InvalidSelector, ...), and Suspended for ScalingDisabled: someone scaled the target to zero,
  which turns autoscaling off until it is scaled up again.
- AbleToScale=True and ScalingActive=True is Healthy; ScalingLimited=True (pinned at min or max)
  is still Healthy, with its message.
- Anything less (a new HPA with no conditions yet) is Progressing.

autoscaling/v1 objects carry the same conditions JSON-encoded in an annotation; they are read from
there when `status.conditions` is absent.

The API has a `status.observedGeneration`, but the HPA controller does not write it (it rebuilds
status from replicas, metrics and conditions only), and the API server sets no
`metadata.generation` on HPAs; so it is compared only when both are present (WHEN_PRESENT), and
absent means nothing.
"""

from __future__ import annotations

import json

from tether.engine.health import conditions, fields, generations, results
from tether.engine.health.generations import Tracking
from tether.model.health import HealthResult
from tether.model.resources import Body

V1_CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
SCALE_FAILURES = frozenset({"FailedGetScale", "FailedUpdateScale"})


def assess(hpa: Body) -> HealthResult:
    hpa = _with_v1_conditions(hpa)
    return (
        generations.lagging(hpa, Tracking.WHEN_PRESENT)
        or _able_to_scale(hpa)
        or _scaling_active(hpa)
    )


def _able_to_scale(hpa: Body) -> HealthResult | None:
    able = conditions.find(hpa, "AbleToScale")
    if able is not None and able.is_false and able.reason in SCALE_FAILURES:
        return results.degraded(able.explanation)
    return None


def _scaling_active(hpa: Body) -> HealthResult:
    active = conditions.find(hpa, "ScalingActive")
    if active is None or conditions.find(hpa, "AbleToScale") is None:
        return results.progressing("Waiting for the autoscaler to assess its target")
    if active.reason == "ScalingDisabled":
        return results.suspended(active.explanation)
    if active.is_false:
        return results.degraded(active.explanation)
    if not active.is_true:
        return results.progressing(active.explanation)
    # Backing off after a recent scale, or pinned at min/max: working as configured, worth saying.
    able = conditions.find(hpa, "AbleToScale")
    note = conditions.true(hpa, "ScalingLimited") or (able if able and able.is_false else None)
    return results.healthy(note.explanation if note else "")


def _with_v1_conditions(hpa: Body) -> Body:
    """An autoscaling/v1 body with its annotation's conditions moved into status.conditions."""
    raw = fields.text(hpa, "metadata", "annotations", V1_CONDITIONS_ANNOTATION)
    if not raw or fields.items(hpa, "status", "conditions"):
        return hpa
    try:
        decoded = json.loads(raw)
    except ValueError:
        return hpa
    return {**hpa, "status": {**fields.mapping(hpa, "status"), "conditions": decoded}}
