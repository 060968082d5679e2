"""Health of tether's own Application (tether.dev/Application), so app-of-apps waves work.

A parent app that deploys child Applications waits, wave by wave, for each child to be healthy;
the child's health is the one its own controller computed, in `status.health.status`, mapped one
to one. Until that number can be trusted the child is Progressing: while the controller has not
observed the latest spec, while an operation is requested (`operation` set) or running
(`status.operationState.phase` Running or Terminating), and before any health is reported.

tether's controller writes `status.observedGeneration` with every status write (they all go
through reconcile.status.with_conditions), so a child without one has never been reconciled:
Progressing, like one whose observedGeneration is behind.
"""

from __future__ import annotations

from tether.engine.health import fields, generations, results
from tether.engine.health.generations import Tracking
from tether.model.health import HealthResult, HealthStatus
from tether.model.resources import Body

TRACKING = Tracking.ALWAYS  # tether's controller writes observedGeneration with every status write

RUNNING_PHASES = frozenset({"Running", "Terminating"})


def assess(app: Body) -> HealthResult:
    return generations.lagging(app, TRACKING) or _operation(app) or _reported(app)


def _operation(app: Body) -> HealthResult | None:
    if fields.get(app, "operation"):
        return results.progressing("Waiting for the requested operation to start")
    phase = fields.text(app, "status", "operationState", "phase")
    if phase not in RUNNING_PHASES:
        return None
    message = fields.text(app, "status", "operationState", "message")
    return results.progressing(results.joined(f"Operation {phase.lower()}", message))


def _reported(app: Body) -> HealthResult:
    reported = fields.text(app, "status", "health", "status")
    message = fields.text(app, "status", "health", "message")
    if not reported:
        return results.progressing("Waiting for the application's health to be assessed")
    try:
        return HealthResult(HealthStatus(reported), fields.one_line(message))
    except ValueError:
        return results.unknown(f"Unrecognized health status {reported!r}")
