"""Who is asking, and may they? FastAPI dependencies and the checks every route makes.

Every API route depends on `caller` (reads) or `changing_caller` (writes: a cookie session must
also send its CSRF token). Both answer 401 to an anonymous request: tether's RBAC grants nothing
to anonymous principals, so there is nothing an unauthenticated caller could be allowed.

Hiding what one may not see: `Caller.require` answers an object the caller may not even `get`
with the very problem a missing object gets (404, same title, type and detail), so a name tells
nobody whether it exists. Only a caller who may see the object learns that an action on it is
forbidden (403). Both are raised as `Denied`, so the audit trail records them as denied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from starlette.requests import Request

from tether.api import services as opened
from tether.api.problems import Problem, forbidden, not_found
from tether.api.services import Services
from tether.auth.errors import Unauthenticated
from tether.authz.authorizer import Authorizer
from tether.authz.policies import Action, Resource
from tether.model.principals import Principal

T = TypeVar("T")


class Denied(Problem):
    """An authorization refusal (404 for what the caller cannot see, else 403)."""


@dataclass(frozen=True)
class Caller:
    principal: Principal
    authz: Authorizer
    address: str
    services: Services

    def may(self, resource: Resource, action: Action, obj: str) -> bool:
        return self.authz.allowed(self.principal, resource, action, obj)

    def require(self, resource: Resource, action: Action, obj: str, what: str) -> None:
        """Allowed, or Denied: 404 (exactly a missing object's answer) if the caller may not
        see the object, else 403. `what` names the object as the path did."""
        if self.may(resource, action, obj):
            return
        if action is not Action.GET and self.may(resource, Action.GET, obj):
            raise _denied(forbidden(f"{self.principal.name} may not {action} {what}"))
        raise _denied(not_found(what))

    def require_new(self, resource: Resource, action: Action, obj: str, what: str) -> None:
        """For an object that does not exist yet (create): 403 when not allowed."""
        if not self.may(resource, action, obj):
            raise _denied(forbidden(f"{self.principal.name} may not {action} {what}"))

    def visible(
        self, resource: Resource, items: Iterable[T], key: Callable[[T], str] = str
    ) -> list[T]:
        return self.authz.visible(self.principal, resource, items, key)


def _denied(problem: Problem) -> Denied:
    denied = Denied(problem.status, problem.detail)
    denied.type, denied.title = problem.type, problem.title
    return denied


def address(request: Request) -> str:
    return request.client.host if request.client else ""


async def caller(request: Request) -> Caller:
    """Dependency: the authenticated caller and the current policy (401 for anonymous)."""
    services = opened.of(request)
    principal = await services.authn.principal(request)
    if not principal.authenticated:
        raise Unauthenticated("log in, or send `Authorization: Bearer <API token>`")
    return Caller(principal, await services.policies.authorizer(), address(request), services)


async def changing_caller(request: Request) -> Caller:
    """Dependency for state-changing routes: as `caller`, plus the CSRF check for cookies."""
    await opened.of(request).authn.require_csrf(request)
    return await caller(request)
