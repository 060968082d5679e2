"""Project use cases: create, inspect, list and delete Projects, and widen what one permits.

Projects live in tether's namespace (the runtime's `Settings.namespace`), read and written through
the orchestrator's ProjectStore so the CLI and the controller agree on where they are. Edits of
a list (`add_destination`, `add_source`) replace the object with its resourceVersion and retry
on a conflict, so two edits at once never lose one another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tether.cluster import errors as api_errors
from tether.model.resources import Body
from tether.policy import projectspecs as policies
from tether.reconcile import admission as stored
from tether.reconcile.admission import ProjectStore
from tether.reconcile.targets import TargetError
from tether.service.apps import UseCaseError
from tether.service.runtime import Runtime

FIELD_MANAGER = "tether-cli"
_ATTEMPTS = 3


@dataclass(frozen=True, kw_only=True)
class CreateOptions:
    name: str
    description: str = ""
    source_repos: tuple[str, ...] = ()
    destinations: tuple[tuple[str, str], ...] = ()  # (cluster, namespace) globs
    upsert: bool = False


def parse_destination(text: str) -> tuple[str, str]:
    """'CLUSTER,NAMESPACE' (Argo CD's `--dest` form) -> (cluster, namespace)."""
    cluster, sep, namespace = text.partition(",")
    if not sep or not cluster or not namespace:
        raise UseCaseError(f"destination must be CLUSTER,NAMESPACE (globs allowed), got {text!r}")
    return cluster, namespace


def project_spec(opts: CreateOptions) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "sourceRepos": list(opts.source_repos),
        "destinations": [{"cluster": c, "namespace": n} for c, n in opts.destinations],
    }
    if opts.description:
        spec["description"] = opts.description
    return spec


def _store(rt: Runtime) -> ProjectStore:
    return rt.projects


async def _existing(rt: Runtime, name: str) -> Body | None:
    try:
        return await _store(rt).get(name)
    except TargetError as exc:  # not installed, or unreadable
        raise UseCaseError(exc.message) from None


async def get(rt: Runtime, name: str) -> Body:
    body = await _existing(rt, name)
    if body is None:
        raise UseCaseError(f"project {name} not found in namespace {rt.settings.namespace}")
    return body


async def list_projects(rt: Runtime) -> list[Body]:
    return sorted(await _store(rt).list(), key=lambda b: str(b["metadata"]["name"]))


def _validated(name: str, spec: dict[str, Any]) -> None:
    try:
        policies.parse(name, spec)
    except Exception as exc:  # specs come from clients (API): any parse failure is theirs
        raise UseCaseError(f"project {name} would be invalid: {exc}") from None


async def create(rt: Runtime, opts: CreateOptions) -> Body:
    """Create a Project (a no-op when it exists with the same spec; --upsert replaces it)."""
    return await create_spec(rt, opts.name, project_spec(opts), opts.upsert)


async def create_spec(rt: Runtime, name: str, spec: dict[str, Any], upsert: bool = False) -> Body:
    """Create a Project from a whole spec (Argo CD's AppProject fields)."""
    _validated(name, spec)
    body = stored.manifest(rt.settings.namespace, name, spec)
    existing = await _existing(rt, name)
    if existing is not None and not upsert:
        if (existing.get("spec") or {}) == spec:
            return existing
        raise UseCaseError(
            f"project {name} exists with a different spec; use --upsert to replace it"
        )
    return await _store(rt).apply(body, FIELD_MANAGER)


async def replace_spec(rt: Runtime, name: str, spec: dict[str, Any]) -> Body:
    """Replace an existing Project's spec (guarded by its resourceVersion, retried on conflict)."""

    def put(current: dict[str, Any]) -> bool:
        if current == spec:
            return False
        current.clear()
        current.update(spec)
        return True

    return await _edit(rt, name, put)


async def delete(rt: Runtime, name: str) -> None:
    """Delete a Project no Application in tether's namespace still uses."""
    await get(rt, name)
    users = [
        a.ref.name
        for a in await rt.store.list(rt.settings.namespace)
        if (a.raw_spec.get("project") or "default") == name
    ]
    if users:
        raise UseCaseError(
            f"project {name} is used by {len(users)} application(s): {', '.join(sorted(users))}"
        )
    await _store(rt).delete(name)


async def _edit(rt: Runtime, name: str, change: Callable[[dict[str, Any]], bool]) -> Body:
    """Apply `change` to the Project's spec (it returns False when there is nothing to do) and
    write it back, guarded by the resourceVersion it was read at."""
    for _ in range(_ATTEMPTS):
        body = await get(rt, name)
        spec = body.setdefault("spec", {})
        if not change(spec):
            return body
        _validated(name, spec)
        try:
            return await rt.kube.replace(body)
        except api_errors.Conflict:
            continue  # someone else changed it in between: read it again
    raise UseCaseError(f"project {name} kept changing while being edited; try again")


async def add_destination(rt: Runtime, name: str, cluster: str, namespace: str) -> Body:
    entry = {"cluster": cluster, "namespace": namespace}

    def add(spec: dict[str, Any]) -> bool:
        destinations = spec.setdefault("destinations", [])
        if entry in destinations:
            return False
        destinations.append(entry)
        return True

    return await _edit(rt, name, add)


async def add_source(rt: Runtime, name: str, repo: str) -> Body:
    def add(spec: dict[str, Any]) -> bool:
        repos = spec.setdefault("sourceRepos", [])
        if repo in repos:
            return False
        repos.append(repo)
        return True

    return await _edit(rt, name, add)
