"""Use cases: issue and revoke a project role's API token.

The state db's token registry is the authority for revocation, so tokens work before (and
without) the Project CRD. Argo CD also lists a role's tokens in its project, under
`spec.roles[].jwtTokens[]` as `{id, iat, exp}`; when the Project object exists we keep that list
in step, so `kubectl get project -o yaml` shows which tokens a role has. When it does not (no
CRD yet, or no such Project) the token is issued all the same and nothing is written there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from tether.auth import tokens
from tether.auth.errors import Conflict, NotFound
from tether.auth.keys import SigningKeys
from tether.auth.settings import AuthSettings
from tether.auth.tokens import IssuedToken, TokenRecord, TokenRegistry
from tether.cluster import errors as api_errors
from tether.cluster.client import KubeClient

log = structlog.get_logger("tether.auth.projecttokens")
PROJECT_API_VERSION = "tether.dev/v1alpha1"
PROJECT_KIND = "Project"
Roles = list[dict[str, Any]]


@dataclass(frozen=True)
class TokenUseCases:
    kube: KubeClient
    keys: SigningKeys
    registry: TokenRegistry
    settings: AuthSettings
    clock: Callable[[], float]

    async def issue(self, project: str, role: str, expires_in: float | None = None) -> IssuedToken:
        sub = tokens.subject(project, role)
        issued = await tokens.issue(
            self.keys, self.settings, sub, now=self.clock(), expires_in=expires_in
        )
        entry = {"id": issued.jti, "iat": issued.issued_at}
        if issued.expires_at is not None:
            entry["exp"] = issued.expires_at
        await self._edit_role(project, role, lambda listed: [*listed, entry])
        self.registry.record(issued)
        log.info("api token issued", subject=sub, jti=issued.jti, exp=issued.expires_at)
        return issued

    async def revoke(self, jti: str) -> TokenRecord:
        record = self.registry.revoke(jti)
        if parsed := tokens.parse_subject(record.subject):
            project, role = parsed
            await self._edit_role(project, role, lambda ts: [t for t in ts if t.get("id") != jti])
        log.info("api token revoked", subject=record.subject, jti=jti)
        return record

    async def _edit_role(
        self, project: str, role: str, edit: Callable[[Roles], Roles], attempts: int = 5
    ) -> None:
        for _ in range(attempts):
            obj = await self._project(project)
            if obj is None:
                return
            roles = (obj.get("spec") or {}).get("roles") or []
            index = next((i for i, r in enumerate(roles) if r.get("name") == role), None)
            if index is None:
                raise NotFound(f"project {project!r} has no role {role!r}")
            roles[index]["jwtTokens"] = edit(list(roles[index].get("jwtTokens") or []))
            patch = {"metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]}}
            patch["spec"] = {"roles": roles}
            try:
                await self._patch(project, patch)
                return
            except api_errors.Conflict:
                continue  # edited meanwhile: read it again
        raise Conflict(f"project {project!r} keeps changing; try again")

    async def _project(self, name: str) -> dict[str, Any] | None:
        try:
            return await self.kube.get_or_none(
                PROJECT_API_VERSION, PROJECT_KIND, name, self.settings.namespace
            )
        except api_errors.UnknownResource:
            return None  # the Project CRD is not installed

    async def _patch(self, name: str, patch: dict[str, Any]) -> None:
        await self.kube.patch(
            PROJECT_API_VERSION, PROJECT_KIND, name, self.settings.namespace, patch
        )
