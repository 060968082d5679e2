"""Projects: list, get, create, replace the spec, delete (one that no Application uses)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from tether.api import audits
from tether.api.access import Caller, caller, changing_caller
from tether.api.models import ProjectCreate, Projects, ProjectUpdate
from tether.api.problems import Problem, not_found
from tether.api.routes.common import PREFIX, PROBLEMS, Name, shown
from tether.authz.policies import Action, Resource
from tether.model.resources import Body
from tether.service import projects as use
from tether.service.apps import UseCaseError

router = APIRouter(prefix=PREFIX, tags=["projects"], responses=PROBLEMS)
P = Resource.PROJECTS


async def _find(who: Caller, name: str) -> Body | None:
    return await who.services.runtime.projects.get(name)


def _require(who: Caller, found: Body | None, name: str, action: Action) -> Body:
    if found is None:
        raise not_found(f"project {name}")
    who.require(P, action, name, f"project {name}")
    return found


@router.get("/projects", response_model=Projects)
async def list_projects(who: Annotated[Caller, Depends(caller)]) -> dict[str, Any]:
    """The Projects the caller may see."""
    found = await use.list_projects(who.services.runtime)
    items = who.visible(P, found, lambda b: str(b["metadata"]["name"]))
    return {"items": [shown(b) for b in items]}


@router.get("/projects/{name}")
async def get_project(name: Name, who: Annotated[Caller, Depends(caller)]) -> dict[str, Any]:
    return shown(_require(who, await _find(who, name), name, Action.GET))


@router.post("/projects", status_code=201)
async def create_project(
    body: ProjectCreate, who: Annotated[Caller, Depends(changing_caller)], upsert: bool = False
) -> dict[str, Any]:
    """Create a Project (Argo CD's AppProject fields; the same spec again is a no-op)."""
    name = body.metadata.name
    action = audits.Action(audits.PROJECT_CREATE, P, name, name)
    async with audits.audited(who, action, {"spec": body.spec, "upsert": upsert}):
        who.require_new(P, Action.CREATE, name, f"project {name}")
        existing = await _find(who, name)
        if existing is not None and upsert:
            _require(who, existing, name, Action.UPDATE)
        try:
            created = await use.create_spec(who.services.runtime, name, body.spec, upsert)
        except UseCaseError as exc:
            raise Problem(409 if existing else 400, str(exc)) from None
    return shown(created)


@router.put("/projects/{name}")
async def update_project(
    name: Name, body: ProjectUpdate, who: Annotated[Caller, Depends(changing_caller)]
) -> dict[str, Any]:
    """Replace a Project's spec."""
    found = await _find(who, name)
    action = audits.Action(audits.PROJECT_UPDATE, P, name, name)
    async with audits.audited(who, action, {"spec": body.spec}):
        _require(who, found, name, Action.UPDATE)
        updated = await use.replace_spec(who.services.runtime, name, body.spec)
    return shown(updated)


@router.delete("/projects/{name}", status_code=204)
async def delete_project(name: Name, who: Annotated[Caller, Depends(changing_caller)]) -> Response:
    """Delete a Project; refused (409) while Applications use it."""
    found = await _find(who, name)
    action = audits.Action(audits.PROJECT_DELETE, P, name, name)
    async with audits.audited(who, action):
        _require(who, found, name, Action.DELETE)
        try:
            await use.delete(who.services.runtime, name)
        except UseCaseError as exc:
            raise Problem(409, str(exc), "conflict") from None
    return Response(status_code=204)
