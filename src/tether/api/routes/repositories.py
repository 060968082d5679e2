"""Repository credentials: list (never a password or key), create, update, delete.

Each is a labelled Secret in tether's namespace, as tether.source.kubecredentials reads them:
`repository` for one URL, `repo-creds` for every URL starting with it. RBAC names them by URL.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from tether.api import audits, credentials
from tether.api.access import Caller, caller, changing_caller
from tether.api.models import Repositories, RepositoryInfo, RepositoryWrite
from tether.api.problems import Problem, not_found
from tether.api.routes.common import PREFIX, PROBLEMS
from tether.authz.policies import Action, Resource
from tether.model.resources import Body

router = APIRouter(prefix=PREFIX, tags=["repositories"], responses=PROBLEMS)
R = Resource.REPOSITORIES
Kind = Annotated[str, Query(pattern="^(repository|repo-creds)$")]


async def _secrets(who: Caller) -> dict[tuple[str, str], Body]:
    return await credentials.repository_secrets(who.services.runtime.kube, who.services.namespace)


@router.get("/repositories", response_model=Repositories)
async def list_repositories(who: Annotated[Caller, Depends(caller)]) -> dict[str, Any]:
    """Repositories with credentials that the caller may see (which credentials, not what)."""
    shown = [credentials.repository_info(s) for s in (await _secrets(who)).values()]
    return {"items": who.visible(R, shown, lambda r: str(r["url"]))}


def _params(body: RepositoryWrite) -> dict[str, Any]:
    return {"url": body.url, "type": body.type, "username": body.username}


async def _write(who: Caller, body: RepositoryWrite, creating: bool) -> dict[str, Any]:
    what = f"repository {body.url}"
    name = audits.REPOSITORY_CREATE if creating else audits.REPOSITORY_UPDATE
    async with audits.audited(who, audits.Action(name, R, body.url), _params(body)):
        existing = (await _secrets(who)).get((body.type, body.url))
        if creating:
            who.require_new(R, Action.CREATE, body.url, what)
            if existing is not None:
                raise Problem(409, f"{what} exists; update it with PUT", "conflict")
        elif existing is None:
            raise not_found(what)
        else:
            who.require(R, Action.UPDATE, body.url, what)
        fields = body.model_dump()
        await credentials.write_repository(
            who.services.runtime.kube, who.services.namespace, fields, existing
        )
    return {
        **_params(body),
        "hasPassword": bool(body.password),
        "hasSshPrivateKey": bool(body.sshPrivateKey),
    }


@router.post("/repositories", status_code=201, response_model=RepositoryInfo)
async def create_repository(
    body: RepositoryWrite, who: Annotated[Caller, Depends(changing_caller)]
) -> dict[str, Any]:
    """Store credentials for a repository (or, with type repo-creds, a URL prefix)."""
    return await _write(who, body, creating=True)


@router.put("/repositories", response_model=RepositoryInfo)
async def update_repository(
    body: RepositoryWrite, who: Annotated[Caller, Depends(changing_caller)]
) -> dict[str, Any]:
    """Replace a repository's credentials (all fields: what is left out is removed)."""
    return await _write(who, body, creating=False)


@router.delete("/repositories", status_code=204)
async def delete_repository(
    who: Annotated[Caller, Depends(changing_caller)],
    url: Annotated[str, Query(min_length=1)],
    type: Kind = "repository",
) -> Response:
    what = f"repository {url}"
    async with audits.audited(who, audits.Action(audits.REPOSITORY_DELETE, R, url), {"url": url}):
        found = (await _secrets(who)).get((type, url))
        if found is None:
            raise not_found(what)
        who.require(R, Action.DELETE, url, what)
        await credentials.delete(who.services.runtime.kube, found)
    return Response(status_code=204)
