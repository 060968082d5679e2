"""Deciding: may this principal do this action to this object? (pycasbin, Argo CD's model.)

The policy is the built-in roles, the user's policy.csv and the projects' roles, checked line by
line (tether.authz.policies). Casbin holds it and resolves role bindings (`g`, transitively). A
principal is several subjects at once (its name, its groups, its project role, the default
role), and deny must win across all of them: an allow through a group must not beat a deny on the
user. So a decision gathers every role the principal's subjects reach, and asks a casbin
enforcer holding only the rules of those roles, whose effect is "some allow and no deny".

That small enforcer is built once per distinct set of roles and kept: casbin evaluates every rule
it holds on every request, so a list of a thousand applications checked against the whole policy
would cost a second; against the handful of rules one principal has, it costs a few milliseconds.

Unlike Argo CD, the default role is one more subject, so a deny can take its grants away too.
"""

from __future__ import annotations

import fnmatch
import functools
import re
import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

import casbin
import structlog

from tether.authz import policies
from tether.authz.policies import Action, Policy, PolicyError, Resource
from tether.model.principals import Principal, PrincipalKind

log = structlog.get_logger(__name__)
T = TypeVar("T")

# Role resolution: which roles a subject holds (g lines, transitively).
_ROLES_MODEL = """
[request_definition]
r = sub
[policy_definition]
p = sub
[role_definition]
g = _, _
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = g(r.sub, p.sub)
"""

# Decisions, over the rules of one principal's roles: some allow and no deny.
_DECISION_MODEL = """
[request_definition]
r = res, act, obj
[policy_definition]
p = sub, res, act, obj, eft
[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))
[matchers]
m = keyMatch(r.res, p.res) && keyMatch(r.act, p.act) && objectMatch(r.obj, p.obj)
"""
_VIEWS_KEPT = 1024  # distinct role sets; beyond that the oldest is rebuilt on next use
_RESERVED = ("role:", "proj:")  # prefixes only the policy may give a subject


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern))


def object_match(obj: str, pattern: str) -> bool:
    """Object globs: `*` matches any characters, `/` included (`team-a/*`, `https://git/*`)."""
    return pattern == policies.ANY or bool(_glob(pattern).match(obj))


def _enforcer(model_text: str) -> casbin.Enforcer:
    model = casbin.Enforcer.new_model(text=model_text)
    enforcer = casbin.Enforcer(model)  # no adapter: the policy is added below, never saved
    enforcer.add_function("objectMatch", object_match)
    return enforcer


class Authorizer:
    """An immutable policy and the decisions it gives. Build with `from_config`."""

    def __init__(self, policy: Policy, default_role: str = "", error: str = "") -> None:
        self.policy = policy
        self.default_role = default_role
        self.error = error  # why this authorizer denies everything (a broken policy), or ""
        self._roles = _enforcer(_ROLES_MODEL)
        bindings = list(dict.fromkeys((b.member, b.role) for b in policy.bindings))
        if bindings:
            self._roles.add_grouping_policies([list(b) for b in bindings])
        self._rules_of: dict[str, list[list[str]]] = {}
        for rule in dict.fromkeys(policy.rules):
            self._rules_of.setdefault(rule.subject, []).append(rule.fields())
        self._views: dict[frozenset[str], casbin.Enforcer] = {}
        self._lock = threading.Lock()  # the API server may decide from several threads

    @classmethod
    def from_config(
        cls, policy_csv: str, default_role: str = "", project_roles: Iterable[str] = ()
    ) -> Authorizer:
        """The built-in roles, then policy.csv, then the project roles' lines (see
        tether.authz.projectroles). PolicyError lists every unusable line with its number."""
        problems: list[policies.Problem] = []
        parts = [policies.parse(policies.BUILTIN, "built-in policy")]
        for lines, source in (
            (policy_csv.splitlines(), "policy.csv"),
            (list(project_roles), "project roles"),  # one line each, as roles_from_project gives
        ):
            try:
                parts.append(policies.parse_lines(lines, source))
            except PolicyError as exc:
                problems.extend(exc.problems)
        if problems:
            raise PolicyError(problems)
        merged = Policy(
            tuple(r for p in parts for r in p.rules), tuple(b for p in parts for b in p.bindings)
        )
        return cls(merged, default_role.strip())

    @classmethod
    def deny_all(cls, error: str) -> Authorizer:
        """What a broken policy gives: nothing is allowed, and `error` says why."""
        return cls(Policy(), error=error)

    # ---- subjects -------------------------------------------------------------------------

    def subjects(self, principal: Principal) -> tuple[str, ...]:
        """The names policies may refer to this principal by. A token acts only as its project
        role (its own name could collide with a user's); names and groups that look like roles
        are dropped (an identity provider's group called "role:admin" must not be the role);
        the anonymous principal is nobody."""
        if principal.kind is PrincipalKind.ANONYMOUS:
            return ()
        if principal.kind is PrincipalKind.TOKEN:
            return (principal.project_role,) if principal.project_role.startswith("proj:") else ()
        names = [s for s in principal.subjects() if s and not s.startswith(_RESERVED)]
        if self.default_role:
            names.append(self.default_role)
        return tuple(dict.fromkeys(names))

    def roles(self, principal: Principal) -> frozenset[str]:
        """Every subject and role the principal holds, bindings followed transitively."""
        held: set[str] = set()
        for subject in self.subjects(principal):
            held.add(subject)
            held.update(self._roles.get_implicit_roles_for_user(subject))
        return frozenset(held)

    # ---- decisions ------------------------------------------------------------------------

    def _view(self, roles: frozenset[str]) -> casbin.Enforcer:
        with self._lock:
            view = self._views.get(roles)
            if view is None:
                view = _enforcer(_DECISION_MODEL)
                rows = [row for role in sorted(roles) for row in self._rules_of.get(role, [])]
                if rows:
                    view.add_policies(rows)
                if len(self._views) >= _VIEWS_KEPT:
                    self._views.pop(next(iter(self._views)))
                self._views[roles] = view
            return view

    def allowed(self, principal: Principal, resource: Resource, action: Action, obj: str) -> bool:
        """Whether the principal may do action to obj (an application is "<project>/<name>")."""
        if self.error:
            return False
        request = (str(Resource(resource)), str(Action(action)), obj)  # a typo fails loudly
        return bool(self._view(self.roles(principal)).enforce(*request))

    def visible(
        self,
        principal: Principal,
        resource: Resource,
        objs: Iterable[T],
        key: Callable[[T], str] = str,
    ) -> list[T]:
        """The objects the principal may get, in their order (`key` names each one)."""
        if self.error:
            return []
        view = self._view(self.roles(principal))
        res, get = str(Resource(resource)), str(Action.GET)
        return [o for o in objs if view.enforce(res, get, key(o))]
