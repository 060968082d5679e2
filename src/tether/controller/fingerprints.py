"""What a settled app's comparison depends on, as one comparable value (its fingerprint).

A resync of an app whose fingerprint has not changed since its last settled refresh costs
nothing: its spec (generation), annotations, operation request, what its sources hold, its tracked
objects, the runtime configuration and its Project are all as they were. Anything that moves one
of them moves the fingerprint, and the app is compared again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from tether.controller import webhooks
from tether.controller.cache import Caches
from tether.controller.polling import GitPoller
from tether.controller.reflector import Reflector
from tether.engine import dependencies
from tether.engine.tracking import AppRef
from tether.model.app import Source
from tether.model.resources import Body
from tether.reconcile.apps import Application
from tether.source import refs as source_refs
from tether.source.repositories import Repositories

Fingerprint = tuple[object, ...]


class Fingerprints:
    def __init__(
        self,
        poller: GitPoller,
        repos: Repositories,
        caches: Caches,
        projects: Reflector,
        namespace: str,  # where Projects live
        configuration: Callable[[], int],  # a number that moves with the runtime configuration
        apps: Callable[[AppRef], Body | None] = lambda _ref: None,  # other Applications, as known
    ) -> None:
        self.poller = poller
        self.repos = repos
        self.caches = caches
        self.projects = projects
        self.namespace = namespace
        self.configuration = configuration
        self.apps = apps

    def of(self, app: Application) -> Fingerprint | None:
        """None when there is no way to tell (an invalid spec: always compare)."""
        try:
            spec = app.spec
        except (ValueError, KeyError, TypeError):
            return None
        meta = app.metadata
        cache = self.caches.all().get(spec.destination.cluster)
        return (
            meta.get("generation"),
            tuple(sorted((meta.get("annotations") or {}).items())),
            app.operation is not None,
            tuple(self._source(s, app.annotations) for s in spec.sources),
            cache.app_changes.get(app.ref, 0) if cache is not None else None,
            self.configuration(),
            self._project_version(spec.project),
            dependencies.fingerprint(app.ref, spec, self.apps) if spec.depends_on else (),
        )

    def _project_version(self, name: str) -> str:
        body = self.projects.store.get((self.namespace, name))
        return str((body or {}).get("metadata", {}).get("resourceVersion", ""))

    def _source(self, source: Source, annotations: Mapping[str, str]) -> object:
        """What a source holds for this app: with manifest-generate-paths, the content ids of
        those paths at the resolved commit (a push elsewhere in a monorepo changes nothing
        here); otherwise the repository's ref generation."""
        failed = source.repo_url in self.poller.failures
        generation = self.poller.generation.get(source.repo_url, 0)
        refs = self.poller.refs.get(source.repo_url)
        paths = webhooks.generate_paths(annotations, source.path)
        if failed or not refs or not paths or any(c in p for p in paths for c in "*?["):
            return (failed, generation)
        sha = source_refs.resolve(source.target_revision, refs)
        ids = self.repos.path_ids(source.repo_url, sha, paths) if sha else None
        return (failed, ids) if ids is not None else (failed, generation)
