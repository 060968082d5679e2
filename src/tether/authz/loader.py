"""Loading the policy from the cluster: the ConfigMap `tether-rbac` and the Project objects.

The API server asks `PolicyLoader.authorizer()` on every request. The answer is kept for a few
seconds (`ttl_seconds`), so a policy change takes effect that quickly without a watch, and is
rebuilt only when what was read differs from the last time.

Failing closed: a policy with an unusable line gives an authorizer that allows nothing and says
why (`Authorizer.error`), rather than the last good policy, because the edit that broke it may
have been the one revoking someone's access. An API server that cannot be read keeps the last
policy it read: that is an outage, not an edit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from tether import crds
from tether.authz import projectroles
from tether.authz.authorizer import Authorizer
from tether.authz.policies import PolicyError
from tether.cluster import errors as api_errors
from tether.cluster.client import KubeClient
from tether.model.resources import Body

log = structlog.get_logger(__name__)
CONFIG_MAP = "tether-rbac"
POLICY_KEY = "policy.csv"
DEFAULT_ROLE_KEY = "policy.default"


@dataclass(frozen=True, kw_only=True)
class LoaderOptions:
    namespace: str = "tether"  # where the ConfigMap and the Projects live
    config_map: str = CONFIG_MAP
    ttl_seconds: float = 3.0
    project_api_version: str = crds.API_VERSION
    project_kind: str = "Project"
    absent_recheck_seconds: float = 60.0  # how often to look again for a missing Project CRD


@dataclass(frozen=True)
class Inputs:
    """Everything an Authorizer is built from; equal inputs, equal authorizer."""

    policy_csv: str
    default_role: str
    project_lines: tuple[str, ...]


def build(inputs: Inputs) -> Authorizer:
    """The authorizer for these inputs; one that allows nothing if a line is unusable."""
    try:
        return Authorizer.from_config(inputs.policy_csv, inputs.default_role, inputs.project_lines)
    except PolicyError as exc:
        log.error("RBAC policy rejected: nothing is allowed until it is fixed", error=str(exc))
        return Authorizer.deny_all(f"RBAC policy rejected: {exc}")


class PolicyLoader:
    def __init__(
        self,
        kube: KubeClient,
        options: LoaderOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kube = kube
        self.options = options or LoaderOptions()
        self.clock = clock
        self._lock = asyncio.Lock()
        self._current: tuple[Inputs, Authorizer] | None = None
        self._read_at = float("-inf")
        self._projects: tuple[tuple[tuple[str, str], ...], tuple[str, ...]] = ((), ())
        self._projects_absent_at = float("-inf")

    async def authorizer(self) -> Authorizer:
        """The current policy's authorizer, read again when older than ttl_seconds."""
        async with self._lock:
            if self._current is None or self.clock() - self._read_at >= self.options.ttl_seconds:
                await self._refresh()
            assert self._current is not None
            return self._current[1]

    async def _refresh(self) -> None:
        try:
            inputs = await self._read()
        except (api_errors.ApiError, OSError) as exc:
            if self._current is None:
                raise
            log.warning("RBAC policy not re-read; keeping the last one", error=str(exc))
            self._read_at = self.clock()
            return
        self._read_at = self.clock()
        if self._current is None or self._current[0] != inputs:
            self._current = (inputs, build(inputs))

    async def _read(self) -> Inputs:
        config, lines = await asyncio.gather(self._config_map(), self._project_lines())
        data = config.get("data") or {}
        return Inputs(
            str(data.get(POLICY_KEY) or ""), str(data.get(DEFAULT_ROLE_KEY) or "").strip(), lines
        )

    async def _config_map(self) -> Body:
        body = await self.kube.get_or_none(
            "v1", "ConfigMap", self.options.config_map, self.options.namespace
        )
        return body or {}

    async def _project_lines(self) -> tuple[str, ...]:
        """The roles of every Project; recomputed only when a Project changed."""
        if self.clock() - self._projects_absent_at < self.options.absent_recheck_seconds:
            return ()
        try:
            listed = await self.kube.list(
                self.options.project_api_version,
                self.options.project_kind,
                self.options.namespace,
            )
        except api_errors.UnknownResource:
            log.info("no Project resource in the cluster: no project roles")
            self._projects_absent_at = self.clock()
            return ()
        versions = tuple(sorted(_version(p) for p in listed.items))
        if versions != self._projects[0]:
            by_name = sorted(listed.items, key=lambda p: _version(p)[0])
            lines = tuple(line for p in by_name for line in projectroles.roles_from_project(p))
            self._projects = (versions, lines)
        return self._projects[1]


def _version(body: Body) -> tuple[str, str]:
    meta = body.get("metadata") or {}
    return str(meta.get("name", "")), str(meta.get("resourceVersion", ""))
