"""Namespace health: Active is Healthy, Terminating is Progressing.

A Namespace is deleted by the namespace controller emptying it; its conditions say what it is
waiting for (NamespaceContentRemaining, NamespaceFinalizersRemaining), which makes a better
message than a bare "pending deletion". When the controller reports it cannot finish
(NamespaceDeletionDiscoveryFailure: an aggregated API is down; NamespaceDeletionContentFailure,
NamespaceDeletionGroupVersionParsingFailure), the Namespace is stuck: Degraded.

No observedGeneration check: Namespaces have no `metadata.generation` and their status none; the
phase is set by the API server and the namespace controller directly.
"""

from __future__ import annotations

from tether.engine.health import conditions, deletions, fields, results
from tether.model.health import HealthResult
from tether.model.resources import Body

FAILURES = (
    "NamespaceDeletionDiscoveryFailure",
    "NamespaceDeletionContentFailure",
    "NamespaceDeletionGroupVersionParsingFailure",
)
WAITING = ("NamespaceContentRemaining", "NamespaceFinalizersRemaining")


def assess(namespace: Body) -> HealthResult:
    phase = fields.text(namespace, "status", "phase")
    if phase != "Terminating" and not deletions.pending(namespace):
        return results.healthy()
    return _failure(namespace) or _terminating(namespace)


def _failure(namespace: Body) -> HealthResult | None:
    failed = [c for t in FAILURES if (c := conditions.true(namespace, t))]
    if not failed:
        return None
    return results.degraded(
        results.joined("Deletion is stuck", "; ".join(c.explanation for c in failed))
    )


def _terminating(namespace: Body) -> HealthResult:
    waiting = [c for t in WAITING if (c := conditions.true(namespace, t))]
    detail = "; ".join(c.explanation for c in waiting)
    return results.progressing(results.joined("Terminating", detail))
