"""Job health: Complete is Healthy, Failed is Degraded, suspended is Suspended.

Since Kubernetes 1.31 a finishing Job first gets an interim condition (SuccessCriteriaMet or
FailureTarget) while its remaining pods terminate, and the terminal one (Complete or Failed) only
after. The outcome is already decided by then: FailureTarget is reported as Degraded at once, and
SuccessCriteriaMet stays Progressing until Complete, so that a sync hook is never considered done
while its pods are still running. `spec.suspend` is honoured before the controller acknowledges
it with a Suspended condition.

No observedGeneration check: JobStatus has no such field and the Job controller records none. Most
of a Job's spec cannot change after creation; of what can, `suspend` is read from the spec itself,
and a Job's conditions and counts describe its pods, which a later spec change does not undo.
"""

from __future__ import annotations

from tether.engine.health import conditions, fields, results
from tether.model.health import HealthResult
from tether.model.resources import Body


def assess(job: Body) -> HealthResult:
    return _finished(job) or _suspended(job) or _running(job)


def _finished(job: Body) -> HealthResult | None:
    failed = conditions.true(job, "Failed") or conditions.true(job, "FailureTarget")
    if failed is not None:
        return results.degraded(results.joined("Failed", failed.explanation))
    complete = conditions.true(job, "Complete")
    if complete is not None:
        return results.healthy(complete.message or "Job completed")
    return None


def _suspended(job: Body) -> HealthResult | None:
    condition = conditions.true(job, "Suspended")
    if condition is None and not fields.flag(job, "spec", "suspend"):
        return None
    return results.suspended("Job is suspended")


def _running(job: Body) -> HealthResult:
    if conditions.true(job, "SuccessCriteriaMet") is not None:
        return results.progressing("Job succeeded; waiting for its pods to terminate")
    active = fields.integer(job, "status", "active")
    succeeded = fields.integer(job, "status", "succeeded")
    failed = fields.integer(job, "status", "failed")
    completions = fields.integer(job, "spec", "completions", default=1)
    retries = f", {failed} failed (backoff limit {_backoff_limit(job)})" if failed else ""
    return results.progressing(
        f"Running: {active} active, {succeeded} of {completions} completions succeeded{retries}"
    )


def _backoff_limit(job: Body) -> int:
    return fields.integer(job, "spec", "backoffLimit", default=6)
