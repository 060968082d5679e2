"""CronJob health, read from the timestamps the CronJob controller keeps in status.

Suspended is Suspended. A CronJob that has never been scheduled, or whose Job is running right
now, is Healthy: there is no finished run to judge. Once a run has been scheduled and nothing is
active, that run succeeded only if `lastSuccessfulTime` is not older than `lastScheduleTime`;
otherwise it failed (or was deleted before finishing) and the CronJob is Degraded. This relies on
`lastSuccessfulTime`, which every supported Kubernetes version maintains (it arrived in 1.21).

No observedGeneration check: CronJobStatus has no such field and the CronJob controller records
none. Its status is about past runs, not about the spec; a changed schedule or template applies to
the next run.
"""

from __future__ import annotations

from tether.engine.health import fields, results
from tether.model.health import HealthResult
from tether.model.resources import Body


def assess(cron_job: Body) -> HealthResult:
    if fields.flag(cron_job, "spec", "suspend"):
        return results.suspended("CronJob is suspended")
    scheduled = fields.timestamp(cron_job, "status", "lastScheduleTime")
    if scheduled is None:
        return results.healthy("Not scheduled yet")
    active = fields.items(cron_job, "status", "active")
    if active:
        return results.healthy(f"Job {fields.text(active[0], 'name')} is running")
    return _last_run(cron_job)


def _last_run(cron_job: Body) -> HealthResult:
    scheduled_text = fields.text(cron_job, "status", "lastScheduleTime")
    scheduled = fields.timestamp(cron_job, "status", "lastScheduleTime")
    succeeded = fields.timestamp(cron_job, "status", "lastSuccessfulTime")
    if succeeded is None:
        return results.degraded(
            f"No run has succeeded yet; the last was scheduled at {scheduled_text}"
        )
    if scheduled is not None and succeeded < scheduled:
        last_success = fields.text(cron_job, "status", "lastSuccessfulTime")
        return results.degraded(
            f"The run scheduled at {scheduled_text} did not succeed; last success at {last_success}"
        )
    return results.healthy(
        f"Last run succeeded at {fields.text(cron_job, 'status', 'lastSuccessfulTime')}"
    )
