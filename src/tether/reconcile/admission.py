"""Projects at run time: reading an app's Project and turning its rules into refusals and an
identity for writes.

Before the orchestrator writes anything to a destination (a dry run included) it asks three things:
may this app be fetched and deployed at all (`ProjectStore.admit`: the Project is read from
tether's namespace, and its sources, destination and service account are checked), may these
rendered objects be applied (`enforce`), and as whom (`writer`). A refusal is a TargetError with
`Reason.PROJECT_DENIED`, stalled: only a change to the app or its Project can help. Sync windows
hold a sync back instead (`window_hold`): not stalled, since time alone opens them.

The `default` project is created, permitting everything, the first time an app needs it, so
installations from before Projects keep working unchanged; any other missing project is an error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tether import crds
from tether.cluster import errors as api_errors
from tether.cluster.api import KubeAPI
from tether.engine.conditions import Reason
from tether.engine.tracking import AppRef
from tether.model.app import DEFAULT_PROJECT, AppSpec
from tether.model.resources import Body, ResourceKey
from tether.model.targets import Targets
from tether.policy import accounts, violations, windows
from tether.policy import projectspecs as policies
from tether.policy.projectspecs import ProjectSpec
from tether.reconcile.targets import TargetError

KIND = "Project"
FIELD_MANAGER = "tether"


def manifest(namespace: str, name: str, spec: Mapping[str, Any]) -> Body:
    return {
        "apiVersion": crds.API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": dict(spec),
    }


def _denied(message: str) -> TargetError:
    return TargetError(Reason.PROJECT_DENIED, message, stalled=True)


class ProjectStore:
    """Projects in tether's namespace on the management cluster."""

    def __init__(self, kube: KubeAPI, namespace: str) -> None:
        self.kube = kube
        self.namespace = namespace

    async def get(self, name: str) -> Body | None:
        try:
            return await self.kube.get_or_none(crds.API_VERSION, KIND, name, self.namespace)
        except api_errors.UnknownResource:
            raise _denied(
                "the Project resource is not installed in this cluster; run `tether install`"
            ) from None
        except api_errors.ApiError as exc:
            raise TargetError(
                Reason.CLUSTER_UNAVAILABLE, f"cannot read project {name}: {exc}", stalled=False
            ) from exc

    async def list(self) -> list[Body]:
        return (await self.kube.list(crds.API_VERSION, KIND, self.namespace)).items

    async def apply(self, body: Body, field_manager: str) -> Body:
        return await self.kube.apply(body, field_manager=field_manager, force=True)

    async def delete(self, name: str) -> bool:
        return await self.kube.delete(crds.API_VERSION, KIND, name, self.namespace) is not None

    async def _create_default(self) -> Body:
        body = manifest(self.namespace, DEFAULT_PROJECT, policies.PERMISSIVE_SPEC)
        try:
            return await self.kube.create(body)
        except api_errors.AlreadyExists:  # another process created it first: use theirs
            return await self.kube.get(crds.API_VERSION, KIND, DEFAULT_PROJECT, self.namespace)
        except api_errors.ApiError as exc:
            raise TargetError(
                Reason.PROJECT_DENIED,
                f"cannot create the default project in {self.namespace}: {exc}",
                stalled=False,
            ) from exc

    async def spec(self, name: str) -> ProjectSpec:
        """The named project's rules; `default` is created on first use, any other missing
        project is an error."""
        body = await self.get(name)
        if body is None and name == DEFAULT_PROJECT:
            body = await self._create_default()
        if body is None:
            raise _denied(f"project {name} does not exist in namespace {self.namespace}")
        try:
            return policies.parse(name, body.get("spec") or {})
        except (ValueError, KeyError, TypeError) as exc:
            raise _denied(f"project {name} is invalid: {exc}") from None

    async def admit(self, spec: AppSpec) -> ProjectSpec:
        """The app's project, once it permits the app's sources, destination and identity
        (checked before anything is fetched, rendered or sent to the destination)."""
        project = await self.spec(spec.project)
        refuse(project, violations.check_app(project, spec))
        return project


def refuse(project: ProjectSpec, found: Sequence[violations.Violation]) -> None:
    if found:
        raise _denied(violations.summary(project, found))


def scopes_of(objects: Iterable[Body]) -> violations.Scopes:
    """Which kinds are namespaced, as targets.build decided: it leaves a namespace on exactly
    the objects of namespaced kinds (from discovery, or from CRDs in the same render)."""
    return {(key.group, key.kind): bool(key.namespace) for key in map(ResourceKey.of, objects)}


def enforce(project: ProjectSpec, spec: AppSpec, targets: Targets) -> None:
    """Refuse targets (hooks included) the project does not permit, before any dry run."""
    objects = (*targets.objects, *targets.hooks)
    refuse(project, violations.check(project, spec, objects, scopes_of(objects)))


def writer(project: ProjectSpec, spec: AppSpec, dest: KubeAPI) -> KubeAPI:
    """The client every write to the destination goes through: `dest` itself, or `dest`
    impersonating the project's service account for this destination."""
    try:
        account = accounts.service_account_for(
            project, spec.destination.cluster, spec.destination.namespace
        )
    except accounts.NoServiceAccount as exc:
        raise _denied(str(exc)) from None
    if account is None:
        return dest
    identity = accounts.identity(account)
    return dest.impersonating(identity.user, identity.groups)


@dataclass(frozen=True)
class WindowHold:
    """A sync the project's sync windows do not allow now, and when they will."""

    reason: str
    until: dt.datetime | None

    @property
    def message(self) -> str:
        if self.until is None:
            return self.reason
        return f"{self.reason}; syncing is allowed again at {self.until:%Y-%m-%dT%H:%M:%SZ}"


def window_hold(
    project: ProjectSpec, app: AppRef, spec: AppSpec, now: dt.datetime, manual: bool
) -> WindowHold | None:
    dest = spec.destination
    where = (project, app.name, dest.namespace, dest.cluster)
    verdict = windows.window_verdict(*where, now, manual)
    if verdict.allowed:
        return None
    until = windows.reopens_at(*where, now, manual)
    return WindowHold(verdict.reason, until.astimezone(dt.UTC) if until else None)


def refuse_outside_window(
    project: ProjectSpec, app: AppRef, spec: AppSpec, now: dt.datetime, manual: bool
) -> None:
    """A sync requested while the windows forbid it is refused (not stalled: time helps)."""
    hold = window_hold(project, app, spec, now, manual)
    if hold is not None:
        raise TargetError(Reason.PROJECT_DENIED, f"sync refused: {hold.message}", stalled=False)
