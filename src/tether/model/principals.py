"""Who is asking: the identity every API call, UI action and audit record is attributed to.

Authentication (tether.auth) turns a request into a Principal; authorization (tether.authz)
decides what it may do; the audit trail (tether.audit) records it. All three share this type.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PrincipalKind(StrEnum):
    USER = "user"  # a person: local account or OIDC login
    TOKEN = "token"  # an API token scoped to a project role
    SERVICE = "service"  # tether itself (the controller), for audit records
    ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Principal:
    name: str  # user name, OIDC subject/email, token name, or "anonymous"
    kind: PrincipalKind
    groups: tuple[str, ...] = ()
    token_id: str = ""  # the jti of an API token
    project_role: str = ""  # "proj:<project>:<role>" for a token scoped to a project role

    @property
    def authenticated(self) -> bool:
        return self.kind is not PrincipalKind.ANONYMOUS

    def subjects(self) -> tuple[str, ...]:
        """Every name policies may refer to this principal by: itself, its groups, its role."""
        names = [self.name, *self.groups]
        if self.project_role:
            names.append(self.project_role)
        return tuple(names)


ANONYMOUS = Principal("anonymous", PrincipalKind.ANONYMOUS)
CONTROLLER = Principal("tether-controller", PrincipalKind.SERVICE)
