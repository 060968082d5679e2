"""Who carries out an operation: the app's controller, or this process. One executor per app.

A controller that reconciles an app's namespace runs every operation requested for it; a second
executor in a CLI process would race it, both applying and both persisting. So the CLI asks first:
a controller announces itself with a member Lease (`model.leases`), and when a live one is
responsible the CLI only writes the request and follows it, as the API server always does. Only
when none is does the CLI run the operation itself, in-process (a laptop, a test, a bootstrap).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from tether.cluster import errors as api_errors
from tether.model import leases
from tether.reconcile.apps import Application
from tether.service.runtime import Runtime


class Execution(StrEnum):
    CONTROLLER = "controller"  # write the request; the app's controller runs it (the API server)
    HERE_IF_NO_CONTROLLER = "here-if-no-controller"  # the CLI


async def controller_for(rt: Runtime, app: Application) -> str | None:
    """The identity of the live controller responsible for `app`, or None. Leases that cannot
    be read count as a controller ("unknown"): running a second executor is the worse mistake."""
    try:
        found = await rt.kube.list(
            leases.LEASE_API,
            "Lease",
            rt.settings.namespace,
            label_selector=f"{leases.LEASE_LABEL}=member",
        )
    except api_errors.UnknownResource:
        return None
    except api_errors.Forbidden:
        return "unknown (the Leases in this namespace are not readable)"
    return leases.controller_for(found.items, app.ref.namespace, dt.datetime.now(dt.UTC))


async def runs_here(rt: Runtime, app: Application, where: Execution) -> bool:
    """Whether this process carries out the app's next operation itself."""
    if where is Execution.CONTROLLER:
        return False
    return await controller_for(rt, app) is None
