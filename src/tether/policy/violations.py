"""What an Application or its rendered objects do that their Project does not permit.

`check_app` judges the app itself (its source repositories, its destination, which service account
its writes would run as) and runs before anything is fetched; `check` adds every rendered object
(its namespace, its kind) and runs before anything is dry-run or applied. Each violation names the
subject and the rule, in one sentence a tenant can act on.

Resource rules follow Argo CD: a cluster-scoped kind is denied unless whitelisted; a namespaced
kind is allowed unless blacklisted or missing from a non-empty whitelist; a blacklist wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tether.model.app import AppSpec
from tether.model.resources import ResourceKey
from tether.policy import accounts, globs
from tether.policy.projectspecs import Destination, GroupKind, ProjectSpec

Scopes = Mapping[tuple[str, str], bool]
"""(group, kind) -> whether the kind is namespaced (from discovery, or CRDs in the render)."""


class Rule(StrEnum):
    SOURCE_REPOS = "sourceRepos"
    DESTINATIONS = "destinations"
    CLUSTER_RESOURCE_WHITELIST = "clusterResourceWhitelist"
    CLUSTER_RESOURCE_BLACKLIST = "clusterResourceBlacklist"
    NAMESPACE_RESOURCE_WHITELIST = "namespaceResourceWhitelist"
    NAMESPACE_RESOURCE_BLACKLIST = "namespaceResourceBlacklist"
    DESTINATION_SERVICE_ACCOUNTS = "destinationServiceAccounts"


@dataclass(frozen=True)
class Violation:
    rule: Rule
    subject: str  # what broke the rule: a repository URL, a destination, an object key
    message: str

    def __str__(self) -> str:
        return self.message


def _listed(entries: Sequence[object]) -> str:
    return ", ".join(str(e) for e in entries) or "none"


# ---- source repositories -------------------------------------------------------------------


def _normal(url: str) -> str:
    """A repository URL as Argo CD compares them: no trailing slash or `.git`, lower case."""
    return url.strip().rstrip("/").removesuffix(".git").lower()


def _repo_matches(pattern: str, url: str) -> bool:
    return globs.matches(pattern, url) or globs.matches(_normal(pattern), _normal(url))


def _source_violation(project: ProjectSpec, url: str) -> Violation | None:
    denied = [p for p in project.source_repos if globs.is_deny(p)]
    hit = next((p for p in denied if _repo_matches(globs.positive(p), url)), None)
    if hit is not None:
        message = f"source repository {url} is denied by project {project.name} (sourceRepos {hit})"
        return Violation(Rule.SOURCE_REPOS, url, message)
    allowed = [p for p in project.source_repos if not globs.is_deny(p)]
    if any(_repo_matches(p, url) for p in allowed):
        return None
    message = (
        f"source repository {url} is not permitted by project {project.name} "
        f"(sourceRepos: {_listed(allowed)})"
    )
    return Violation(Rule.SOURCE_REPOS, url, message)


# ---- destinations --------------------------------------------------------------------------


def destination_denial(project: ProjectSpec, cluster: str, namespace: str) -> str:
    """Why the project does not permit this cluster and namespace, or "" if it does.
    A matching deny entry wins over any allow entry."""
    deny = next((d for d in project.destinations if d.deny and d.matches(cluster, namespace)), None)
    if deny is not None:
        return f"denied by project {project.name} (destinations {deny})"
    allowed: list[Destination] = [d for d in project.destinations if not d.deny]
    if any(d.matches(cluster, namespace) for d in allowed):
        return ""
    return f"not permitted by project {project.name} (destinations: {_listed(allowed)})"


def _destination_violation(project: ProjectSpec, spec: AppSpec) -> Violation | None:
    dest = spec.destination
    why = destination_denial(project, dest.cluster, dest.namespace)
    if not why:
        return None
    where = f"cluster {dest.cluster}, namespace {dest.namespace or '(none)'}"
    return Violation(Rule.DESTINATIONS, where, f"destination {where} is {why}")


def _account_violation(project: ProjectSpec, spec: AppSpec) -> Violation | None:
    dest = spec.destination
    try:
        accounts.service_account_for(project, dest.cluster, dest.namespace)
    except accounts.NoServiceAccount as exc:
        where = f"cluster {dest.cluster}, namespace {dest.namespace or '(none)'}"
        return Violation(Rule.DESTINATION_SERVICE_ACCOUNTS, where, str(exc))
    return None


def check_app(project: ProjectSpec, spec: AppSpec) -> list[Violation]:
    """What the app itself breaks: its sources, its destination, its service account."""
    found = [_source_violation(project, s.repo_url) for s in spec.sources]
    found += [_destination_violation(project, spec), _account_violation(project, spec)]
    return [v for v in found if v is not None]


# ---- objects -------------------------------------------------------------------------------


def _first(entries: Iterable[GroupKind], key: ResourceKey) -> GroupKind | None:
    return next((e for e in entries if e.matches(key.group, key.kind)), None)


def _kind_violation(project: ProjectSpec, key: ResourceKey, namespaced: bool) -> Violation | None:
    """Argo CD's rules for which kinds a project may create."""
    name = project.name
    if namespaced:
        blacklist, whitelist = (
            project.namespace_resource_blacklist,
            project.namespace_resource_whitelist,
        )
        rules = (Rule.NAMESPACE_RESOURCE_BLACKLIST, Rule.NAMESPACE_RESOURCE_WHITELIST)
        scope = ""
    else:
        blacklist, whitelist = (
            project.cluster_resource_blacklist,
            project.cluster_resource_whitelist,
        )
        rules = (Rule.CLUSTER_RESOURCE_BLACKLIST, Rule.CLUSTER_RESOURCE_WHITELIST)
        scope = "cluster-scoped "
    if (hit := _first(blacklist, key)) is not None:
        message = f"{key}: {scope}kind {key.group_kind} is in project {name}'s {rules[0]} ({hit})"
        return Violation(rules[0], str(key), message)
    if (whitelist or not namespaced) and _first(whitelist, key) is None:
        message = (
            f"{key}: {scope}kind {key.group_kind} is not in project {name}'s {rules[1]} "
            f"({_listed(whitelist)})"
        )
        return Violation(rules[1], str(key), message)
    return None


