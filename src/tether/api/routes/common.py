"""What the routes share: documented error answers, and finding an Application the caller may
act on (404 for one that is missing or invisible, 403 for one visible but not permitted)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from tether.api import audits
from tether.api.access import Caller
from tether.api.models import NAME, Problem
from tether.api.problems import not_found
from tether.authz.policies import Action, Resource
from tether.reconcile.apps import Application
from tether.service import apps as use

PREFIX = "/api/v1"
_ERRORS = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Permission denied (or a missing CSRF token)",
    404: "Not found, or not visible to the caller",
    409: "Conflict",
    422: "Invalid request",
    502: "The Kubernetes API failed",
    503: "tether is not installed in the cluster",
}
PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": text} for status, text in _ERRORS.items()
}
Namespace = Annotated[str, Path(pattern=NAME, max_length=63, description="The app's namespace.")]
Name = Annotated[str, Path(pattern=NAME, max_length=63)]


def app_object(app: Application) -> tuple[str, str]:
    """(project, "<project>/<name>"): how RBAC and the audit trail name an app."""
    project = str(app.raw_spec.get("project") or "default")
    return project, f"{project}/{app.ref.name}"


async def find_app(who: Caller, namespace: str, name: str) -> Application | None:
    """The app, or None if it does not exist (or lives outside the server's namespace)."""
    if namespace != who.services.namespace:
        return None
    return await use.find(who.services.runtime, name)


def require_app(
    who: Caller, app: Application | None, namespace: str, name: str, action: Action
) -> Application:
    what = f"application {namespace}/{name}"
    if app is None:
        raise not_found(what)
    who.require(Resource.APPLICATIONS, action, app_object(app)[1], what)
    return app


async def app_for(who: Caller, namespace: str, name: str, action: Action) -> Application:
    return require_app(who, await find_app(who, namespace, name), namespace, name, action)


def app_action(name: str, app: Application | None, fallback: str) -> audits.Action:
    """The audit entry's action and object for an app (found or not)."""
    if app is None:
        return audits.Action(name, Resource.APPLICATIONS, fallback)
    project, obj = app_object(app)
    return audits.Action(name, Resource.APPLICATIONS, obj, project)


def shown(body: dict[str, Any]) -> dict[str, Any]:
    """An object as the API shows it: without managedFields (noise, and large)."""
    meta = {k: v for k, v in (body.get("metadata") or {}).items() if k != "managedFields"}
    return {**body, "metadata": meta}
