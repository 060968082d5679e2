"""Project roles: the policy lines a Project object contributes, confined to that project.

A Project (`projects.tether.dev`) may define `spec.roles[] {name, policies, groups}`. Its
policies are written by whoever may edit the project, who must not gain anything outside it: a
line is kept only if its subject is the role itself (`proj:<project>:<role>`) and it reaches only
the project's own objects (`<project>/...` for applications, promotions and audit, the project's
name for projects). Anything else is ignored with a warning, as Argo CD does; a deny is dropped
too, since binding an outside group to a role that denies could lock other teams out.

A line that cannot be read at all is different: dropping it could drop a deny, and so grant. A
role with an unreadable line therefore denies everything in its project until it is fixed.

This works on the raw object (a dict), so it does not depend on how projects are modelled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import structlog

from tether.authz import policies
from tether.authz.policies import ANY, Binding, Effect, Resource, Rule

log = structlog.get_logger(__name__)
_ROLE_NAME = re.compile(r"^[A-Za-z0-9]([-_.A-Za-z0-9]*[A-Za-z0-9])?$")
_PROJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")  # a Kubernetes object name


def role_subject(project: str, role: str) -> str:
    return f"proj:{project}:{role}"


def _outside(rule: Rule, project: str, subject: str) -> str:
    """Why the rule reaches outside its project ("" when it does not)."""
    if rule.subject != subject:
        return f"the subject of a rule of this role must be {subject}"
    if rule.resource == Resource.PROJECTS:
        return "" if rule.object == project else f"a projects rule must name {project} itself"
    if rule.resource not in policies.PROJECT_SCOPED:
        scoped = ", ".join(sorted(policies.PROJECT_SCOPED))
        return f"a project role may grant on {scoped} or projects, not {rule.resource}"
    if not rule.object.startswith(f"{project}/"):
        return f"objects must be in this project ({project}/...)"
    return ""


def _quarantine(project: str, subject: str) -> list[Rule]:
    """Deny everything in the project: what an unreadable role grants until it is fixed."""
    return [
        Rule(subject, ANY, ANY, f"{project}/*", Effect.DENY),
        Rule(subject, Resource.PROJECTS, ANY, project, Effect.DENY),
    ]


def _list(value: object) -> list[Any]:
    """A list field of the raw object; anything else (the CRD schema forbids it) is empty."""
    return value if isinstance(value, list) else []


def _role_rules(project: str, role: str, texts: object) -> list[Rule]:
    subject = role_subject(project, role)
    if texts is not None and not isinstance(texts, list):
        log.warning("project role unreadable: it denies everything", project=project, role=role)
        return _quarantine(project, subject)
    kept: list[Rule] = []
    for index, text in enumerate(texts or [], start=1):
        if isinstance(text, str) and not policies.meaningful(text):
            continue
        where = {"project": project, "role": role, "policy": index, "line": text}
        try:
            line = policies.parse_line(str(text))
        except policies.InvalidLine as exc:
            log.warning("project role unreadable: it denies everything", **where, error=str(exc))
            return _quarantine(project, subject)
        reason = (
            "a project role binds groups through its groups list, not g lines"
            if isinstance(line, Binding)
            else _outside(line, project, subject)
        )
        if reason:
            log.warning("project role policy ignored", **where, reason=reason)
            continue
        assert isinstance(line, Rule)
        kept.append(line)
    return kept


def _binding(group: object, subject: str) -> Binding | None:
    """The group's binding to the role, if the group is a plain name (checked as the policy's
    own lines are, so what this module emits always parses)."""
    if not isinstance(group, str) or group.startswith(("role:", "proj:")):
        return None  # a role here would make the project's role a member of a global role
    try:
        line = policies.parse_line(policies.format_line(Binding(group.strip(), subject)))
    except policies.InvalidLine:
        return None
    return line if isinstance(line, Binding) else None


def _groups(project: str, role: str, groups: list[Any]) -> list[Binding]:
    subject = role_subject(project, role)
    bindings = []
    for group in groups:
        binding = _binding(group, subject)
        if binding is None:
            log.warning("project role group ignored", project=project, role=role, group=group)
            continue
        bindings.append(binding)
    return bindings


def _valid_role_name(name: object) -> bool:
    return isinstance(name, str) and bool(_ROLE_NAME.match(name))


def roles_from_project(project_body: Mapping[str, Any]) -> list[str]:
    """The policy lines (p and g) of a Project's roles, confined to the project."""
    project = str((project_body.get("metadata") or {}).get("name") or "")
    spec = project_body.get("spec") or {}
    lines: list[policies.Line] = []
    for role in _list(spec.get("roles")):
        name = role.get("name") if isinstance(role, Mapping) else None
        if not _PROJECT_NAME.match(project) or not _valid_role_name(name):
            log.warning("project role ignored: it needs a name", project=project, role=name)
            continue
        assert isinstance(name, str)
        lines.extend(_role_rules(project, name, role.get("policies")))
        lines.extend(_groups(project, name, _list(role.get("groups"))))
    return [policies.format_line(line) for line in lines]
