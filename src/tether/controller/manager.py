"""The controller process: its parts composed once, then run until told to stop.

Events become keys in one work queue: an Application changed (spec, annotations, operation), a
tracked live object changed (watch cache), a repository moved (poller or webhook), a bucket was
gained (sharding), the runtime configuration changed, or a periodic resync came due. Workers
reconcile keys one app at a time.

Everything is built in `__init__` from the connections and the options, and nothing is rewired
afterwards: the orchestrator reads the live configuration through a function, the reconciler
reads its options the same way, and the app index is handed to the AppStore as its observer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from tether import crds
from tether.audit.store import AuditLog
from tether.cluster import errors as api_errors
from tether.cluster.api import KubeAPI
from tether.controller import server, settings, webhooks
from tether.controller.appindex import AppIndex
from tether.controller.cache import DEFAULT_EXCLUDED, Caches
from tether.controller.events import EventRecorder
from tether.controller.fingerprints import Fingerprints
from tether.controller.gauges import Gauges
from tether.controller.metrics import Metrics
from tether.controller.polling import GitPoller, PolledSource
from tether.controller.queue import WorkQueue, run_workers
from tether.controller.reconciler import ReconcileOptions, Reconciler
from tether.controller.reflector import Key, Reflector
from tether.controller.routing import PushRouter
from tether.controller.sharding import Sharding, ShardingOptions, bucket_of
from tether.engine import dependencies
from tether.engine.operation import OperationState
from tether.engine.tracking import AppRef
from tether.model.resources import Body
from tether.reconcile.admission import ProjectStore
from tether.reconcile.apps import AppStore
from tether.reconcile.compare import DiffMemo
from tether.reconcile.orchestrator import Orchestrator
from tether.service.runtime import Connections
from tether.source import errors as source_errors

log = structlog.get_logger(__name__)
WEBHOOK_SECRET = "tether-webhook"


def default_identity() -> str:
    return f"{socket.gethostname().lower()}-{os.getpid()}".replace("_", "-").replace(".", "-")


@dataclass(frozen=True, kw_only=True)
class ControllerOptions:
    app_namespaces: tuple[str, ...] = ()  # empty: the runtime's namespace
    workers: int = 8
    resync_seconds: float = 180.0
    poll_seconds: float = 60.0
    observe_only: bool = False
    self_heal_backoff: float = 2.0
    debounce_seconds: float = 0.05
    listen: str = "127.0.0.1:8081"  # "" disables the HTTP endpoint
    identity: str = field(default_factory=default_identity)
    replicas: int = 1
    buckets: int = 16
    lease_seconds: int = 15
    excluded_kinds: frozenset[tuple[str, str]] = DEFAULT_EXCLUDED
    config_map: str = settings.CONFIG_MAP  # runtime configuration, watched; "" for none


def _interesting(old: Body | None, new: Body | None) -> bool:
    """Whether an Application event needs a reconcile: not for our own status writes."""
    if old is None or new is None:
        return True
    o, n = old.get("metadata") or {}, new.get("metadata") or {}
    return (
        o.get("generation") != n.get("generation")
        or o.get("annotations") != n.get("annotations")
        or o.get("labels") != n.get("labels")
        or bool(n.get("deletionTimestamp")) != bool(o.get("deletionTimestamp"))
        or old.get("operation") != new.get("operation")
    )


class WatchedProjects(ProjectStore):
    """Projects read from the controller's watch of them (one GET per sync was measured in the
    benchmark); the API is asked only for a project the watch has not seen (e.g. `default`
    before it exists, which the store then creates)."""

    def __init__(self, kube: KubeAPI, namespace: str, reflector: Reflector) -> None:
        super().__init__(kube, namespace)
        self.reflector = reflector

    async def get(self, name: str) -> Body | None:
        if self.reflector.synced.is_set():
            cached = self.reflector.store.get((self.namespace, name))
            if cached is not None:
                return cached  # type: ignore[no-any-return]
        return await super().get(name)


class Controller:
    def __init__(
        self,
        connections: Connections,
        options: ControllerOptions,
        audit: AuditLog | None = None,
        *,
        after_persist: Callable[[OperationState], None] = lambda _s: None,
    ) -> None:
        """`after_persist` is told after every operation-state write (crash-safety tests kill
        the process there)."""
        self.connections = connections
        self.options = options
        home = connections.settings.namespace
        self.namespaces = options.app_namespaces or (home,)
        self.metrics = Metrics()
        self.queue: WorkQueue[AppRef] = WorkQueue()
        self.index = AppIndex(connections.kube, self.namespaces, self._app_event)
        self.caches = Caches(self._tracked_changed, options.excluded_kinds)
        self.poller = GitPoller(
            connections.repos, options.poll_seconds, self._repo_moved, self.metrics
        )
        self.routes = PushRouter(self.index, self.poller, self.queue.add)
        self.projects = Reflector(
            connections.kube,
            crds.API_VERSION,
            "Project",
            namespace=home,
            on_event=self._project_event,
        )
        self.config = settings.ConfigWatch(
            connections.kube,
            home,
            settings.RuntimeConfig(
                resync_seconds=options.resync_seconds,
                observe_only=options.observe_only,
                health_rules=connections.settings.health_rules,
            ),
            self._configured,
            options.config_map,
        )
        self._config_generation = 0
        self._dependents: dict[AppRef, set[AppRef]] | None = None
        self.memos: dict[AppRef, DiffMemo] = {}
        self.store = AppStore(connections.kube, observe=self.index.observe)
        self.orchestrator = Orchestrator(
            self.store,
            connections.clusters,
            PolledSource(connections.repos, self.poller, self.metrics),
            WatchedProjects(connections.kube, home, self.projects),
            rules=lambda: self.config.current.health_rules,
            live_for=self.caches.for_cluster,
            memos=self.memos,
            after_persist=after_persist,
            apps=self._app_body,
        )
        self.events = EventRecorder(connections.kube, options.identity)
        self.sharding = Sharding(
            connections.kube,
            ShardingOptions(
                namespace=home,
                identity=options.identity,
                replicas=options.replicas,
                buckets=options.buckets,
                lease_duration=options.lease_seconds,
                app_namespaces=self.namespaces,
            ),
        )
        fingerprints = Fingerprints(
            self.poller,
            connections.repos,
            self.caches,
            self.projects,
            home,
            lambda: self._config_generation,
            self.index.lookup,
        )
        self.reconciler = Reconciler(
            self.orchestrator,
            self.store,
            self.index.lookup,
            self._owns,
            self.events,
            self.metrics,
            ReconcileOptions(self_heal_backoff=options.self_heal_backoff),
            config=lambda: self.config.current,
            inputs=fingerprints.of,
            audit=audit,
            fresh_sources=self._fresh_sources,
        )
        self.gauges = Gauges(
            self.metrics, lambda: len(self.queue), self.caches, connections.kube, self.memos
        )
        self._tasks: list[asyncio.Task[Any]] = []

    # ---- event sources -----------------------------------------------------------------------

    def _project_event(self, key: Key, old: Body | None, new: Body | None) -> None:
        """A Project changed: requeue its apps (a tightened rule must stop them, a new sync
        window may hold or release them)."""
        if old is not None and new is not None and old.get("spec") == new.get("spec"):
            return
        for ref, spec in self.index.specs():
            if spec.project == key[1]:
                self.queue.add(ref, debounce=self.options.debounce_seconds)

    async def _fresh_sources(self, app: Any) -> None:
        """Refresh the refs of every repository the app reads (a failure is the resolve's to
        report, with the usual reason)."""
        try:
            sources = app.spec.sources
        except (ValueError, KeyError, TypeError):
            return  # the operation reports the invalid spec
        for repo_url in {s.repo_url for s in sources}:
            with contextlib.suppress(source_errors.SourceError):
                await self.poller.refresh_now(repo_url)

    def _owns(self, ref: AppRef) -> bool:
        return self.sharding.owns(str(ref))

    def _app_event(self, key: Key, old: Body | None, new: Body | None) -> None:
        ref = AppRef(*key)
        if _interesting(old, new):
            self._dependents = None  # a spec may have changed its dependsOn
            self.queue.add(ref, debounce=self.options.debounce_seconds)
        if dependencies.readiness(old)[0] != dependencies.readiness(new)[0]:
            for dependent in self._dependents_of(ref):  # they may sync now, or must wait
                self.queue.add(dependent, debounce=self.options.debounce_seconds)

    def _dependents_of(self, ref: AppRef) -> set[AppRef]:
        """The apps whose dependsOn names `ref` (an index rebuilt after spec changes)."""
        if self._dependents is None:
            index: dict[AppRef, set[AppRef]] = {}
            for app, spec in self.index.specs():
                for dependency in dependencies.of(app, spec):
                    index.setdefault(dependency.ref, set()).add(app)
            self._dependents = index
        return self._dependents.get(ref, set())

    async def _app_body(self, ref: AppRef) -> Body | None:
        """An Application as the index holds it; one in a namespace this controller does not
        watch is read from the API."""
        if self.index.watches(ref.namespace):
            return self.index.lookup(ref)
        found = await self.store.get_or_none(ref)
        return found.body if found is not None else None

    def _tracked_changed(self, app: AppRef, _key: object) -> None:
        self.queue.add(app, debounce=self.options.debounce_seconds)

    def _repo_moved(self, repo_url: str) -> None:
        self.routes.repo_moved(repo_url)

    async def webhook_secrets(self) -> webhooks.WebhookSecrets:
        try:
            secret = await self.connections.kube.get(
                "v1", "Secret", WEBHOOK_SECRET, self.connections.settings.namespace
            )
        except api_errors.NotFound:
            return webhooks.WebhookSecrets()
        return webhooks.WebhookSecrets.from_secret_data(secret.get("data") or {})

    def _configured(self, _config: settings.RuntimeConfig) -> None:
        """A new runtime configuration is in force (read through `self.config.current`): every
        app is reconciled under it (a new generation makes each app's fingerprint stale, so its
        health is re-assessed)."""
        self._config_generation += 1
        for ref in self.index.refs():
            self.queue.add(ref)

    async def _follow_ownership(self) -> None:
        async for change in self.sharding.changes():
            if change.gained:
                for ref in self.index.refs():
                    if bucket_of(str(ref), self.options.buckets) in change.gained:
                        self.queue.add(ref)

    # ---- running -----------------------------------------------------------------------------

    def ready(self) -> bool:
        return self.index.ready()

    async def _listen(self) -> asyncio.Task[None]:
        app = server.build(self.metrics, self.ready, self.routes.on_push, self.webhook_secrets)
        return await server.serve(app, self.options.listen)

    async def run(self, stop: asyncio.Event) -> None:
        structlog.contextvars.bind_contextvars(replica=self.options.identity)  # on every log line
        log.info(
            "controller starting",
            identity=self.options.identity,
            namespaces=list(self.namespaces),
            replicas=self.options.replicas,
            observe_only=self.options.observe_only,
        )
        self.index.start()
        self.projects.start()
        await self.index.wait_synced(120)
        await self.config.start()
        await self.sharding.start()
        self._tasks = [
            asyncio.create_task(
                run_workers(self.queue, self.reconciler.reconcile, self.options.workers)
            ),
            asyncio.create_task(self.poller.run()),
            asyncio.create_task(self.gauges.run()),
            asyncio.create_task(self._follow_ownership()),
        ]
        if self.options.listen:
            self._tasks.append(await self._listen())
        for ref in self.index.refs():
            self.queue.add(ref)
        log.info("controller running", apps=len(self.index))
        await stop.wait()
        await self.shutdown()

    async def shutdown(self) -> None:
        self.queue.shutdown()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.sharding.stop()
        await self.config.aclose()
        await self.events.flush()
        await asyncio.gather(self.index.aclose(), self.projects.aclose())
        await self.caches.aclose()
        log.info("controller stopped")