def kind_permitted(project: ProjectSpec, key: ResourceKey, namespaced: bool) -> bool:
    """Whether the project lets its apps deploy objects of this kind."""
    return _kind_violation(project, key, namespaced) is None


def _namespace_violation(project: ProjectSpec, cluster: str, key: ResourceKey) -> Violation | None:
    """A namespaced object's namespace, and a Namespace object's name, must be destinations."""
    namespace = key.name if (key.group, key.kind) == ("", "Namespace") else key.namespace
    if not namespace:
        return None
    why = destination_denial(project, cluster, namespace)
    if not why:
        return None
    message = f"{key}: namespace {namespace} on cluster {cluster} is {why}"
    return Violation(Rule.DESTINATIONS, str(key), message)


def _object_violations(
    project: ProjectSpec, cluster: str, obj: Mapping[str, Any], scopes: Scopes
) -> list[Violation]:
    key = ResourceKey.of(obj)
    # A kind the caller could not scope is judged by what the object says about itself.
    namespaced = scopes.get((key.group, key.kind), bool(key.namespace))
    found = [
        _namespace_violation(project, cluster, key),
        _kind_violation(project, key, namespaced),
    ]
    return [v for v in found if v is not None]


def check(
    project: ProjectSpec, spec: AppSpec, objects: Iterable[Mapping[str, Any]], scopes: Scopes
) -> list[Violation]:
    """Everything the app and its rendered objects (hooks included) break, app rules first."""
    found = check_app(project, spec)
    for obj in objects:
        found.extend(_object_violations(project, spec.destination.cluster, obj, scopes))
    return found


def summary(project: ProjectSpec, violations: Sequence[Violation], limit: int = 10) -> str:
    """One message for many violations: the first `limit`, then how many more."""
    shown = "; ".join(v.message for v in violations[:limit])
    more = len(violations) - limit
    return f"project {project.name} refuses this: {shown}" + (
        f"; and {more} more" if more > 0 else ""
    )
