"""What every request can reach, opened once by the app's lifespan: `Services`.

This is the contract for code mounted on the same FastAPI app (the web UI): read it with
`services.of(request)` and authenticate with the dependencies in `tether.api.access`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import structlog
from starlette.requests import Request

from tether.api.authentication import AuditingAuthenticator
from tether.api.settings import ServerSettings
from tether.api.watch import AppWatch
from tether.audit.store import AuditLog
from tether.authz.loader import LoaderOptions, PolicyLoader
from tether.service.runtime import Runtime, open_runtime

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Services:
    settings: ServerSettings
    runtime: Runtime  # kube client, app store, cluster registry, Git, orchestrator (tether.service)
    authn: AuditingAuthenticator  # who is asking (tether.auth), logins audited
    policies: PolicyLoader  # `await policies.authorizer()`: what they may do (tether.authz)
    audit: AuditLog | None  # where user actions are recorded (None: not recorded)
    apps: AppWatch  # the shared watch of Applications: summaries, SSE fan-out

    @property
    def namespace(self) -> str:
        return self.runtime.settings.namespace


def of(request: Request) -> Services:
    services = getattr(request.app.state, "services", None)
    if not isinstance(services, Services):
        raise RuntimeError("the API's services are not open (lifespan not run)")
    return services


def _open_audit(path: Path | None) -> AuditLog | None:
    return AuditLog.open(path) if path is not None else None


@asynccontextmanager
async def open_services(settings: ServerSettings) -> AsyncIterator[Services]:
    """Connect everything; on the way out, close it in reverse order."""
    namespace = settings.runtime.namespace
    auth_settings = replace(settings.auth, namespace=namespace)
    async with open_runtime(settings.runtime) as runtime:
        authn = AuditingAuthenticator(auth_settings, runtime.kube)
        audit = _open_audit(settings.audit_db)
        authn.audit = audit
        watch = AppWatch(runtime.kube, namespace, settings.subscriber_queue)
        try:
            await _bootstrap_admin(authn)
            watch.start()
            if not await watch.wait_ready(settings.watch_ready_seconds):
                log.warning("Applications not listed yet; lists read the API until they are")
            policies = PolicyLoader(runtime.kube, LoaderOptions(namespace=namespace))
            yield Services(settings, runtime, authn, policies, audit, watch)
        finally:
            await watch.aclose()
            authn.close()
            if audit is not None:
                await asyncio.to_thread(audit.close)


async def _bootstrap_admin(authn: AuditingAuthenticator) -> None:
    password = await authn.ensure_admin()
    if password is not None:  # only when it was just created; never logged (logs are shipped)
        log.warning(
            "created the local account `admin`; its password is in the Secret "
            "tether-initial-admin (key `password`): log in, change it, delete that Secret"
        )
