"""The controller process: informers, caches, Git polling, webhooks, workers — wired together.

Events become keys in one work queue: an Application changed (spec, annotations, operation), a
tracked live object changed (watch cache), a repository moved (poller or webhook), a bucket was
gained (sharding), or a periodic resync came due. Workers reconcile keys one app at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import structlog
import uvicorn

from tether import crds
from tether.audit.store import AuditLog
from tether.cluster import errors as api_errors
from tether.cluster.client import KubeClient
from tether.controller import server, settings, webhooks
from tether.controller.cache import DEFAULT_EXCLUDED, Caches
from tether.controller.events import EventRecorder
from tether.controller.metrics import Metrics
from tether.controller.polling import GitPoller, PolledSource
from tether.controller.queue import WorkQueue, run_workers
from tether.controller.reconciler import ReconcileOptions, Reconciler
from tether.controller.reflector import Key, Reflector
from tether.controller.sharding import Sharding, ShardingOptions, bucket_of
from tether.engine.tracking import AppRef
from tether.model.app import AppSpec, Source
from tether.model.resources import Body
from tether.reconcile.apps import Application
from tether.reconcile.compare import DiffMemo
from tether.reconcile.engine import Engine
from tether.reconcile.projects import ProjectStore
from tether.service.runtime import Runtime
from tether.source import errors as source_errors
from tether.source import refs as source_refs

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

    def __init__(self, kube: KubeClient, namespace: str, reflector: Reflector) -> None:
        super().__init__(kube, namespace)
        self.reflector = reflector

    async def get(self, name: str) -> Body | None:
        if self.reflector.synced.is_set():
            cached = self.reflector.store.get((self.namespace, name))
            if cached is not None:
                return cached  # type: ignore[no-any-return]
        return await super().get(name)


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside our event loop: signals belong to the controller, not to the server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Controller:
    def __init__(
        self, runtime: Runtime, options: ControllerOptions, audit: AuditLog | None = None
    ) -> None:
        self.runtime = runtime
        self.options = options
        self.metrics = Metrics()
        self.queue: WorkQueue[AppRef] = WorkQueue()
        self.namespaces = options.app_namespaces or (runtime.settings.namespace,)
        self.caches = Caches(self._tracked_changed, options.excluded_kinds)
        self.poller = GitPoller(runtime.repos, options.poll_seconds, self._repo_moved, self.metrics)
        self.projects = Reflector(
            runtime.kube,
            crds.API_VERSION,
            "Project",
            namespace=runtime.settings.namespace,
            on_event=self._project_event,
        )
        self.engine = Engine(
            runtime.store,
            runtime.clusters,
            PolledSource(runtime.repos, self.poller, self.metrics),
            runtime.settings.health_rules,
            live_for=self.caches.for_cluster,
            memos={},
            projects=WatchedProjects(runtime.kube, runtime.settings.namespace, self.projects),
        )
        self.events = EventRecorder(runtime.kube, options.identity)
        self.sharding = Sharding(
            runtime.kube,
            ShardingOptions(
                namespace=runtime.settings.namespace,
                identity=options.identity,
                replicas=options.replicas,
                buckets=options.buckets,
                lease_duration=options.lease_seconds,
            ),
        )
        self.reconciler = Reconciler(
            self.engine,
            runtime.store,
            self._lookup,
            self._owns,
            self.events,
            self.metrics,
            ReconcileOptions(
                resync_seconds=options.resync_seconds,
                observe_only=options.observe_only,
                self_heal_backoff=options.self_heal_backoff,
            ),
            inputs=self._inputs,
            audit=audit,
            fresh_sources=self._fresh_sources,
        )
        self.apps: dict[str, Reflector] = {
            ns: Reflector(
                runtime.kube,
                crds.API_VERSION,
                "Application",
                namespace=ns,
                on_event=self._app_event,
            )
            for ns in self.namespaces
        }
        runtime.store.observe = self._observe_app
        self.config = settings.ConfigWatch(
            runtime.kube,
            runtime.settings.namespace,
            settings.RuntimeConfig(
                resync_seconds=options.resync_seconds,
                observe_only=options.observe_only,
                health_rules=runtime.settings.health_rules,
            ),
            self._configure,
            options.config_map,
        )
        self._config_generation = 0
        self._tasks: list[asyncio.Task[Any]] = []
        self._dry_runs_counted = 0

    # ---- event sources -----------------------------------------------------------------------

    def _lookup(self, ref: AppRef) -> Body | None:
        reflector = self.apps.get(ref.namespace)
        return reflector.store.get((ref.namespace, ref.name)) if reflector else None

    def _inputs(self, app: Application) -> tuple[object, ...] | None:
        """Everything a settled app's comparison depends on that can move: its spec (generation),
        annotations, an operation request, what its sources hold, and its tracked objects."""
        try:
            spec = app.spec
        except (ValueError, KeyError, TypeError):
            return None
        meta = app.body["metadata"]
        cache = self.caches.all().get(spec.destination.cluster)
        return (
            meta.get("generation"),
            tuple(sorted((meta.get("annotations") or {}).items())),
            app.operation is not None,
            tuple(self._source_input(s, app.annotations) for s in spec.sources),
            cache.app_changes.get(app.ref, 0) if cache is not None else None,
            self._config_generation,
            self._project_version(spec.project),
        )

    def _project_version(self, name: str) -> str:
        body = self.projects.store.get((self.runtime.settings.namespace, name))
        return str((body or {}).get("metadata", {}).get("resourceVersion", ""))

    def _project_event(self, key: Key, old: Body | None, new: Body | None) -> None:
        """A Project changed: requeue its apps (a tightened rule must stop them, a new sync
        window may hold or release them)."""
        if old is not None and new is not None and old.get("spec") == new.get("spec"):
            return
        for ref, spec, _ in self._app_specs():
            if spec.project == key[1]:
                self.queue.add(ref, debounce=self.options.debounce_seconds)

    async def _fresh_sources(self, app: Application) -> None:
        """Refresh the refs of every repository the app reads (a failure is the resolve's to
        report, with the usual reason)."""
        try:
            sources = app.spec.sources
        except (ValueError, KeyError, TypeError):
            return  # the operation reports the invalid spec
        for repo_url in {s.repo_url for s in sources}:
            with contextlib.suppress(source_errors.SourceError):
                await self.poller.refresh_now(repo_url)

    def _source_input(self, source: Source, annotations: Mapping[str, str]) -> object:
        """What a source holds for this app: with manifest-generate-paths, the content ids of those
        paths at the resolved commit (a push elsewhere in a monorepo changes nothing here);
        otherwise the repository's ref generation."""
        failed = source.repo_url in self.poller.failures
        generation = self.poller.generation.get(source.repo_url, 0)
        refs = self.poller.refs.get(source.repo_url)
        paths = webhooks.generate_paths(annotations, source.path)
        if failed or not refs or not paths or any(c in p for p in paths for c in "*?["):
            return (failed, generation)
        sha = source_refs.resolve(source.target_revision, refs)
        ids = self.runtime.repos.path_ids(source.repo_url, sha, paths) if sha else None
        return (failed, ids) if ids is not None else (failed, generation)

    def _observe_app(self, body: Body) -> None:
        reflector = self.apps.get(str((body.get("metadata") or {}).get("namespace", "")))
        if reflector is not None:
            reflector.observe(body)

    def _owns(self, ref: AppRef) -> bool:
        return self.sharding.owns(str(ref))

    def _app_event(self, key: Key, old: Body | None, new: Body | None) -> None:
        if _interesting(old, new):
            self.queue.add(AppRef(*key), debounce=self.options.debounce_seconds)

    def _tracked_changed(self, app: AppRef, _key: object) -> None:
        self.queue.add(app, debounce=self.options.debounce_seconds)

    def _repo_moved(self, repo_url: str) -> None:
        key = webhooks.repo_key(repo_url)
        for ref, spec, _ in self._app_specs():
            if any(webhooks.repo_key(s.repo_url) == key for s in spec.sources):
                self.queue.add(ref)

    def _app_specs(self) -> Iterable[tuple[AppRef, AppSpec, dict[str, str]]]:
        for reflector in self.apps.values():
            for body in list(reflector.store.values()):
                app = Application(body)
                try:
                    yield app.ref, app.spec, dict(app.annotations)
                except (ValueError, KeyError, TypeError):
                    continue

    async def on_push(self, push: webhooks.PushEvent) -> int:
        affected = webhooks.affected(push, self._app_specs())
        direct = set(self._touched(push, affected))
        repos = {
            s.repo_url
            for ref, spec, _ in self._app_specs()
            if ref in affected
            for s in spec.sources
            if webhooks.repo_key(s.repo_url) in push.repo_urls
        }
        for repo_url in repos:
            with contextlib.suppress(Exception):
                await self.poller.refresh_now(repo_url, notify=False)
        for ref in sorted(affected, key=lambda r: r not in direct):
            self.queue.add(ref)  # apps whose own paths the push touched go first
        log.info("webhook push", provider=str(push.provider), ref=push.ref, refreshed=len(affected))
        return len(affected)

    def _touched(self, push: webhooks.PushEvent, refs: list[AppRef]) -> Iterable[AppRef]:
        """Of the affected apps, those whose own source paths the push changed."""
        if push.changed_paths is None:
            return []
        wanted = set(refs)
        return [
            ref
            for ref, spec, _ in self._app_specs()
            if ref in wanted
            and any(
                p == s.path.strip("/") or p.startswith(s.path.strip("/") + "/")
                for s in spec.sources
                for p in push.changed_paths
            )
        ]

    async def webhook_secrets(self) -> webhooks.WebhookSecrets:
        try:
            secret = await self.runtime.kube.get(
                "v1", "Secret", WEBHOOK_SECRET, self.runtime.settings.namespace
            )
        except api_errors.NotFound:
            return webhooks.WebhookSecrets()
        return webhooks.WebhookSecrets.from_secret_data(secret.get("data") or {})

    def _configure(self, config: settings.RuntimeConfig) -> None:
        """Put a new runtime configuration in force, and have every app reconciled under it
        (a new generation makes each app's settled inputs stale, so its health is re-assessed)."""
        self.engine.rules = config.health_rules
        self.reconciler.options = replace(
            self.reconciler.options,
            resync_seconds=config.resync_seconds,
            observe_only=config.observe_only,
        )
        self._config_generation += 1
        for ref, _, _ in self._app_specs():
            self.queue.add(ref)

    async def _follow_ownership(self) -> None:
        async for change in self.sharding.changes():
            if change.gained:
                for ref, _, _ in self._app_specs():
                    if bucket_of(str(ref), self.options.buckets) in change.gained:
                        self.queue.add(ref)

    # ---- running -----------------------------------------------------------------------------

    def ready(self) -> bool:
        return all(r.synced.is_set() for r in self.apps.values())

    async def _update_gauges(self) -> None:
        while True:
            self.metrics.queue_depth.set(len(self.queue))
            for name, cache in self.caches.all().items():
                tracked = cache.tracked()
                self.metrics.cache_objects.labels(name, "full").set(tracked)
                self.metrics.cache_objects.labels(name, "light").set(cache.objects() - tracked)
            for (method, resource), count in self.runtime.kube.request_counts.items():
                self.metrics.api_requests.labels(method, resource).set(count)
            counted = sum(m.dry_runs for m in self._memos().values())
            self.metrics.dry_runs.inc(max(counted - self._dry_runs_counted, 0))
            self._dry_runs_counted = counted
            await asyncio.sleep(5)

    def _memos(self) -> dict[AppRef, DiffMemo]:
        return self.engine.memos or {}

    async def _listen(self) -> asyncio.Task[None]:
        """Serve HTTP in the background; a port that cannot be bound stops the start-up."""
        host, _, port = self.options.listen.rpartition(":")
        app = server.build(self.metrics, self.ready, self.on_push, self.webhook_secrets)
        config = uvicorn.Config(
            app, host=host or "127.0.0.1", port=int(port), log_level="warning", lifespan="off"
        )
        http = _EmbeddedServer(config)
        task = asyncio.create_task(http.serve())
        while not http.started:
            if task.done():
                raise RuntimeError(f"cannot listen on {self.options.listen} (address in use?)")
            await asyncio.sleep(0.02)
        return task

    async def run(self, stop: asyncio.Event) -> None:
        structlog.contextvars.bind_contextvars(replica=self.options.identity)  # on every log line
        log.info(
            "controller starting",
            identity=self.options.identity,
            namespaces=list(self.namespaces),
            replicas=self.options.replicas,
            observe_only=self.options.observe_only,
        )
        for reflector in [*self.apps.values(), self.projects]:
            reflector.start()
        await asyncio.gather(*(r.wait_synced(120) for r in self.apps.values()))
        await self.config.start()
        await self.sharding.start()
        self._tasks = [
            asyncio.create_task(
                run_workers(self.queue, self.reconciler.reconcile, self.options.workers)
            ),
            asyncio.create_task(self.poller.run()),
            asyncio.create_task(self._update_gauges()),
            asyncio.create_task(self._follow_ownership()),
        ]
        if self.options.listen:
            self._tasks.append(await self._listen())
        for ref, _, _ in self._app_specs():
            self.queue.add(ref)
        log.info("controller running", apps=sum(len(r.store) for r in self.apps.values()))
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
        await asyncio.gather(*(r.aclose() for r in [*self.apps.values(), self.projects]))
        await self.caches.aclose()
        log.info("controller stopped")
